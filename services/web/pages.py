"""Rendering the verification page: one HTML template, its texts in Catalan, Spanish and English, two static files.

The template marks text as ``{{t.key}}`` (the key's translation, HTML-escaped) and values as ``{{name}}``. All three
translations travel with the page as JSON, so that switching language keeps a result on screen; the choice is kept
in a cookie, read here on the next visit. A first visit follows the browser's `Accept-Language`.

The result area (`templates/result.html`) comes right after the heading on a code's page (``/verify/{code}``, the
URL a QR code on a document leads to), so that a phone shows the answer on its first screen; on the plain page it
follows the two ways to check, which are what a visitor comes for.
"""

import hashlib
import html
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from segell.services.errors import NotFound
from segell.services.languages import DEFAULT_LANGUAGE, LANGUAGES, Language, parse_accept_language
from segell.services.notary import api as notary

LANGUAGE_COOKIE: Final = "segell_lang"
_ONE_YEAR: Final = 365 * 24 * 3600

_HERE: Final = Path(__file__).parent
_PLACEHOLDER: Final = re.compile(r"\{\{(t\.)?([a-z0-9_]+)\}\}")

# Everything the page loads comes from this server; the browser refuses anything else.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    # The language follows the cookie, else the browser's languages: a cache must keep one answer for each.
    "Vary": "Cookie, Accept-Language",
}

_STATIC_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    # Chart.js's licence travels with it (chart.js-LICENSE.md).
    ".md": "text/markdown; charset=utf-8",
}


@dataclass(frozen=True)
class StaticFile:
    content: bytes
    media_type: str
    etag: str


@cache
def translations() -> dict[str, dict[str, str]]:
    """The page's texts, and the notary's labels of the kinds of document (`kind_signed-pdf`, ...), by language."""
    texts: dict[str, dict[str, str]] = {
        language: json.loads((_HERE / "translations" / f"{language}.json").read_text(encoding="utf-8"))
        for language in LANGUAGES
    }
    for entry in notary.kinds():
        for language in LANGUAGES:
            texts[language][f"kind_{entry.kind}"] = entry.labels[language]
    return texts


@cache
def static_files() -> dict[str, StaticFile]:
    files = {}
    for path in sorted((_HERE / "static").iterdir()):
        if path.suffix in _STATIC_TYPES:
            content = path.read_bytes()
            files[path.name] = StaticFile(content, _STATIC_TYPES[path.suffix], hashlib.sha256(content).hexdigest()[:16])
    return files


@cache
def page_texts(name: str) -> dict[str, dict[str, str]]:
    """A page's texts by language, from ``translations/<name>.<language>.json``."""
    return {
        language: json.loads((_HERE / "translations" / f"{name}.{language}.json").read_text(encoding="utf-8"))
        for language in LANGUAGES
    }


@cache
def template(name: str) -> str:
    return (_HERE / "templates" / name).read_text(encoding="utf-8")


def fill_template(name: str, texts: dict[str, str], values: dict[str, str], raw: set[str]) -> str:
    """Template `name` with ``{{t.key}}`` as ``texts[key]`` and ``{{key}}`` as ``values[key]``, HTML-escaped
    unless the key is in `raw` (markup the caller built, or JSON for a script element)."""

    def substitute(match: re.Match[str]) -> str:
        is_text, key = match.group(1), match.group(2)
        if is_text:
            return html.escape(texts[key])
        return values[key] if key in raw else html.escape(values[key])

    return _PLACEHOLDER.sub(substitute, template(name))


def language_links(language: str, query: dict[str, str] | None = None) -> dict[str, str]:
    """``current_<lang>`` (raw markup: ``aria-current`` on the language shown) and ``href_<lang>`` (the same page
    in each language) for a page's language switcher."""
    links = {}
    for other in LANGUAGES:
        links[f"current_{other}"] = 'aria-current="true"' if other == language else ""
        links[f"href_{other}"] = "?" + urlencode({**(query or {}), "lang": other})
    return links


def choose_language(requested: str | None, remembered: str | None, accepted: str | None = None) -> Language:
    """The language asked for in the URL, else the one remembered in the cookie (the citizen's choice), else the
    first of ours the browser's `Accept-Language` prefers, else Catalan."""
    for language in (requested, remembered):
        for ours in LANGUAGES:
            if language == ours:
                return ours
    return parse_accept_language(accepted) or DEFAULT_LANGUAGE


def remember_language(response: Response, language: str) -> None:
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=_ONE_YEAR, path="/", samesite="lax")


def request_language(request: Request, requested: str | None) -> Language:
    """`choose_language` for a page's request: `requested` from its ``lang``, then the cookie, then the browser's."""
    return choose_language(requested, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


def html_page(
    request: Request, requested: str | None, language: str, body: str, status_code: int = 200
) -> HTMLResponse:
    """A page's answer, with its headers; the language is remembered when the visitor chose it (``lang``)."""
    response = HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)
    if requested is not None and requested == language:
        remember_language(response, language)
    return response


def json_for_script(value: object) -> str:
    # Inside <script type="application/json">, only "</" could end the element early.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def render_page(language: str, *, code: str | None = None) -> str:
    texts = translations()[language]
    assets = static_files()
    waiting = "checking" if code else "result_empty"
    values = {
        "lang": language,
        "code": code or "",
        "autocheck": "true" if code else "false",
        "js_version": assets["verify.js"].etag,
        "hashes_version": assets["hashes.js"].etag,
        "css_version": assets["verify.css"].etag,
        "result_waiting": waiting,
        "result_waiting_text": texts[waiting],
    }
    for other in LANGUAGES:
        values[f"current_{other}"] = 'aria-current="true"' if other == language else ""

    def substitute(match: re.Match[str]) -> str:
        is_text, key = match.group(1), match.group(2)
        if key == "i18n_json":
            return json_for_script(translations())
        if key.startswith("current_"):
            return values[key]
        if key in ("result_first", "result_after_ways"):
            first = key == "result_first"
            return _PLACEHOLDER.sub(substitute, template("result.html")) if first == bool(code) else ""
        return html.escape(texts[key] if is_text else values[key])

    return _PLACEHOLDER.sub(substitute, template("verify.html"))


def static_response(name: str, if_none_match: str | None) -> Response:
    file = static_files().get(name)
    if file is None:
        raise NotFound(f"No static file {name}.")
    headers = {
        "ETag": f'"{file.etag}"',
        # The page asks for `?v=<etag>`: a new version has a new URL.
        "Cache-Control": "public, max-age=86400",
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(file.content, media_type=file.media_type, headers=headers)
