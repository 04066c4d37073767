"""Swagger UI at /docs, served from files shipped with Segell under a strict Content-Security-Policy.

The sandbox may run with no internet at all, so the Swagger UI files come from `fastapi_offline`. FastAPI's own page
starts Swagger UI with an inline script, which a policy of ``script-src 'self'`` forbids: the page here loads the
same start-up code from `/docs/swagger-init.js` instead, so the browser runs no script but this server's files.
"""

import json
from importlib.resources import files
from typing import Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS: Final = "/static/swagger-ui"
INIT_SCRIPT: Final = "/docs/swagger-init.js"

# Everything the page loads comes from this server; no other site may frame it (clickjacking a "Try it out").
DOCS_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
<title>{title}</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init_script}"></script>
</body>
</html>
"""

_INIT: Final = """window.ui = SwaggerUIBundle({{
  url: {openapi_url},
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}});
"""


def serve_api_docs(app: FastAPI) -> None:
    """Add /docs, its start-up script and the Swagger UI files to `app`."""
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="swagger-ui")
    page = _PAGE.format(assets=ASSETS, title=f"{app.title} API", init_script=INIT_SCRIPT)
    init = _INIT.format(openapi_url=json.dumps(app.openapi_url or "/openapi.json"))

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(page, headers=DOCS_HEADERS)

    @app.get(INIT_SCRIPT, include_in_schema=False)
    def api_docs_init() -> Response:
        return Response(init, media_type="text/javascript; charset=utf-8", headers=DOCS_HEADERS)
