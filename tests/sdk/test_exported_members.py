import subprocess
import sys
import types

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
    assert callable(sdk.verify_bundle) and callable(sdk.Client.notarise)
