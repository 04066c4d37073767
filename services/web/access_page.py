"""The citizen's page of accesses to their data, `/me/access`: one template, its texts in Catalan, Spanish and
English (`translations/access.*.json`), its script and style sheet. The page holds no data of the citizen: its
script reads them from the API with the citizen's token (`services/interop/access_router.py`)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from segell.services.web import pages

site = APIRouter(include_in_schema=False)


def translations() -> dict[str, dict[str, str]]:
    return pages.page_texts("access")


def render_access_page(language: str) -> str:
    texts = translations()[language]
    assets = pages.static_files()
    values = {
        "lang": language,
        "js_version": assets["access.js"].etag,
        "css_version": assets["access.css"].etag,
        "verify_css_version": assets["verify.css"].etag,
    }
    links = pages.language_links(language)
    values |= links | {"i18n_json": pages.json_for_script(translations())}
    raw = {"i18n_json", *(key for key in links if key.startswith("current_"))}
    return pages.fill_template("access.html", texts, values, raw)


@site.get("/me/access", response_class=HTMLResponse)
def access_page(request: Request, lang: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """Who accessed the citizen's data; their documents' once-only requests, to preview and consent to."""
    language = pages.request_language(request, lang)
    return pages.html_page(request, lang, language, render_access_page(language))
