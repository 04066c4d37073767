"""The notarisation API: how every other domain notarises its outputs and reads the notary, in process.

The one door into the notary for the other domains (`tests/services/test_domain_boundaries.py` holds them to it):

- `notarise` a hash inside the caller's transaction: the document, its outbox entry, its links to the receipts
  it was made from (`derived_from`), who signed it (`signers`, public metadata) and the copy of it its holders may
  download (`public_copy`) are written in the caller's session, so the output and its notarisation commit or roll
  back together;
- `notarise_many` outputs (`Output`) in one round, in the caller's transaction: one statement for their documents,
  one for their outbox entries, one for their links, an output linked to those of the same call it was made from
  (an answer to its request);
- `reserve_code` before the output exists, for a code printed on the document it identifies;
- `first_anchoring`: whether and when a hash was first anchored on chain (a proof of existence);
- `KINDS` / `kinds()`: what the notary is asked to notarise, with labels for people in Catalan, Spanish, English;
- read-only lookups: a receipt, its proof bundle, a bundle or a public copy by verification code.

Example, in a domain's service::

    with runtime.transaction() as session:
        code = notary.reserve_code(session)
        output = make_output(printed_code=code.shown)
        receipt = notary.notarise(
            session, administration.id, sha256(output), kind="signed-pdf", code=code, derived_from=[original_id]
        )
        session.add(MyRecord(..., receipt_id=receipt.id))
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from segell.services.errors import NotFound
from segell.services.notary import repository, service
from segell.services.notary.codes import format_code, generate_code
from segell.services.notary.kinds import KINDS, NotarisedKind, kinds
from segell.services.notary.schemas import Anchor, ProofBundle, Receipt, VerificationCode
from segell.services.notary.service import (
    COPY_MEDIA_TYPES,
    AnchoredRoots,
    Anchoring,
    CopyFile,
    PublicCopy,
    PublicSigner,
    Submission,
)
from segell.services.runtime import Runtime

__all__ = [
    "COPY_MEDIA_TYPES",
    "KINDS",
    "Anchor",
    "AnchoredRoots",
    "Anchoring",
    "CopyFile",
    "NotarisedKind",
    "Output",
    "ProofBundle",
    "PublicCopy",
    "PublicSigner",
    "Receipt",
    "ReservedCode",
    "VerificationCode",
    "bundle",
    "bundle_by_code",
    "first_anchoring",
    "kinds",
    "linkable_receipt",
    "notarise",
    "notarise_many",
    "public_copy_by_code",
    "receipt",
    "reserve_code",
]


@dataclass(frozen=True)
class ReservedCode:
    """A verification code chosen before the output it identifies exists: `shown` is printed on the output
    (``XXXX-XXXX-XXXX-XXXX-C``), and the output is notarised with ``notarise(..., code=this)``."""

    stored: str
    shown: str


def reserve_code(session: Session) -> ReservedCode:
    """A verification code no document holds, to print on an output before notarising it.

    The code is 80 random bits: another document taking it before the output is notarised is not to be expected,
    and would be refused then (`Conflict` `verification_code_in_use`) rather than shared.
    """
    code = generate_code()
    while repository.code_in_use(session, code):
        code = generate_code()
    return ReservedCode(stored=code, shown=format_code(code))


def notarise(
    session: Session,
    administration_id: int,
    document_hash: str,
    *,
    kind: str,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    salted: bool = False,
    public: bool = False,
    code: ReservedCode | None = None,
    derived_from: Sequence[str] = (),
    signers: Sequence[PublicSigner] = (),
    public_copy: PublicCopy | None = None,
) -> Receipt:
    """Notarise an output of `administration_id` in the caller's transaction: its receipt (pending until the
    anchoring worker anchors it, after the caller commits).

    `document_hash` is the output's SHA-256 (64 hex digits); `kind` one of `KINDS`; `salted` for content that
    could be guessed, `public` to show kind and title to verification by hash even so; `code` a reserved code;
    `derived_from` the ids of the receipts the output was made from: the administration's own, or other
    administrations' public ones (`NotFound` `unknown_source` for any other); `signers` who signed it, as the
    caller checked (public verification shows them where it shows kind and title); `public_copy` the output's
    bytes, for whoever holds its code to download until it is revoked. An output notarised before keeps its
    receipt, code, links and signers (a copy is added if it had none). Refusals (`SegellError`) are raised before
    anything is written.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: add it to services.notary.kinds.KINDS, with its labels")
    if public_copy is not None and hashlib.sha256(public_copy.content).hexdigest() != document_hash:
        raise ValueError("the public copy is not the output whose hash is notarised")
    submission = Submission(
        document_hash=document_hash,
        kind=kind,
        title=title,
        metadata=metadata,
        salted=salted,
        public=public,
        verification_code=code.stored if code is not None else None,
        copy=public_copy,
    )
    notarised, _ = service.accept_derived(session, administration_id, submission, derived_from, signers)
    return notarised


@dataclass(frozen=True)
class Output:
    """An output to notarise with `notarise_many`: as `notarise`'s arguments, and `derived_from` the positions of
    the outputs of the same call it was made from (each before it)."""

    administration_id: int
    document_hash: str
    kind: str
    title: str | None = None
    public: bool = False
    derived_from: Sequence[int] = ()


def notarise_many(session: Session, outputs: Sequence[Output]) -> list[Receipt]:
    """Notarise `outputs` in the caller's transaction, in one round: their receipts, in order.

    The documents new to the notary go in with one statement, their outbox entries with another and their links
    with a third, where `notarise` checks, writes and links each one on its own: for outputs made many at a time,
    such as an exchange's request and the answer derived from it. An output may be derived from one of another
    administration only when that one is `public`. An output notarised before keeps its receipt and its links.

    Example::

        request, answer = notary.notarise_many(session, [
            Output(consumer.id, request_hash, "interop-request", public=True),
            Output(provider.id, answer_hash, "interop-answer", public=True, derived_from=[0]),
        ])
    """
    for position, output in enumerate(outputs):
        if output.kind not in KINDS:
            raise ValueError(f"unknown kind {output.kind!r}: add it to services.notary.kinds.KINDS, with its labels")
        for source in output.derived_from:
            if not 0 <= source < position:
                raise ValueError(f"output {position} is derived from {source}: name only outputs before it")
    submissions = [
        (output.administration_id, Submission(output.document_hash, output.kind, output.title, public=output.public))
        for output in outputs
    ]
    stored = service.accept_new(session, submissions)
    receipts: list[Receipt] = []
    links: list[tuple[str, str, int]] = []
    for (administration_id, submission), output, new in zip(submissions, outputs, stored, strict=True):
        created = new is not None
        if new is None:
            # Notarised before (or its code collided): its receipt, as `notarise` would answer it.
            new, created = service.accept(session, administration_id, submission, None)
        for position, source in enumerate(output.derived_from):
            named = receipts[source]
            if outputs[source].administration_id != administration_id and not named.public:
                raise NotFound(
                    f"No receipt {named.id} this administration may name as a source: its own receipts, and other "
                    "administrations' public ones.",
                    code="unknown_source",
                )
            if created:
                links.append((new.id, named.id, position))
        receipts.append(new)
    repository.add_links(session, links)
    return receipts


def linkable_receipt(session: Session, administration_id: int, document_hash: str) -> str | None:
    """The receipt of `document_hash` an output of `administration_id` would name in `derived_from`: its own,
    else the first public one of another administration; None when the hash was not notarised so."""
    return service.linkable_receipt_of_hash(session, administration_id, document_hash)


def first_anchoring(
    session: Session, runtime: Runtime, anchored_roots: AnchoredRoots, hashes: Sequence[str]
) -> Anchoring | None:
    """When any of `hashes` was first anchored, by any administration, its root checked on the chain: a proof of
    existence at that time. None when none of them is anchored."""
    return service.first_anchoring(session, runtime.notary, anchored_roots, hashes)


def receipt(session: Session, administration_id: int, receipt_id: str) -> Receipt:
    """A receipt of `administration_id`; `NotFound` for any other."""
    return service.get_receipt(session, administration_id, receipt_id)


def bundle(session: Session, administration_id: int, receipt_id: str) -> ProofBundle:
    """The proof bundle of a receipt of `administration_id`; `Conflict` `not_anchored` (409) while pending."""
    return service.bundle(session, administration_id, receipt_id)


def bundle_by_code(session: Session, code: str, *, location: str = "code") -> ProofBundle:
    """The proof bundle of the document with this verification code as a person typed it, whoever issued it:
    `ValidationFailed` for a malformed code (at `location`), `NotFound`, or `Conflict` while pending."""
    return service.bundle_by_code(session, service.stored_code(code, location=location), location=location)


def public_copy_by_code(session: Session, code: str, *, location: str = "code") -> CopyFile:
    """The copy of the document with this verification code as a person typed it, when its issuer kept one:
    `ValidationFailed` for a malformed code, `NotFound` (`not_found`, `no_public_copy`), or `Gone`
    (`document_revoked`) once the document is revoked."""
    return service.public_copy_by_code(session, service.stored_code(code, location=location), location=location)
