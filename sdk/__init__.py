"""Segell SDK: a typed Python client for the Segell sandbox API.

Usage::

    from sdk import Client, NotFoundError

    with Client("http://127.0.0.1:8000", api_key="sgl_...") as segell:
        print(segell.health().chain.backend)
        try:
            segell.get_administration("L01080193")
        except NotFoundError as exc:
            print(exc.message)
"""

from ._version import __version__
from .client import DEFAULT_BASE_URL, Client
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SegellError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from .models import (
    Administration,
    AdministrationStatus,
    AdmittedAdministration,
    ApiKeyInfo,
    ChainBackend,
    ChainStatus,
    ContractAddresses,
    DatabaseStatus,
    Health,
    Identity,
    IssuedApiKey,
    Role,
    ServiceUrls,
)

__all__ = [
    "__version__",
    "Administration",
    "AdministrationStatus",
    "AdmittedAdministration",
    "APIError",
    "ApiKeyInfo",
    "AuthenticationError",
    "BadRequestError",
    "ChainBackend",
    "ChainStatus",
    "Client",
    "ConflictError",
    "ContractAddresses",
    "DatabaseStatus",
    "DEFAULT_BASE_URL",
    "Health",
    "Identity",
    "IssuedApiKey",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Role",
    "SegellError",
    "ServerError",
    "ServiceUnavailableError",
    "ServiceUrls",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
]
