import inspect
import subprocess
import sys
import types

import pytest

from segell import sdk


def test_all_imports_are_exported() -> None:
    included_private_members = ["__version__"]
    public_members = (
        member
        for member, value in vars(sdk).items()
        # Submodules (sdk.client, sdk.errors, sdk.models) are importable but not re-exported names.
        if (not member.startswith("_") or member in included_private_members)
        and not isinstance(value, types.ModuleType)
    )
    assert sdk.__all__ == sorted(public_members, key=str.casefold)


def test_every_exception_derives_from_segell_error() -> None:
    exceptions = [getattr(sdk, name) for name in sdk.__all__ if name.endswith("Error")]
    assert exceptions, "the SDK exports its exceptions"
    assert all(issubclass(exception, sdk.SegellError) for exception in exceptions)


def test_sdk_imports_neither_chain_nor_services() -> None:
    # The SDK talks HTTP and JSON-RPC only: importing it must not pull in the server or the chain stack.
    code = (
        "import sys, segell.sdk; "
        "print(sorted({'.'.join(name.split('.')[:2]) for name in sys.modules} & {'segell.chain', 'segell.services'}))"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert answer.stdout.strip() == "[]"


def test_notary_api_is_exported() -> None:
    for name in ("verify_bundle", "verify_bundle_proof", "BundleVerification", "Receipt", "Verification"):
        assert name in sdk.__all__
    assert callable(sdk.verify_bundle) and callable(sdk.Documents.notarise)


GROUPS = {
    "documents": (
        sdk.Documents,
        {
            "notarise",
            "notarise_many",
            "get",
            "list",
            "iterate",
            "bundle",
            "bundles",
            "wait_for_bundles",
            "export_bundles",
            "wait_until_anchored",
            "revoke",
            "verify",
            "bundle_by_code",
            "download",
        },
    ),
    "certificates": (sdk.Certificates, {"issue", "list", "get", "revoke", "status", "log", "log_bundle", "authority"}),
    "signatures": (sdk.Signatures, {"sign", "validate"}),
    "sandboxes": (
        sdk.Sandboxes,
        {
            "create",
            "list",
            "get",
            "delete",
            "extend",
            "snapshot",
            "list_snapshots",
            "revert",
            "reset",
            "export_accounts",
            "rpc",
            "web3",
        },
    ),
    "contracts": (sdk.Contracts, {"deploy", "register", "list", "get", "call", "send", "events"}),
    "auth": (sdk.CitizenAuth, {"request_otp", "verify_otp", "verify_totp", "otp_outbox", "json_web_keys"}),
    "citizens": (sdk.Citizens, {"me", "enrol_totp", "confirm_totp"}),
    "access": (
        sdk.CitizenAccess,
        {"log", "export", "anchor", "document_requests", "preview_document", "decide_document_request"},
    ),
    "interop": (
        sdk.Interop,
        {
            "services",
            "register_service",
            "upload_records",
            "request_authorisation",
            "authorisations",
            "decide_authorisation",
            "request",
            "exchange",
            "evidence",
            "bind_citizen",
            "mark_reusable",
            "request_document",
            "document_request",
            "fetch_document",
            "document_evidence",
        },
    ),
    "administrations": (
        sdk.Administrations,
        {"admit", "list", "get", "update", "suspend", "reinstate", "issue_api_key", "list_api_keys", "revoke_api_key"},
    ),
    "governance_keys": (sdk.GovernanceKeys, {"list", "rotate", "revoke"}),
    "transparency": (sdk.Transparency, {"submit", "list", "get", "accesses", "received", "received_file"}),
}


def public_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if not name.startswith("_") and callable(value)}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_client_group_has_its_methods(group: str) -> None:
    cls, methods = GROUPS[group]

    with sdk.Client() as client:
        assert type(getattr(client, group)) is cls
    assert public_methods(cls) == methods


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_public_method_of_a_group_has_a_docstring(group: str) -> None:
    cls, _ = GROUPS[group]

    undocumented = [name for name in public_methods(cls) if not inspect.getdoc(getattr(cls, name))]

    assert cls.__doc__ and undocumented == []


def test_client_keeps_only_server_methods_beside_its_groups() -> None:
    # One way to call each thing: the domain methods live in the groups, not on the client as well.
    members = {name for name in vars(sdk.Client) if not name.startswith("_")}

    assert members - set(GROUPS) == {"base_url", "close", "health", "me", "deployment"}
    assert all(name in sdk.Client.__annotations__ for name in GROUPS)


def test_every_exception_of_sdk_errors_is_exported() -> None:
    from segell.sdk import errors

    defined = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}

    assert defined <= set(errors.__all__) <= set(sdk.__all__)
    assert "RateLimitError" in sdk.__all__ and issubclass(sdk.RateLimitError, sdk.APIError)
