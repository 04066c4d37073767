import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import TypeAdapter, ValidationError, WithJsonSchema
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import ClientDisconnect

from segell.chain.gateway import MAX_JSON_DEPTH, json_depth
from segell.services.administrations.api import Administration, authenticate, hold_administration_key, hold_caller
from segell.services.deps import (
    AdministrationDep,
    Authenticators,
    CallerDep,
    RuntimeDep,
    SessionDep,
    administration_of,
    authenticate_api_key,
    bearer_scheme,
    get_authenticators,
)
from segell.services.errors import InvalidInput, UnsupportedMediaType, ValidationFailed, error_responses
from segell.services.notary import listing, service
from segell.services.notary.committer import GroupCommitter
from segell.services.notary.schemas import (
    MAX_METADATA_BYTES,
    MAX_PAGE,
    BatchRequest,
    BundleSet,
    BundlesRequest,
    DocumentHash,
    DocumentId,
    DocumentStatus,
    FileName,
    IdempotencyKey,
    Kind,
    ProofBundle,
    Receipt,
    ReceiptList,
    ReceiptPage,
    RevokeRequest,
    SubmitRequest,
    Title,
    Verification,
    VerificationCode,
    check_metadata,
)
from segell.services.notary.service import Lookup, Submission
from segell.services.notary.settings import NotarySettings
from segell.services.notary.verifier import GroupVerifier
from segell.services.runtime import Runtime

OCTET_STREAM = "application/octet-stream"
JSON = "application/json"


class DocumentIdConvertor(StringConvertor):
    """Only a receipt id matches `{document_id:receipt_id}`: `/v1/documents/batch` is never taken for one."""

    regex = "[0-9a-f]{32}"


register_url_convertor("receipt_id", DocumentIdConvertor())

# Every route needs an administration's API key: governance keys get 403, and so do suspended administrations.
router = APIRouter(prefix="/v1", tags=["documents"], responses=error_responses(401, 403))
# A malformed id matches no route: 404, as for an unknown one.
one_document = APIRouter(prefix="/documents/{document_id:receipt_id}", responses=error_responses(404, 422))
# Verification is public: citizens check documents without an account.
public = APIRouter(prefix="/v1", tags=["verification"])


def _with_retry_after(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    responses[409] = {
        **responses[409],
        "headers": {
            "Retry-After": {"description": "Seconds to wait before asking again.", "schema": {"type": "string"}}
        },
    }
    return responses


def get_submitter(
    runtime: Runtime, credentials: HTTPAuthorizationCredentials | None, by: Authenticators
) -> Administration:
    """The administration submitting, authenticated in a transaction of its own: none stays open while a file
    arrives, and the document's transaction starts once the file is hashed."""
    with runtime.transaction() as session:
        administration: Administration = administration_of(authenticate_api_key(session, credentials, by))
    return administration


def _identify(session: Session, api_key: str) -> int:
    # Under a lock until the commit: an administration suspended (or a key revoked) before it stores nothing.
    held = hold_administration_key(session, api_key)
    if held is not None:
        return held
    # Refused (or changed since): the full check says why.
    administration: Administration = administration_of(authenticate(session, api_key, hold=True))
    return administration.id


def new_committer(runtime: Runtime) -> GroupCommitter:
    """The group committer the API's single submissions share; the app makes one at start-up."""
    return GroupCommitter(runtime, _identify)


def get_committer(request: Request) -> GroupCommitter:
    committer: GroupCommitter = request.app.state.notary_committer
    return committer


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def _hash_body(request: Request, runtime: RuntimeDep, keep: bytearray | None = None) -> str:
    try:
        return await service.hash_upload(
            request.stream(),
            declared_length=request.headers.get("content-length"),
            limit=runtime.settings.section(NotarySettings).max_document_bytes,
            keep=keep,
        )
    except ClientDisconnect:
        # Nobody is left to read the answer; it only keeps an aborted upload out of the error log.
        raise InvalidInput("The file did not arrive completely; send it again.", code="upload_interrupted") from None


def _metadata_from_header(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None

    def invalid(problem: str) -> ValidationFailed:
        location = "header.X-Segell-Metadata"
        return ValidationFailed(
            f"Invalid request. {location}: {problem}", details=[{"location": location, "message": problem}]
        )

    if len(value) > MAX_METADATA_BYTES or json_depth(value.encode()) > MAX_JSON_DEPTH:
        raise invalid(f"must be a JSON object of at most {MAX_METADATA_BYTES} bytes")
    try:
        metadata = json.loads(value)
        if not isinstance(metadata, dict):
            raise ValueError("must be a JSON object")
        return check_metadata(metadata)
    except ValueError as exc:
        raise invalid(str(exc) if "must" in str(exc) else "must be a JSON object") from None


def _copy_needs_the_file() -> ValidationFailed:
    problem = f"a public copy needs the file itself: send it as {OCTET_STREAM}, not its hash"
    location = "query.public_copy"
    return ValidationFailed(
        f"Invalid request. {location}: {problem}.", details=[{"location": location, "message": problem}]
    )


def _public_copy(content: bytes, filename: str | None) -> service.PublicCopy:
    # Served as an attachment whatever it is; a PDF as one, so that it opens where it is saved.
    media_type = "application/pdf" if content[:1024].find(b"%PDF-") >= 0 else OCTET_STREAM
    return service.PublicCopy(content, file_name=filename, media_type=media_type)


def _parse_body(body: bytes) -> SubmitRequest:
    try:
        return SubmitRequest.model_validate_json(body)
    except ValidationError as exc:
        # The same answer FastAPI gives for a body it validates itself.
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@dataclass(frozen=True)
class _Parameter:
    """A query parameter or header that a route reads itself, validated and documented as FastAPI does: FastAPI's
    handling of the eight a submission takes cost a third of the event loop's time per request."""

    name: str
    location: Literal["query", "header"]
    adapter: TypeAdapter[Any]
    title: str
    description: str

    def openapi(self) -> dict[str, Any]:
        schema = {**self.adapter.json_schema(), "description": self.description, "title": self.title}
        return {
            "name": self.name,
            "in": self.location,
            "required": False,
            "schema": schema,
            "description": self.description,
        }


def _parameter(name: str, location: Literal["query", "header"], type_: Any, description: str) -> _Parameter:
    title = (
        "-".join(part.capitalize() for part in name.split("-"))
        if location == "header"
        else name.replace("_", " ").title()
    )
    return _Parameter(name, location, TypeAdapter(type_ | None), title, description)


def _read_parameters(request: Request, parameters: Sequence[_Parameter]) -> list[Any]:
    """Each parameter's value (None when absent; the last one when repeated); `RequestValidationError` naming every
    invalid one, as FastAPI answers."""
    values: list[Any] = []
    errors: list[Any] = []
    query = request.query_params
    for parameter in parameters:
        value = (query if parameter.location == "query" else request.headers).get(parameter.name)
        if value is not None:
            try:
                value = parameter.adapter.validate_python(value)
            except ValidationError as exc:
                location = (parameter.location, parameter.name)
                errors.extend({**error, "loc": (*location, *error["loc"])} for error in exc.errors(include_url=False))
        values.append(value)
    if errors:
        raise RequestValidationError(errors)
    return values


_SUBMIT_PARAMETERS = (
    _parameter("kind", "query", Kind, "For file uploads: what the document is (a JSON body's `kind` comes first)."),
    _parameter(
        "title",
        "query",
        Title,
        "For file uploads: a title for the issuer's records (a JSON body's `title` comes first).",
    ),
    _parameter(
        "salted", "query", bool, "For file uploads: salt the leaf, for guessable content (with JSON, either one salts)."
    ),
    _parameter(
        "public",
        "query",
        bool,
        "For file uploads: show kind and title to verification by hash (with JSON, either one).",
    ),
    _parameter(
        "public_copy",
        "query",
        bool,
        "For file uploads only: keep the file, for whoever holds the verification code to download "
        "(`GET /v1/verify/{code}/document`) until the document is revoked. A JSON hash carries no file: 422.",
    ),
    _parameter(
        "filename",
        "query",
        FileName,
        "With `public_copy`: the name to offer the file under (made safe); default the title.",
    ),
    _parameter(
        "idempotency-key", "header", IdempotencyKey, "Repeating a request with the same key answers the same receipt."
    ),
)

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": SubmitRequest.model_json_schema()},
            OCTET_STREAM: {
                "schema": {"type": "string", "format": "binary"},
                "description": "The file itself, hashed as it arrives.",
            },
        },
    },
    "parameters": [
        *(parameter.openapi() for parameter in _SUBMIT_PARAMETERS),
        {
            "name": "X-Segell-Metadata",
            "in": "header",
            "required": False,
            "description": "For file uploads: a JSON object kept with the receipt, at most "
            f"{MAX_METADATA_BYTES} bytes (a JSON body's `metadata` comes first).",
            "content": {JSON: {"schema": {"type": "object"}}},
        },
    ],
    # The API key is read by the endpoint itself (`bearer_scheme`), as `CredentialsDep` would read it.
    "security": [{bearer_scheme.scheme_name: []}],
}


@router.post(
    "/documents",
    response_model=Receipt,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"model": Receipt, "description": "Already notarised: the receipt it was given, unchanged."},
        **error_responses(400, 409, 413, 415, 422),
    },
    openapi_extra=_SUBMIT_BODY,
)
async def submit_document(request: Request) -> Response:
    """Notarise a document: send the file (`application/octet-stream`) or its SHA-256 (JSON); 202 with the receipt."""
    # Everything is read here rather than by FastAPI's dependencies: FastAPI runs a plain-function dependency in a
    # worker thread, and two thread hops cost more than the rest of a hash submission's handling; without any, the
    # route table calls this endpoint itself, and FastAPI's handling no longer takes a third of a request's time.
    credentials = await bearer_scheme(request)
    # Refused with 422 before anything else, as FastAPI does with the parameters it reads.
    kind, title, salted, public, public_copy, filename, idempotency_key = _read_parameters(request, _SUBMIT_PARAMETERS)
    metadata = request.headers.get("x-segell-metadata")
    committer = get_committer(request)
    runtime = committer.runtime

    async def submitter() -> Administration:
        # In a transaction of its own: none stays open while a file arrives.
        return await run_in_threadpool(get_submitter, runtime, credentials, get_authenticators(request))

    media_type = _media_type(request)
    if credentials is None:
        await submitter()  # 401
    if media_type == OCTET_STREAM and credentials is not None:
        await submitter()  # before the file is read: refused at once if it may not submit
        header_metadata = _metadata_from_header(metadata)
        content = bytearray() if public_copy else None
        document_hash = await _hash_body(request, runtime, keep=content)
        copy = None
        if content is not None:
            copy = _public_copy(bytes(content), filename)
            content.clear()  # one copy of the file in memory, not two
        submission = Submission(document_hash, kind, title, header_metadata, bool(salted), bool(public), copy=copy)
        # Checked again in the transaction that stores it, shared with the submissions that arrived meanwhile: an
        # administration suspended while its file was arriving is refused. Answered once committed.
        receipt, created = await committer.accept_as(credentials.credentials, submission, idempotency_key)
    elif media_type == JSON and credentials is not None:
        try:
            header_metadata = _metadata_from_header(metadata)
            body = _parse_body(await request.body())
            if public_copy:
                raise _copy_needs_the_file()
        except (ValidationFailed, RequestValidationError):
            await submitter()  # a caller who may not submit is told that first
            raise
        # The body's own fields come first; the query and X-Segell-Metadata fill in those it leaves out, and a salt
        # asked for by either is given. (Refusing the mix could not be said in the schema, which lists the query.)
        submission = Submission(
            body.hash,
            body.kind if body.kind is not None else kind,
            body.title if body.title is not None else title,
            body.metadata if body.metadata is not None else header_metadata,
            body.salted or bool(salted),
            body.public or bool(public),
        )
        # The API key is checked in the transaction that stores the document, once for the requests it groups.
        receipt, created = await committer.accept_as(credentials.credentials, submission, idempotency_key)
    else:
        await submitter()
        raise UnsupportedMediaType(
            f"Send the file as {OCTET_STREAM} or its hash as {JSON}, not {media_type or 'no Content-Type'}."
        )
    # The receipt is a valid model already: sent as it is rather than validated again on the way out.
    return Response(
        receipt.model_dump_json(by_alias=True),
        status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        media_type=JSON,
    )


@router.post(
    "/documents/batch",
    response_model=ReceiptList,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(413, 422),
)
def submit_documents(
    body: BatchRequest, runtime: RuntimeDep, session: SessionDep, caller: CallerDep, administration: AdministrationDep
) -> Response:
    """Notarise up to 10,000 hashes at once; one receipt per hash, in order."""
    batching = service.Batching(
        size=runtime.settings.section(NotarySettings).batch_max_size, registry_id=administration.registry_id
    )
    # Already JSON text: validating ten thousand receipts again would take longer than storing them.
    content = service.submit_many_json(
        session,
        administration.id,
        body.hashes,
        kind=body.kind,
        salted=body.salted,
        public=body.public,
        batching=batching,
    )
    # Checked again before the commit, after the writes (which took SQLite's lock): a suspension committed while
    # the batch was being stored leaves nothing of it.
    hold_caller(session, caller)
    return Response(content, status_code=status.HTTP_202_ACCEPTED, media_type=JSON)


# --- an administration's documents, listed and exported -------------------------------------------------------

Moment = Annotated[str, WithJsonSchema(listing.MOMENT_SCHEMA)]
Cursor = Annotated[str, WithJsonSchema({"type": "string", "format": listing.CURSOR_FORMAT})]
NDJSON = "application/x-ndjson"
PENDING_HEADER = "X-Segell-Pending"

KindFilter = Annotated[Kind | None, Query(description="Only documents of this kind.")]
SinceFilter = Annotated[
    Moment | None,
    Query(description="Only documents accepted at or after this date (midnight UTC) or date and time (RFC 3339)."),
]
UntilFilter = Annotated[
    Moment | None,
    Query(description="Only documents accepted before this date and time; a date alone takes that whole day (UTC)."),
]


@router.get("/documents", response_model=ReceiptPage, responses=error_responses(422))
def list_documents(
    session: SessionDep,
    administration: AdministrationDep,
    kind: KindFilter = None,
    status: Annotated[DocumentStatus | None, Query(description="Only documents in this status.")] = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    cursor: Annotated[
        Cursor | None, Query(description="The `next_cursor` of the previous page; none for the first page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Receipts per page, at most {MAX_PAGE}.")] = 100,
) -> Response:
    """The administration's documents, newest first, a page at a time; filter by kind, status and date."""
    where = listing.receipt_filter(kind, status, since, until)
    page = listing.list_receipts(session, administration.id, where, cursor=cursor, limit=limit)
    return Response(ReceiptPage(items=page.items, next_cursor=page.next_cursor).model_dump_json(), media_type=JSON)


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One proof bundle per line (JSON Lines), newest document first; pending documents are left "
        "out, and counted in `X-Segell-Pending`.",
        "content": {NDJSON: {"schema": {"type": "string"}}},
        "headers": {
            PENDING_HEADER: {
                "description": "How many documents the filters take that are not anchored yet, and so not sent.",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        },
    },
    **error_responses(422),
}


@router.get("/documents/bundles", response_class=StreamingResponse, responses=_EXPORT_RESPONSES)
def export_bundles(
    runtime: RuntimeDep,
    administration: AdministrationDep,
    kind: KindFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
) -> StreamingResponse:
    """The proof bundles of the administration's anchored documents, streamed one per line; filter by kind and date."""
    where = listing.receipt_filter(kind, None, since, until)
    with runtime.transaction() as session:
        pending = listing.count_pending(session, administration.id, where)
    return StreamingResponse(
        listing.export_bundles(runtime, administration.id, where),
        media_type=NDJSON,
        headers={PENDING_HEADER: str(pending)},
    )


@router.post("/documents/bundles", response_model=BundleSet, responses=error_responses(413, 422))
def fetch_bundles(body: BundlesRequest, session: SessionDep, administration: AdministrationDep) -> Response:
    """The proof bundles of up to 1,000 documents by id and 1,000 by hash; those still pending are named."""
    found = listing.bundles_of(session, administration.id, ids=body.ids, hashes=body.hashes)
    return Response(json.dumps(found, ensure_ascii=False, separators=(",", ":")), media_type=JSON)


@one_document.get("", response_model=Receipt)
def read_document(document_id: DocumentId, session: SessionDep, administration: AdministrationDep) -> Receipt:
    """A document's receipt, with where it is anchored once it is."""
    return service.get_receipt(session, administration.id, document_id)


@one_document.get("/bundle", response_model=ProofBundle, responses=_with_retry_after(error_responses(409)))
def read_bundle(document_id: DocumentId, session: SessionDep, administration: AdministrationDep) -> ProofBundle:
    """The proof bundle: check the document against any node of the chain, without Segell (409 until anchored)."""
    return service.bundle(session, administration.id, document_id)


@one_document.post("/revoke", response_model=Receipt, responses=_with_retry_after(error_responses(409, 503)))
def revoke_document(
    document_id: DocumentId,
    body: RevokeRequest,
    runtime: RuntimeDep,
    session: SessionDep,
    administration: AdministrationDep,
) -> Receipt:
    """Revoke an anchored document on chain, with a reason everyone can read."""
    return service.revoke(runtime, session, administration.id, document_id, body.reason)


router.include_router(one_document)


def _verification_lookup(hash: str | None, code: str | None) -> Lookup:
    if (hash is None) == (code is None):
        problem = "send exactly one of hash and code"
        raise ValidationFailed(
            f"Invalid request. query: {problem}.", details=[{"location": "query", "message": problem}]
        )
    if hash is not None:
        return Lookup(document_hash=hash)
    return Lookup(code=service.stored_code(code or "", location="query.code"))


# A value that arrives as a query parameter of its own name once form-exploded: anything but an object with
# properties, which goes as `name[key]=...`, parameters of other names.
_SENT_UNDER_ITS_NAME = {"not": {"type": "object", "minProperties": 1}}


def _one_of(**parameters: Any) -> dict[str, Any]:
    """Query parameters of which a request sends exactly one, as the one form-exploded object OpenAPI can say that
    with (`?hash=...` or `?code=...` on the wire, as before). Each branch refuses the others; parameters of other
    names are ignored, as everywhere else."""
    return {
        "parameters": [
            {
                "name": "lookup",
                "in": "query",
                "required": True,
                "style": "form",
                "explode": True,
                "description": "Exactly one of "
                + "; ".join(f"`{name}`: {description.rstrip('.')}" for name, (_, description) in parameters.items())
                + ".",
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {name: TypeAdapter(type_).json_schema()},
                            "required": [name],
                            "not": {
                                "anyOf": [
                                    {"required": [other], "properties": {other: _SENT_UNDER_ITS_NAME}}
                                    for other in parameters
                                    if other != name
                                ]
                            },
                        }
                        for name, (type_, _) in parameters.items()
                    ]
                },
            }
        ]
    }


_HASH_DESCRIPTION = "SHA-256 of the document, hex."
_CODE_DESCRIPTION = "Verification code printed on the document: XXXX-XXXX-XXXX-XXXX-C."


@public.get(
    "/verify",
    response_model=Verification,
    responses=error_responses(422, 503),
    openapi_extra=_one_of(hash=(DocumentHash, _HASH_DESCRIPTION), code=(VerificationCode, _CODE_DESCRIPTION)),
)
async def verify_document(request: Request) -> Response:
    """Is this document authentic? Look it up by its SHA-256 or by its verification code; no API key needed."""
    # `hash` and `code` are documented above (`_one_of`) and read here, as everything else the lookup needs: each
    # dependency or parameter FastAPI handles costs more than the lookup's own work in the event loop.
    hash, code = _read_parameters(request, _VERIFY_PARAMETERS)
    lookup = _verification_lookup(hash, code)
    verifier: GroupVerifier = request.app.state.notary_verifier
    # The JSON of a valid model already: sent as it is rather than validated again on the way out.
    return Response(await verifier.verify(lookup), media_type=JSON)


_VERIFY_PARAMETERS = (
    _parameter("hash", "query", DocumentHash, _HASH_DESCRIPTION),
    _parameter("code", "query", VerificationCode, _CODE_DESCRIPTION),
)


@public.post(
    "/verify",
    response_model=Verification,
    responses=error_responses(400, 413, 415, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def verify_file(request: Request, runtime: RuntimeDep) -> Response:
    """Is this file authentic? Send it as `application/octet-stream`; it is hashed as it arrives and not kept."""
    if _media_type(request) != OCTET_STREAM:
        raise UnsupportedMediaType(f"Send the file as {OCTET_STREAM}.")
    document_hash = await _hash_body(request, runtime)
    verifier: GroupVerifier = request.app.state.notary_verifier
    return Response(await verifier.verify(Lookup(document_hash=document_hash)), media_type=JSON)
