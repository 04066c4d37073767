"""Segell SDK: a typed Python client for the Segell sandbox API.

Usage::

    from segell.sdk import Client, NotFoundError

    with Client("http://127.0.0.1:8000", api_key="sgl_...") as segell:
        print(segell.health().chain.backend)
        try:
            segell.administrations.get("L01080193")
        except NotFoundError as exc:
            print(exc.message)

Notarising a document and checking it later with nothing but its proof bundle and a node of the chain::

    from segell.sdk import Client, verify_bundle

    with Client(api_key=administration_key) as segell:
        receipt = segell.documents.wait_until_anchored(segell.documents.notarise(Path("acta.pdf")).id)
        bundle = segell.documents.bundle(receipt.id)
        trusted = [segell.deployment().trusted_notary]  # the deployment's Notary, pinned once

    result = verify_bundle(bundle, Path("acta.pdf"), "https://segell.example/rpc", trusted_notaries=trusted)
    print(result.status, result.reason)
"""

from ._version import __version__
from .administrations import Administrations, GovernanceKeys
from .certificates import (
    Certificate,
    CertificateAuthorityInfo,
    CertificateLogEntry,
    CertificateLogRecord,
    CertificateProfile,
    CertificateRevocation,
    Certificates,
    CertificateState,
    CertificateStatus,
    IssuedCertificate,
    RegistrationAuthority,
    RevocationReason,
)
from .citizen_auth import (
    Citizen,
    CitizenAuth,
    Citizens,
    CitizenToken,
    OtpChallenge,
    SmsMessage,
    TotpEnrolment,
    TotpState,
)
from .client import DEFAULT_BASE_URL, Client
from .contracts import (
    CompilerMessage,
    ContractCall,
    ContractDetails,
    ContractEvent,
    ContractOrigin,
    Contracts,
    ContractTransaction,
    DeployedContract,
    SandboxContract,
)
from .documents import BATCH_LIMIT, Documents
from .errors import (
    AnchorTimeoutError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RPCError,
    SegellError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    TrustStoreError,
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
    DeploymentInfo,
    DocumentStatus,
    Health,
    Identity,
    IssuedApiKey,
    Issuer,
    Language,
    Receipt,
    Revocation,
    Role,
    ServiceUrls,
    Verification,
    VerificationMatch,
    VerificationSource,
    VerificationStatus,
)
from .sandboxes import (
    ExportedAccount,
    Sandbox,
    SandboxBackend,
    SandboxContracts,
    Sandboxes,
    SandboxSnapshot,
    SandboxState,
)
from .signatures import (
    Indication,
    ProofOfExistence,
    SignatureFormat,
    SignatureReport,
    Signatures,
    SignatureValidation,
    SignedDocument,
    Signer,
    SignerKind,
)
from .trust import PinnedDeployment, TrustedNotary, TrustStore, default_trust_store_path
from .verification import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    INFORMATIVE_FIELDS,
    BundleIssuer,
    BundleRevocation,
    BundleSource,
    BundleStatus,
    BundleVerification,
    verify_bundle,
    verify_bundle_proof,
)

__all__ = [
    "__version__",
    "Administration",
    "Administrations",
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
    "BundleSource",
    "BundleStatus",
    "BundleVerification",
    "Certificate",
    "CertificateAuthorityInfo",
    "CertificateLogEntry",
    "CertificateLogRecord",
    "CertificateProfile",
    "CertificateRevocation",
    "Certificates",
    "CertificateState",
    "CertificateStatus",
    "ChainBackend",
    "ChainStatus",
    "Citizen",
    "CitizenAuth",
    "Citizens",
    "CitizenToken",
    "Client",
    "CompilerMessage",
    "ConflictError",
    "ContractAddresses",
    "ContractCall",
    "ContractDetails",
    "ContractEvent",
    "ContractOrigin",
    "Contracts",
    "ContractTransaction",
    "DatabaseStatus",
    "DEFAULT_BASE_URL",
    "default_trust_store_path",
    "DeployedContract",
    "DeploymentInfo",
    "Documents",
    "DocumentStatus",
    "ExportedAccount",
    "GovernanceKeys",
    "Health",
    "Identity",
    "Indication",
    "INFORMATIVE_FIELDS",
    "IssuedApiKey",
    "IssuedCertificate",
    "Issuer",
    "Language",
    "NotFoundError",
    "OtpChallenge",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PinnedDeployment",
    "ProofOfExistence",
    "RateLimitError",
    "Receipt",
    "RegistrationAuthority",
    "Revocation",
    "RevocationReason",
    "Role",
    "RPCError",
    "Sandbox",
    "SandboxBackend",
    "SandboxContract",
    "SandboxContracts",
    "Sandboxes",
    "SandboxSnapshot",
    "SandboxState",
    "SegellError",
    "ServerError",
    "ServiceUnavailableError",
    "ServiceUrls",
    "SignatureFormat",
    "SignatureReport",
    "Signatures",
    "SignatureValidation",
    "SignedDocument",
    "Signer",
    "SignerKind",
    "SmsMessage",
    "TotpEnrolment",
    "TotpState",
    "TransportError",
    "TrustedNotary",
    "TrustStore",
    "TrustStoreError",
    "UnexpectedResponseError",
    "ValidationError",
    "Verification",
    "VerificationMatch",
    "VerificationSource",
    "VerificationStatus",
    "verify_bundle",
    "verify_bundle_proof",
]
