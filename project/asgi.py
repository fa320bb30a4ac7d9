"""ASGI entry point served by daphne: HTTP now, WebSockets for the live dashboard later."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402 - Django must be set up first
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

# daphne serves no static files, and Django's own serving needs DEBUG=True. This handler answers
# only STATIC_URL paths (from the app and STATICFILES_DIRS finders, no collectstatic) and passes
# everything else on, so one daphne process is a complete server for the admin's CSS and the
# dashboard's scripts. Behind a real proxy, run collectstatic and let the proxy serve STATIC_ROOT.
application = ProtocolTypeRouter({"http": ASGIStaticFilesHandler(django_asgi_app)})
