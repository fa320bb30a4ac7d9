"""ASGI entry point served by daphne: HTTP (with static files) and the dashboard's WebSockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from jobs.dbguard import configure_web_process  # noqa: E402

configure_web_process()  # a request waits a few seconds for a database lock, then answers 503

from channels.auth import AuthMiddlewareStack  # noqa: E402 - Django must be set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from dashboard.routing import websocket_urlpatterns  # noqa: E402

# daphne serves no static files, and Django's own serving needs DEBUG=True. This handler answers
# only STATIC_URL paths (from the app and STATICFILES_DIRS finders, no collectstatic) and passes
# everything else on, so one daphne process is a complete server for the admin's CSS and the
# dashboard's scripts. Behind a real proxy, run collectstatic and let the proxy serve STATIC_ROOT.
# WebSockets: the session cookie identifies the user (consumers refuse anonymous ones), and the
# Origin header must name an ALLOWED_HOSTS host, so another site's page cannot open them.
application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
