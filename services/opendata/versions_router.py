"""A dataset's versions over REST: `/v1/opendata/datasets/{id}/versions`, one version, and the difference between
two. Public datasets' versions are anyone's to read; a private dataset's only its administration's."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from segell.services.deps import AuthenticatorsDep, CredentialsDep, RuntimeDep, authenticate_api_key
from segell.services.errors import NotFound, ValidationFailed, error_responses
from segell.services.opendata import service, versions
from segell.services.opendata.errors import NotFoundError, ValidationError
from segell.services.opendata.version_schemas import VersionDetail, VersionDiff, VersionList

router = APIRouter(prefix="/v1/opendata/datasets", tags=["opendata"])

DatasetId = Annotated[str, PathParam(min_length=1, max_length=100, description="The dataset's id or name.")]
VersionNumber = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="A version's number, from 1.")]
_ERRORS = error_responses(401, 403, 404, 422)


def _run(
    runtime: RuntimeDep,
    credentials: CredentialsDep,
    authenticators: AuthenticatorsDep,
    action: Callable[[service.Context, Mapping[str, Any]], dict[str, Any]],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    with runtime.transaction() as session:
        administration = None
        if credentials is not None:
            administration = authenticate_api_key(session, credentials, authenticators).administration
        context = service.Context(
            session, administration, runtime.settings.home_dir / "opendata", runtime.settings.api_url
        )
        try:
            return action(context, params)
        except NotFoundError as missing:
            raise NotFound(missing.message or "No such dataset, or none this API key may see.") from None
        except ValidationError as invalid:
            problems = [
                {"location": field, "message": message}
                for field, messages in invalid.fields.items()
                for message in messages
            ]
            raise ValidationFailed(str(invalid), details=problems) from None


@router.get("/{dataset_id}/versions", response_model=VersionList, responses=_ERRORS)
def list_versions(
    dataset_id: DatasetId,
    runtime: RuntimeDep,
    credentials: CredentialsDep,
    authenticators: AuthenticatorsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """A dataset's notarised versions, newest first."""
    params = {"id": dataset_id, "limit": limit, "offset": offset}
    return _run(runtime, credentials, authenticators, versions.dataset_version_list, params)


@router.get("/{dataset_id}/versions/{number}", response_model=VersionDetail, responses=_ERRORS)
def show_version(
    dataset_id: DatasetId,
    number: VersionNumber,
    runtime: RuntimeDep,
    credentials: CredentialsDep,
    authenticators: AuthenticatorsDep,
) -> dict[str, Any]:
    """One version: its metadata, its resources' checksums, its receipt and verification code."""
    params = {"id": dataset_id, "version": number}
    return _run(runtime, credentials, authenticators, versions.dataset_version_show, params)


@router.get(
    "/{dataset_id}/versions/{from_number}/diff/{to_number}",
    response_model=VersionDiff,
    responses={**_ERRORS, 422: {**_ERRORS[422], "description": "Invalid parameters, or `from` after `to`."}},
)
def diff_versions(
    dataset_id: DatasetId,
    from_number: VersionNumber,
    to_number: VersionNumber,
    runtime: RuntimeDep,
    credentials: CredentialsDep,
    authenticators: AuthenticatorsDep,
    limit: Annotated[
        int, Query(ge=0, le=versions.MAX_DIFF_ROWS, description="Most rows listed of each kind; all are counted.")
    ] = versions.MAX_DIFF_ROWS,
) -> dict[str, Any]:
    """What changed from one version to a later one: metadata, resources and, for tables, rows."""
    params = {"id": dataset_id, "from_version": from_number, "to_version": to_number, "limit": limit}
    return _run(runtime, credentials, authenticators, versions.dataset_version_diff, params)
