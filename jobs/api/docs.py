"""The interactive API docs at /api/v1/docs: Swagger UI from our own static files, under the site's CSP.

Ninja's Swagger page loads Swagger UI from a CDN (blank without internet) and starts it with an
inline script, which our Content-Security-Policy forbids. This page uses the copy vendored by
scripts/vendor.sh and a static init script that reads its settings from a JSON data block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.openapi.docs import Swagger

if TYPE_CHECKING:
    from ninja import NinjaAPI


class LocalSwagger(Swagger):
    template = "api/docs.html"
    default_settings = {
        "layout": "BaseLayout",
        "deepLinking": True,
        "validatorUrl": None,  # else Swagger UI asks validator.swagger.io about the schema
    }

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        return render(request, self.template, {"api": api, "swagger_settings": settings})
