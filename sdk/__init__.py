"""Segell SDK: a typed Python client for the Segell sandbox API.

Usage::

    from sdk import Client, NotFoundError

    with Client("http://127.0.0.1:8000", api_key="sgl_...") as segell:
        print(segell.health().chain.backend)
        try:
            segell.get_administration("L01080193")
        except NotFoundError as exc:
            print(exc.message)

Notarising a document and checking it later with nothing but its proof bundle and a node of the chain::

    from sdk import Client, verify_bundle

    with Client(api_key=administration_key) as segell:
        receipt = segell.wait_until_anchored(segell.notarise(Path("acta.pdf")).id)
        bundle = segell.bundle(receipt.id)

    result = verify_bundle(bundle, Path("acta.pdf"), "https://segell.example/rpc")
    print(result.status, result.reason)
"""

from ._version import __version__
from .client import BATCH_LIMIT, DEFAULT_BASE_URL, Client
from .errors import (
    AnchorTimeoutError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RPCError,
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
    Anchor,
    ApiKeyInfo,
    ChainBackend,
    ChainStatus,
    ContractAddresses,
    DatabaseStatus,
    DocumentStatus,
    Health,
    Identity,
    IssuedApiKey,
    Issuer,
    Receipt,
    Revocation,
    Role,
    ServiceUrls,
    Verification,
    VerificationMatch,
    VerificationStatus,
)
from .verification import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    BundleIssuer,
    BundleRevocation,
    BundleStatus,
    BundleVerification,
    verify_bundle,
    verify_bundle_proof,
)

__all__ = [
    "__version__",
    "Administration",
    "AdministrationStatus",
    "AdmittedAdministration",
    "Anchor",
    "AnchorTimeoutError",
    "APIError",
    "ApiKeyInfo",
    "AuthenticationError",
    "BadRequestError",
    "BATCH_LIMIT",
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BundleIssuer",
    "BundleRevocation",
    "BundleStatus",
    "BundleVerification",
    "ChainBackend",
    "ChainStatus",
    "Client",
    "ConflictError",
    "ContractAddresses",
    "DatabaseStatus",
    "DEFAULT_BASE_URL",
    "DocumentStatus",
    "Health",
    "Identity",
    "IssuedApiKey",
    "Issuer",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Receipt",
    "Revocation",
    "Role",
    "RPCError",
    "SegellError",
    "ServerError",
    "ServiceUnavailableError",
    "ServiceUrls",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
    "Verification",
    "VerificationMatch",
    "VerificationStatus",
    "verify_bundle",
    "verify_bundle_proof",
]
