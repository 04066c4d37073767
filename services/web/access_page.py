"""The citizen's page of accesses to their data, `/me/access`: one template, its texts in Catalan, Spanish and
English (`translations/access.*.json`), its script and style sheet. The page holds no data of the citizen: its
script reads them from the API with the citizen's token (`services/interop/access_router.py`)."""

import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from segell.services.languages import LANGUAGES
from segell.services.web import pages

_HERE: Final = Path(__file__).parent
_PLACEHOLDER: Final = re.compile(r"\{\{(t\.)?([a-z0-9_]+)\}\}")

site = APIRouter(include_in_schema=False)


@cache
def translations() -> dict[str, dict[str, str]]:
    return {
        language: json.loads((_HERE / "translations" / f"access.{language}.json").read_text(encoding="utf-8"))
        for language in LANGUAGES
    }


@cache
def _template() -> str:
    return (_HERE / "templates" / "access.html").read_text(encoding="utf-8")


def render_access_page(language: str) -> str:
    texts = translations()[language]
    assets = pages.static_files()
    values = {
        "lang": language,
        "js_version": assets["access.js"].etag,
        "css_version": assets["access.css"].etag,
        "verify_css_version": assets["verify.css"].etag,
    }
    for other in LANGUAGES:
        values[f"current_{other}"] = 'aria-current="true"' if other == language else ""

    def substitute(match: re.Match[str]) -> str:
        is_text, key = match.group(1), match.group(2)
        if key == "i18n_json":
            # Inside <script type="application/json">, only "</" could end the element early.
            return json.dumps(translations(), ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        if key.startswith("current_"):
            return values[key]
        return html.escape(texts[key] if is_text else values[key])

    return _PLACEHOLDER.sub(substitute, _template())


@site.get("/me/access", response_class=HTMLResponse)
def access_page(request: Request, lang: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """Who accessed the citizen's data; their documents' once-only requests, to preview and consent to."""
    language = pages.choose_language(
        lang, request.cookies.get(pages.LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    response = HTMLResponse(render_access_page(language), headers=pages.PAGE_HEADERS)
    if lang is not None and lang == language:
        pages.remember_language(response, language)
    return response
