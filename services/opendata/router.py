"""CKAN's Action API (`/api/3/action/{name}`, and `/api/action/{name}` as CKAN also answers it) and the download of
a resource's file. Answers are CKAN's envelope ``{"help", "success", "result"}``; refusals its ``error.__type``."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import RootModel
from starlette.concurrency import run_in_threadpool

from segell.services.administrations.api import Administration
from segell.services.deps import RuntimeDep, get_authenticators
from segell.services.errors import ErrorBody, NotFound, SegellError, error_responses
from segell.services.opendata import datastore, dcat, service
from segell.services.opendata.errors import ActionFailed, AuthorizationError, BadRequest
from segell.services.opendata.schemas import ActionErrorBody, ActionResultBody
from segell.services.opendata.settings import OpendataSettings
from segell.services.opendata.uploads import Form, read_form
from segell.services.opendata.vocabularies import FORMATS
from segell.services.runtime import Runtime

ACTION_PREFIXES = ("/api/3/action", "/api/action")
#: The actions that take a file: their multipart bodies are streamed to disk rather than held by the body limits.
UPLOAD_ACTIONS = ("resource_create", "resource_update")
READ_ACTIONS = [name for name, spec in service.ACTIONS.items() if not spec.writes]

router = APIRouter(tags=["opendata"])


class TooLargeBody(RootModel[ActionErrorBody | ErrorBody]):
    pass


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "`Bad request` (a body that is not a JSON object, a write action sent with GET) or `Search Query Error`.",
        403: "`Authorization Error`: no valid administration API key, or a dataset of another administration.",
        404: "`Not Found Error`.",
        409: "`Validation Error`: each invalid field with its messages.",
    }
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ActionErrorBody, "description": descriptions[status]} for status in statuses
    }
    return responses


def _help(request: Request, name: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={name}"


def _api_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "").strip()
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" and rest else authorization
    return request.headers.get("x-ckan-api-key", "").strip() or None


def _caller(request: Request, runtime: Runtime) -> Administration | None:
    """The administration whose API key the request carries, None without a key; `SegellError` for a bad key."""
    key = _api_key(request)
    if key is None:
        return None
    authenticate = get_authenticators(request).api_keys
    if authenticate is None:
        raise AuthorizationError("This server authenticates no API keys.")
    with runtime.transaction() as session:
        administration: Administration | None = authenticate(session, key).administration
    return administration


def _run(request: Request, runtime: Runtime, name: str, params: dict[str, Any], form: Form | None, posted: bool) -> Any:
    settings = runtime.settings
    try:
        administration = _caller(request, runtime)
    except SegellError as error:
        raise AuthorizationError(error.message) from None
    with runtime.transaction() as session:
        context = service.Context(
            session=session,
            administration=administration,
            files=settings.home_dir / "opendata",
            api_url=settings.api_url,
            upload=form.upload if form is not None else None,
        )
        return service.run_action(context, name, params, posted=posted)


async def _answer(request: Request, runtime: Runtime, name: str, posted: bool) -> Response:
    form: Form | None = None
    try:
        params: dict[str, Any]
        if not posted:
            params = dict(request.query_params)
        elif request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            limit = runtime.settings.section(OpendataSettings).max_resource_bytes
            incoming = runtime.settings.home_dir / "opendata" / "incoming"
            form = await read_form(request.headers["content-type"], request.stream(), incoming, limit)
            params = dict(form.fields)
        else:
            raw = await request.body()
            try:
                params = json.loads(raw) if raw.strip() else {}
            except (ValueError, UnicodeDecodeError):
                raise BadRequest("The body is not JSON: send a JSON object of the action's parameters.") from None
            if not isinstance(params, dict):
                raise BadRequest("The body is not a JSON object: send the action's parameters as one.")
        result = await run_in_threadpool(_run, request, runtime, name, params, form, posted)
    except ActionFailed as failure:
        refusal = {"help": _help(request, name), "success": False, "error": failure.error()}
        return JSONResponse(refusal, failure.status_code)
    finally:
        if form is not None:
            form.discard()
    # The result is written as JSON on its own (`service.encoded`), so that a page of results splices in the
    # packages its process keeps as JSON.
    body = b"".join(
        (
            b'{"help":',
            service.encoded(_help(request, name)),
            b',"success":true,"result":',
            service.encoded(result),
            b"}",
        )
    )
    return Response(body, media_type="application/json")


ReadName = Annotated[str, PathParam(description="A read action.", json_schema_extra={"enum": READ_ACTIONS})]
AnyName = Annotated[str, PathParam(description="An action.", json_schema_extra={"enum": list(service.ACTIONS)})]
_REQUEST_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object", "description": "The action's parameters."}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"upload": {"type": "string", "format": "binary"}},
                    "description": "The parameters as form fields; a resource's file in `upload`.",
                }
            },
        },
    }
}


for prefix in ACTION_PREFIXES:
    documented = prefix == ACTION_PREFIXES[0]

    @router.get(
        f"{prefix}/{{name}}",
        response_model=ActionResultBody,
        responses=_documented(400, 403, 404, 409),
        include_in_schema=documented,
        name=f"read_action{prefix.replace('/', '_')}",
    )
    async def read_action(name: ReadName, request: Request, runtime: RuntimeDep) -> Response:
        """Run a read action of CKAN's Action API with the query's parameters."""
        return await _answer(request, runtime, name, posted=False)

    @router.post(
        f"{prefix}/{{name}}",
        response_model=ActionResultBody,
        responses={
            **_documented(400, 403, 404, 409),
            413: {"model": TooLargeBody, "description": "The body, or the file in `upload`, is too large."},
            422: {"model": ErrorBody, "description": "A JSON body nested too deeply."},
        },
        include_in_schema=documented,
        openapi_extra=_REQUEST_BODY,
        name=f"action{prefix.replace('/', '_')}",
    )
    async def action(name: AnyName, request: Request, runtime: RuntimeDep) -> Response:
        """Run an action of CKAN's Action API with a JSON object's parameters (a multipart form with a file for
        resource_create and resource_update)."""
        return await _answer(request, runtime, name, posted=True)


def _download(runtime: Runtime, request: Request, dataset_id: str, resource_id: str) -> tuple[Path, str]:
    try:
        return _run_download(runtime, request, dataset_id, resource_id)
    except ActionFailed as failure:
        raise NotFound(failure.message or "Resource was not found.") from None


def _run_download(runtime: Runtime, request: Request, dataset_id: str, resource_id: str) -> tuple[Path, str]:
    try:
        administration = _caller(request, runtime)
    except (SegellError, AuthorizationError):
        administration = None  # a file of a public dataset is served whatever key comes with the request
    with runtime.transaction() as session:
        context = service.Context(session, administration, runtime.settings.home_dir / "opendata", "")
        return service.resource_file(context, dataset_id, resource_id)


@router.get(
    "/dataset/{dataset_id}/resource/{resource_id}/download/{filename}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file, with its format's media type.",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in FORMATS.values()
            },
        },
        **error_responses(404),
    },
)
async def download_resource(
    dataset_id: str, resource_id: str, filename: str, request: Request, runtime: RuntimeDep
) -> FileResponse:
    """A resource's file, as uploaded."""
    path, media_type = await run_in_threadpool(_download, runtime, request, dataset_id, resource_id)
    return FileResponse(path, media_type=media_type, filename=filename)


# -- datastore dumps ---------------------------------------------------------------------------------------------


def _dump_fields(runtime: Runtime, request: Request, resource_id: str) -> list[dict[str, Any]]:
    try:
        administration = _caller(request, runtime)
    except (SegellError, AuthorizationError):
        administration = None
    try:
        with runtime.transaction() as session:
            context = service.Context(session, administration, runtime.settings.home_dir / "opendata", "")
            return service.datastore_dump_header(context, resource_id)
    except ActionFailed as failure:
        raise NotFound(failure.message or "Resource was not found.") from None


def _dump(runtime: Runtime, resource_id: str, fields: list[dict[str, Any]], as_csv: bool) -> Iterator[bytes]:
    """The table's rows in `_id` order, read a slice at a time (each in a short transaction of its own)."""
    names = [field["id"] for field in fields]
    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(names)
    else:
        yield (json.dumps({"fields": fields}, ensure_ascii=False)[:-1] + ', "records": [').encode()
    after, first = 0, True
    while True:
        with runtime.transaction() as session:
            try:
                rows = datastore.dump_rows(session, resource_id, after)
            except ActionFailed:
                rows = []  # dropped while it was being read: the dump ends there
        if not rows:
            break
        after = rows[-1][0]
        if as_csv:
            writer.writerows([datastore.csv_text(value) for value in row] for row in rows)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        else:
            text = ",".join(json.dumps(row, default=datastore.csv_text, ensure_ascii=False) for row in rows)
            yield (text if first else "," + text).encode()
            first = False
    if as_csv:
        yield buffer.getvalue().encode()
    else:
        yield b"]}"


@router.get(
    "/datastore/dump/{resource_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The rows of the resource's datastore table, `_id` first: CSV with a header row, or JSON"
            ' `{"fields", "records"}` with each record a list.',
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        404: {"model": ErrorBody, "description": "No such resource, or it has no datastore table."},
        422: {"model": ErrorBody, "description": "Invalid parameters; `details` lists each problem."},
    },
)
async def datastore_dump(
    resource_id: Annotated[str, PathParam(max_length=36)],
    request: Request,
    runtime: RuntimeDep,
    format: Annotated[Literal["csv", "json"], Query(description="`csv` (the default) or `json`.")] = "csv",
) -> StreamingResponse:
    """A resource's datastore table, whole, streamed (CKAN's dump)."""
    fields = await run_in_threadpool(_dump_fields, runtime, request, resource_id)
    as_csv = format == "csv"
    return StreamingResponse(
        _dump(runtime, resource_id, fields, as_csv),
        media_type="text/csv; charset=utf-8" if as_csv else "application/json",
        headers={"Content-Disposition": f'attachment; filename="{resource_id}.{format}"'},
    )


# -- DCAT-AP 3 ----------------------------------------------------------------------------------------------------

PageQuery = Annotated[
    int,
    Query(ge=1, le=10**9, description="The page, from 1, of `SEGELL_OPENDATA_DCAT_PAGE_SIZE` datasets by name."),
]


def _rdf_responses(what: str, missing: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": what,
            "content": {
                media_type: {"schema": {"type": "object" if extension == "jsonld" else "string"}}
                for extension, (_, media_type) in dcat.SERIALISATIONS.items()
            },
        },
        404: {"model": ErrorBody, "description": missing},
        422: {"model": ErrorBody, "description": "Invalid parameters; `details` lists each problem."},
    }


def _catalogue(runtime: Runtime, page: int, extension: str) -> bytes:
    with runtime.transaction() as session:
        try:
            page_size = runtime.settings.section(OpendataSettings).dcat_page_size
            graph = dcat.catalogue_document(session, runtime.settings.api_url, page, extension, page_size)
        except dcat.PageNotFound as missing:
            raise NotFound(str(missing)) from None
        return dcat.serialise(graph, extension)


def _dataset(runtime: Runtime, dataset_id: str, extension: str) -> bytes:
    with runtime.transaction() as session:
        graph = dcat.dataset_document(session, runtime.settings.api_url, dataset_id)
        if graph is None:
            raise NotFound(f"No public dataset {dataset_id!r}: see the catalogue at /catalog.ttl for the datasets.")
        return dcat.serialise(graph, extension)


def _rdf_routes(extension: str, media_type: str) -> None:
    @router.get(
        f"/catalog.{extension}",
        response_class=Response,
        responses=_rdf_responses(
            f"One page of the catalogue as DCAT-AP 3 ({media_type}), with a `hydra:PartialCollectionView`.",
            "A page past the last.",
        ),
        name=f"catalogue_{extension}",
    )
    async def catalogue(runtime: RuntimeDep, page: PageQuery = 1) -> Response:
        """The catalogue's public datasets as DCAT-AP 3, a page at a time."""
        body = await run_in_threadpool(_catalogue, runtime, page, extension)
        return Response(body, media_type=media_type)

    @router.get(
        f"/dataset/{{dataset_id}}.{extension}",
        response_class=Response,
        responses=_rdf_responses(
            f"The dataset and its distributions as DCAT-AP 3 ({media_type}).",
            "No public dataset with that id or name.",
        ),
        name=f"dataset_{extension}",
    )
    async def dataset(dataset_id: Annotated[str, PathParam(max_length=100)], runtime: RuntimeDep) -> Response:
        """A public dataset, by id or name, as DCAT-AP 3."""
        body = await run_in_threadpool(_dataset, runtime, dataset_id, extension)
        return Response(body, media_type=media_type)


for _extension, (_, _media_type) in dcat.SERIALISATIONS.items():
    _rdf_routes(_extension, _media_type)
