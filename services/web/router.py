"""Pages for citizens, and what they download by verification code: the proof bundle, and the document itself when
its issuer kept a public copy.

The pages are left out of the OpenAPI schema (they answer HTML, not the API's JSON); the bundle is an API operation
and is documented like every other one.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from segell.services.deps import SessionDep
from segell.services.errors import error_responses
from segell.services.file_names import content_disposition
from segell.services.notary import api as notary
from segell.services.notary.api import ProofBundle, VerificationCode
from segell.services.web import pages

# The API's public verification operations live under /v1/verify; this one hands out the proof bundle.
bundles = APIRouter(prefix="/v1/verify", tags=["verification"])
# HTML for people: not part of the API schema.
site = APIRouter(include_in_schema=False)

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before asking again.", "schema": {"type": "string"}}}
_CONTENT_DISPOSITION = {
    "Content-Disposition": {
        "description": "`attachment`, with a file name safe on any system (`filename` and UTF-8 `filename*`).",
        "schema": {"type": "string"},
    }
}
CodePath = Annotated[
    VerificationCode, Path(description="Verification code printed on the document: XXXX-XXXX-XXXX-XXXX-C.")
]
# A copy is served as a download, never as a page of this site: whatever it holds runs nothing here.
_COPY_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}


def _bundle_responses() -> dict[int | str, dict[str, Any]]:
    responses = error_responses(404, 409, 422, 503)
    responses[409] = {**responses[409], "headers": _RETRY_AFTER}
    return responses


def _bundle_ok() -> dict[int | str, dict[str, Any]]:
    return {200: {"model": ProofBundle, "description": "The proof bundle.", "headers": _CONTENT_DISPOSITION}}


@bundles.get("/{code}/bundle", response_model=ProofBundle, responses={**_bundle_ok(), **_bundle_responses()})
def read_bundle_by_code(code: CodePath, session: SessionDep) -> Response:
    """The proof bundle of the document with this verification code; no API key needed (409 until anchored)."""
    # The code is printed on the document, so whoever holds it holds the document: the bundle, salt included, is
    # theirs to check without Segell.
    bundle = notary.bundle_by_code(session, code, location="path.code")
    name = f"{bundle.receipt.verification_code}.segell.json"
    return JSONResponse(
        bundle.model_dump(mode="json"), headers={"Content-Disposition": content_disposition(name, fallback="bundle")}
    )


@bundles.get(
    "/{code}/document",
    response_class=Response,
    responses={
        200: {
            "description": "The document, as its issuer made it available, as an attachment.",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in notary.COPY_MEDIA_TYPES
            },
            "headers": _CONTENT_DISPOSITION,
        },
        **error_responses(404, 410, 422),
    },
)
def read_document_by_code(code: CodePath, session: SessionDep) -> Response:
    """The document itself, when its issuer kept a public copy (404 otherwise); 410 once revoked. No API key needed."""
    copy = notary.public_copy_by_code(session, code, location="path.code")
    headers = {**_COPY_HEADERS, "Content-Disposition": content_disposition(copy.file_name)}
    return Response(copy.content, media_type=copy.media_type, headers=headers)


def _page(request: Request, code: str | None, language: str | None) -> HTMLResponse:
    chosen = pages.choose_language(
        language, request.cookies.get(pages.LANGUAGE_COOKIE), request.headers.get("accept-language")
    )
    response = HTMLResponse(pages.render_page(chosen, code=code), headers=pages.PAGE_HEADERS)
    if language is not None and language == chosen:
        # A link such as `/?lang=es` works without JavaScript, and the choice is kept for the next visit.
        pages.remember_language(response, chosen)
    return response


LanguageQuery = Annotated[str | None, Query(alias="lang", max_length=8)]


@site.get("/", response_class=HTMLResponse)
def verification_page(request: Request, lang: LanguageQuery = None) -> HTMLResponse:
    """The verification page: drop a file or type a verification code."""
    return _page(request, None, lang)


@site.get("/verify/{code}", response_class=HTMLResponse)
def verification_page_for_code(
    request: Request, code: Annotated[str, Path(max_length=64)], lang: LanguageQuery = None
) -> HTMLResponse:
    """The URL printed on documents: the page, checking the code at once."""
    return _page(request, code, lang)


@site.get("/static/web/{name}")
def static_file(name: str, request: Request) -> Response:
    """The page's own script and style sheet; nothing is loaded from anywhere else."""
    return pages.static_response(name, request.headers.get("if-none-match"))


router = APIRouter()
router.include_router(bundles)
router.include_router(site)
