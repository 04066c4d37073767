"""Evidence files of exchanges, and checking one offline.

An evidence file (``segell-interop-evidence``, version 1) is one JSON object:

- ``request_json``: the request document, exactly the bytes whose SHA-256 is the request's notarised hash;
- ``answer_jws``: the provider's sealed answer (compact JWS, ES256, chain in ``x5c``); its payload is the answer
  document, whose SHA-256 is the answer's notarised hash, and which names the request's hash;
- ``certificate_chain``: the seal certificate, the issuing CA and the root CA, in PEM (the same as ``x5c``);
- ``request_bundle``, ``answer_bundle``: the notary's proof bundles (docs/proof-bundle.md) of both hashes.

`verify_evidence` checks the signature, the chain up to the root the caller trusts, the binding of the answer to
the request, and both bundles: their proofs offline, and on chain through `segell.sdk.verify_bundle` when given a
node. docs/interop.md shows the same checks by hand, with openssl and any node of the chain.
"""

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from segell.sdk.trust import TrustedNotary
from segell.sdk.verification import BundleVerification, verify_bundle, verify_bundle_proof
from segell.services.interop.sealing import InvalidJws, open_jws

EVIDENCE_FORMAT = "segell-interop-evidence"
EVIDENCE_VERSION = 1


def build_evidence(
    *, request_document: str, answer_jws: str, request_bundle: Mapping[str, Any], answer_bundle: Mapping[str, Any]
) -> dict[str, Any]:
    """The evidence file of one exchange, as a JSON object."""
    header = json.loads(base64.urlsafe_b64decode(answer_jws.split(".")[0] + "=" * (-len(answer_jws.split(".")[0]) % 4)))
    chain = [
        x509.load_der_x509_certificate(base64.b64decode(entry)).public_bytes(Encoding.PEM).decode()
        for entry in header["x5c"]
    ]
    return {
        "format": EVIDENCE_FORMAT,
        "version": EVIDENCE_VERSION,
        "request_json": request_document,
        "answer_jws": answer_jws,
        "certificate_chain": chain,
        "request_bundle": dict(request_bundle),
        "answer_bundle": dict(answer_bundle),
    }


@dataclass
class EvidenceVerification:
    """The outcome of checking an evidence file: `valid` only when every check passed; `problems` says what did
    not, in plain words. `bundles` are the two bundle checks (request's, answer's) when they were made."""

    valid: bool
    problems: list[str]
    request_hash: str | None = None
    answer_hash: str | None = None
    answer: dict[str, Any] | None = None
    signer: str | None = None
    root_fingerprint: str | None = None
    bundles: dict[str, BundleVerification] = field(default_factory=dict)


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _check_chain(certificates: list[x509.Certificate], at: datetime | None, root: x509.Certificate | None) -> list[str]:
    problems: list[str] = []
    if len(certificates) < 2:
        return ["the seal's certificate chain must hold the seal certificate and its CAs up to the root"]
    for child, parent in zip(certificates, certificates[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except Exception:  # InvalidSignature, or a name or key type that does not match
            problems.append(f"{child.subject.rfc4514_string()} is not issued by {parent.subject.rfc4514_string()}")
    for ca in certificates[1:]:
        try:
            constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            problems.append(f"{ca.subject.rfc4514_string()} is not a certificate authority")
    top = certificates[-1]
    try:
        top.verify_directly_issued_by(top)
    except Exception:
        problems.append("the chain does not end at a self-signed root")
    if root is not None and _fingerprint(top) != _fingerprint(root):
        problems.append(
            f"the chain ends at a root (SHA-256 {_fingerprint(top)}) that is not the one trusted ({_fingerprint(root)})"
        )
    if at is not None:
        for certificate in certificates:
            if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
                problems.append(f"{certificate.subject.rfc4514_string()} was not valid when the answer was sealed")
    return problems


def verify_evidence(
    evidence: Mapping[str, Any],
    *,
    trusted_root: x509.Certificate | None = None,
    rpc_url: str | None = None,
    trusted_notaries: Iterable[TrustedNotary | str] | None = None,
    http: httpx.Client | None = None,
) -> EvidenceVerification:
    """Check an evidence file offline: the answer's seal, its certificate chain up to `trusted_root` (without one,
    only up to the root the file holds, whose fingerprint is returned to be compared), the answer naming the
    request's hash, and both proof bundles being those hashes' with valid Merkle proofs. With `rpc_url`, each
    bundle is also checked on chain against `trusted_notaries` (`segell.sdk.verify_bundle`)."""
    problems: list[str] = []
    result = EvidenceVerification(valid=False, problems=problems)
    if evidence.get("format") != EVIDENCE_FORMAT or evidence.get("version") != EVIDENCE_VERSION:
        problems.append(f"not a {EVIDENCE_FORMAT} file of version {EVIDENCE_VERSION}")
        return result
    request_json, jws = evidence.get("request_json"), evidence.get("answer_jws")
    if not isinstance(request_json, str) or not isinstance(jws, str):
        problems.append("the file lacks its request_json or answer_jws")
        return result
    try:
        _, payload, certificates = open_jws(jws)
    except InvalidJws as exc:
        problems.append(f"the answer's seal: {exc}")
        return result
    try:
        answer = json.loads(payload)
        request = json.loads(request_json)
    except ValueError:
        problems.append("the request or the answer is not JSON")
        return result
    if not isinstance(answer, dict) or not isinstance(request, dict):
        problems.append("the request or the answer is not a JSON object")
        return result
    result.answer = answer
    result.request_hash = hashlib.sha256(request_json.encode()).hexdigest()
    result.answer_hash = hashlib.sha256(payload).hexdigest()
    result.signer = certificates[0].subject.rfc4514_string()
    result.root_fingerprint = _fingerprint(certificates[-1])
    chain = evidence.get("certificate_chain")
    if not isinstance(chain, list) or [
        _fingerprint(x509.load_pem_x509_certificate(pem.encode())) for pem in chain if isinstance(pem, str)
    ] != [_fingerprint(certificate) for certificate in certificates]:
        problems.append("certificate_chain is not the chain the seal carries (x5c)")
    answered_at = _moment(answer.get("answered_at"))
    problems += _check_chain(certificates, answered_at, trusted_root)
    if answer.get("request_hash") != result.request_hash:
        problems.append("the answer names another request's hash: it does not answer this request")
    if answer.get("exchange_id") != request.get("id") or answer.get("provider") != request.get("provider"):
        problems.append("the answer's exchange or provider is not the request's")
    for name, document_hash in (("request", result.request_hash), ("answer", result.answer_hash)):
        bundle = evidence.get(f"{name}_bundle")
        if not isinstance(bundle, Mapping):
            problems.append(f"the {name}'s proof bundle is missing")
            continue
        checked = (
            verify_bundle(bundle, document_hash, rpc_url, trusted_notaries=trusted_notaries, http=http)
            if rpc_url is not None
            else verify_bundle_proof(bundle, document_hash)
        )
        result.bundles[name] = checked
        if not checked.valid:
            problems.append(f"the {name}'s proof bundle: {checked.reason}")
    result.valid = not problems
    return result


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
