"""HTTP API of signing (an administration's key) and of signature validation (public)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile, status
from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from segell.services.deps import AdministrationDep, RuntimeDep
from segell.services.errors import ValidationFailed, error_responses
from segell.services.identity import signature_service as service
from segell.services.identity.signature_schemas import SignedDocument, ValidationReport
from segell.services.identity.stamp_choices import PLACEMENT_PATTERN, parse_placement
from segell.services.languages import Language
from segell.services.notary.api import AnchoredRoots

# A serial as tools print it: hex, optionally with 0x or colons.
CertificateSerial = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^(0[xX])?[0-9a-fA-F:]+$")]


def _valid_placement(text: str) -> str:
    try:
        parse_placement(text)
    except ValueError as exc:
        raise PydanticCustomError("placement", str(exc)) from None
    return text


# `auto`, `new-page` or `PAGE:CORNER`, in any case; the message of a 422 lists them.
StampPlacement = Annotated[str, AfterValidator(_valid_placement)]


def get_anchored_roots(request: Request) -> AnchoredRoots:
    anchored_roots: AnchoredRoots = request.app.state.anchored_roots
    return anchored_roots


async def refuse_empty_options(request: Request) -> None:
    """An option sent as an empty part is refused (422), as the schema says: FastAPI would take it for the part left
    out, so that an empty `certificate` signed with the seal or the only employee certificate."""
    form = await request.form()  # parsed once already for the parameters: Starlette keeps it
    empty = [name for name in SIGNING_OPTIONS if form.get(name) == ""]
    if empty:
        problems = [{"location": f"body.{name}", "message": "must not be empty; leave the part out"} for name in empty]
        summary = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        raise ValidationFailed(f"Invalid request. {summary}", details=problems)


router = APIRouter(prefix="/v1/signatures", tags=["signatures"])
# An empty file is refused (400 `empty_file`): the schema says so.
NOT_EMPTY = {"minLength": 1}
PDF_FORMAT = "pdf"
# A CMS SignedData structure, DER or PEM: anything else is 400 `invalid_signature`.
CMS_FORMAT = "cms-signature"
# The text parts of `POST /v1/signatures`, none of which the schema allows empty.
SIGNING_OPTIONS = ("as", "certificate", "format", "placement", "lang", "public_copy")
# `format: pades` takes a PDF only (422 otherwise): a file with `%PDF-` in its first kilobyte, as readers take it.
_PADES_SIGNS_PDFS = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "if": {"properties": {"format": {"const": "pades"}}, "required": ["format"]},
                    "then": {"properties": {"file": {"format": PDF_FORMAT}}},
                }
            }
        }
    }
}


@router.post(
    "",
    response_model=SignedDocument,
    status_code=status.HTTP_201_CREATED,
    # 409 also when a PAGE:CORNER placement names a page the PDF lacks, or a corner with content in it.
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
    openapi_extra=_PADES_SIGNS_PDFS,
    dependencies=[Depends(refuse_empty_options)],
)
async def sign_document(
    runtime: RuntimeDep,
    administration: AdministrationDep,
    file: Annotated[
        UploadFile,
        File(
            description="The document: a PDF is signed as PAdES, any other file as CAdES.",
            json_schema_extra=NOT_EMPTY,
        ),
    ],
    sign_as: Annotated[
        Literal["employee", "seal"], Form(alias="as", description="Sign as an employee, or with the seal.")
    ],
    # Without `| None`, which the schema would publish as a null: a form field is text, or left out.
    certificate: Annotated[
        CertificateSerial,
        Form(description="Serial of the certificate to sign with; omitted: the seal, or the only employee one."),
    ] = None,  # type: ignore[assignment]
    format: Annotated[
        Literal["auto", "pades", "cades"],
        Form(description="auto: PAdES for a PDF, CAdES for anything else; cades: a detached signature even of a PDF."),
    ] = "auto",
    placement: Annotated[
        StampPlacement,
        Form(
            description="Where a signed PDF's stamp goes, in any case. auto: where the last page has room for it "
            "(found by rendering the page), else on a page added after it; new-page: on an added page; "
            "PAGE:CORNER, PAGE first, last or a page number, CORNER top-left, top-right, bottom-left or "
            "bottom-right (e.g. last:bottom-right): there, or 409 if the PDF has no such page or that corner "
            "has content. The stamp never covers the document's content.",
            json_schema_extra={"pattern": PLACEMENT_PATTERN},
        ),
    ] = "auto",
    # Without `| None`, as `certificate`: omitted, the stamp speaks the administration's language.
    lang: Annotated[
        Language,
        Form(description="The language of a signed PDF's stamp: ca, es or en; omitted: the administration's."),
    ] = None,  # type: ignore[assignment]
    public_copy: Annotated[
        bool,
        Form(
            description="Keep the signed output, for whoever holds its verification code to download "
            "(`GET /v1/verify/{code}/document`) until it is revoked: the signed PDF, or the detached signature."
        ),
    ] = False,
) -> SignedDocument:
    """Sign a document with one of the administration's own certificates; the signed output is notarised (201)."""
    data = await file.read()
    return await run_in_threadpool(
        service.sign_document,
        runtime,
        administration,
        data,
        filename=file.filename,
        sign_as=sign_as,
        certificate_id=certificate,
        requested_format=format,
        placement=parse_placement(placement),
        language=lang,
        public_copy=public_copy,
    )


@router.post("/validate", response_model=ValidationReport, responses=error_responses(400, 413, 422, 503))
async def validate_signatures(
    runtime: RuntimeDep,
    anchored_roots: Annotated[AnchoredRoots, Depends(get_anchored_roots)],
    file: Annotated[
        UploadFile,
        File(description="A signed PDF, or the file a detached signature is of."),
        WithJsonSchema({"type": "string", "format": "binary", **NOT_EMPTY}),
    ],
    # Typed without `| None`, which the schema would publish as a null part: a form has a file here, or no part.
    signature: Annotated[
        UploadFile,
        File(
            description="A detached CMS (CAdES) signature of `file`, DER or PEM; an empty part is none at all.",
            json_schema_extra={"format": CMS_FORMAT},
        ),
    ] = None,  # type: ignore[assignment]
) -> ValidationReport:
    """Validate a signed PDF, or a file and its CMS signature: ETSI EN 319 102-1 indications. No API key needed."""
    data = await file.read()
    signature_data = await signature.read() if signature is not None else None
    return await run_in_threadpool(service.validate_upload, runtime, anchored_roots, data, signature_data)
