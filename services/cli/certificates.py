"""`segell cert ...`: certificates from Segell's certificate authority for an administration."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from segell.sdk import Certificate, CertificateStatus, IssuedCertificate
from segell.services.cli.common import (
    IDENTITY_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    fail,
    jsonable,
    open_client,
    print_fields,
    print_json,
    require_value,
    timestamp,
)

cert_app = typer.Typer(
    help="Issue, show, list and revoke certificates of the sandbox certificate authority.", no_args_is_help=True
)
app.add_typer(cert_app, name="cert", rich_help_panel=IDENTITY_PANEL)


class Profile(StrEnum):
    employee = "employee"
    seal = "seal"
    citizen = "citizen"


class Reason(StrEnum):
    unspecified = "unspecified"
    key_compromise = "keyCompromise"
    affiliation_changed = "affiliationChanged"
    superseded = "superseded"
    cessation_of_operation = "cessationOfOperation"
    privilege_withdrawn = "privilegeWithdrawn"


SerialArgument = Annotated[
    str, typer.Argument(help="The certificate's serial number (hex).", show_default=False, callback=require_value)
]


# -- segell cert ------------------------------------------------------------------------------------


@cert_app.command("issue")
def cert_issue(
    ctx: typer.Context,
    profile: Annotated[Profile, typer.Option("--profile", help="Who holds it.", show_default=False)],
    name: Annotated[
        str | None, typer.Option(help="The holder's full name (employee, citizen).", show_default=False)
    ] = None,
    national_id: Annotated[
        str | None,
        typer.Option(
            "--national-id", help="The holder's national id; the server keeps only a salted hash.", show_default=False
        ),
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="E-mail address for the subjectAltName.", show_default=False)
    ] = None,
    position: Annotated[str | None, typer.Option(help="An employee's position.", show_default=False)] = None,
    csr: Annotated[
        Path | None,
        typer.Option(
            help="A PEM certificate signing request: certify its key instead of generating one.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    passphrase: Annotated[
        str | None,
        typer.Option(
            envvar="SEGELL_CERT_PASSPHRASE",
            help="Protects the PKCS#12 file (at least 8 characters); omitted: the server generates one.",
            show_default=False,
        ),
    ] = None,
    days: Annotated[int | None, typer.Option(help="Validity in days (default 730).", show_default=False)] = None,
    citizen_token: Annotated[
        str | None,
        typer.Option(
            "--citizen-token",
            envvar="SEGELL_CITIZEN_TOKEN",
            help="A citizen certificate needs the citizen: the token of their login with this administration "
            "(`segell otp verify`).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the PKCS#12 file (or the PEM certificate, with --csr); default <serial>.p12/.pem.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a certificate; the key and certificate are written to a PKCS#12 file, the passphrase printed once."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "cert issue")
    if profile is Profile.citizen and not citizen_token:
        fail(
            invocation,
            "A citizen certificate needs the citizen's consent: the citizen logs in (`segell otp send PHONE`, then "
            "`segell otp verify PHONE CODE`) and you pass their token with --citizen-token or SEGELL_CITIZEN_TOKEN.",
        )
    csr_pem = _read_text(invocation, csr) if csr is not None else None
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        issued = client.certificates.issue(
            profile.value,
            name=name,
            national_id=national_id,
            email=email,
            position=position,
            csr=csr_pem,
            passphrase=passphrase,
            validity_days=days,
            citizen_token=citizen_token if profile is Profile.citizen else None,
        )
    written = _write_issued(invocation, issued, out)
    if as_json:
        print_json({"certificate": _without_secrets(issued), "file": str(written), "passphrase": issued.passphrase})
        return
    invocation.out.print(f"Issued [bold]{issued.profile}[/bold] certificate [bold]{issued.serial}[/bold]")
    _print_certificate(invocation, issued)
    what = "PKCS#12 (key, certificate, chain)" if issued.pkcs12 is not None else "certificate (PEM)"
    invocation.out.print(f"{what} written to [bold]{escape(str(written))}[/bold]")
    if issued.passphrase is not None:
        invocation.out.print(
            f"passphrase  [bold]{escape(issued.passphrase)}[/bold]  [dim](shown only once: keep it)[/dim]"
        )


@cert_app.command("show")
def cert_show(
    ctx: typer.Context,
    serial: SerialArgument,
    pem: Annotated[bool, typer.Option("--pem", help="Print only the certificate, PEM.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a certificate: the administration's own with an API key, else its public status."""
    invocation = current_invocation(ctx)
    if invocation.api_key is None:
        if pem:
            fail(invocation, "The PEM of a certificate is shown to its administration: pass --api-key.")
        with open_client(invocation, api_key=None) as client:
            status = client.certificates.status(serial)
        if as_json:
            print_json(status)
            return
        _print_status(invocation, status)
        return
    with open_client(invocation, api_key=invocation.api_key, key_source="--api-key / SEGELL_API_KEY") as client:
        certificate = client.certificates.get(serial)
    if pem:
        print(certificate.certificate_pem, end="")
    elif as_json:
        print_json(certificate)
    else:
        _print_certificate(invocation, certificate)


@cert_app.command("list")
def cert_list(
    ctx: typer.Context,
    profile: Annotated[Profile | None, typer.Option(help="Only this profile.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """List the administration's certificates, newest first."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "cert list")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        certificates = client.certificates.list(profile=profile.value if profile else None)
    if as_json:
        print_json(certificates)
        return
    if not certificates:
        invocation.out.print("No certificates yet. Issue one with `segell cert issue --profile seal`.")
        return
    # One line each, the serial first and whole: it is what the other commands take.
    for certificate in certificates:
        invocation.out.print(
            f"{certificate.serial}  {certificate.profile:<8}  {_status_markup(certificate.status)}  "
            f"until {certificate.not_after:%Y-%m-%d}  {escape(certificate.common_name)}"
        )


@cert_app.command("revoke")
def cert_revoke(
    ctx: typer.Context,
    serial: SerialArgument,
    reason: Annotated[Reason, typer.Option(help="RFC 5280 reason.")] = Reason.unspecified,
    as_json: JsonOption = False,
) -> None:
    """Revoke a certificate: it is listed in the CRL at once, and the revocation is logged."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "cert revoke")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        certificate = client.certificates.revoke(serial, reason.value)
    if as_json:
        print_json(certificate)
        return
    invocation.out.print(f"Revoked certificate [bold]{certificate.serial}[/bold] ({reason.value})")
    _print_certificate(invocation, certificate)


# -- output -----------------------------------------------------------------------------------------


def _read_text(invocation: Invocation, path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        fail(invocation, f"Cannot read the CSR {path}: {exc}. Give a PEM file (-----BEGIN CERTIFICATE REQUEST-----).")


def _write_issued(invocation: Invocation, issued: IssuedCertificate, out: Path | None) -> Path:
    if issued.pkcs12 is not None:
        path, data = out or Path(f"{issued.serial}.p12"), issued.pkcs12
    else:
        path, data = out or Path(f"{issued.serial}.pem"), issued.certificate_pem.encode()
    try:
        # Owner-only from the start: the file holds a private key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
    except OSError as exc:
        fail(
            invocation,
            f"Certificate {issued.serial} was issued but {path} cannot be written ({exc.strerror or exc}); "
            f"its PEM stays available with `segell cert show {issued.serial} --pem`.",
        )
    return path


def _without_secrets(issued: IssuedCertificate) -> dict[str, object]:
    return {name: jsonable(getattr(issued, name)) for name in Certificate.__dataclass_fields__}


def _print_certificate(invocation: Invocation, certificate: Certificate) -> None:
    fields = [
        ("serial", certificate.serial),
        ("profile", certificate.profile),
        ("status", _status_markup(certificate.status)),
        ("subject", escape(certificate.subject)),
        ("issuer", escape(certificate.issuer)),
        (
            "registered by",
            escape(f"{certificate.registration_authority.name} ({certificate.registration_authority.code})"),
        ),
        *([("citizen", certificate.citizen_id)] if certificate.citizen_id is not None else []),
        ("valid", f"{timestamp(certificate.not_before)} to {timestamp(certificate.not_after)}"),
        ("key", f"{certificate.key_algorithm}, {'held by the server' if certificate.key_held else 'not held'}"),
        ("sha-256", certificate.fingerprint_sha256),
        ("log code", certificate.log_verification_code or ""),
    ]
    if certificate.revocation is not None:
        fields.append(("revoked", f"{timestamp(certificate.revocation.revoked_at)} ({certificate.revocation.reason})"))
    print_fields(invocation.out, fields)


def _print_status(invocation: Invocation, status: CertificateStatus) -> None:
    fields = [
        ("serial", status.serial),
        ("status", _status_markup(status.status)),
        ("profile", status.profile),
        ("issued for", escape(f"{status.administration_name} ({status.administration_code})")),
        ("valid", f"{timestamp(status.not_before)} to {timestamp(status.not_after)}"),
        ("CRL", status.crl_url),
    ]
    if status.revocation is not None:
        fields.append(("revoked", f"{timestamp(status.revocation.revoked_at)} ({status.revocation.reason})"))
    print_fields(invocation.out, fields)


def _status_markup(status: str) -> str:
    colour = {"valid": "green", "revoked": "red"}.get(status, "yellow")
    return f"[{colour}]{status}[/{colour}]"
