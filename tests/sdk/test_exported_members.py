import types

import sdk


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
