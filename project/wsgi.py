"""WSGI entry point (the product serves through daphne/ASGI; this is for plain WSGI hosts)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

from jobs.dbguard import configure_web_process  # noqa: E402 - Django must be set up first

configure_web_process()  # a request waits a few seconds for a database lock, then answers 503
