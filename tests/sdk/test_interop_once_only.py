"""Once-only through the SDK against a real server: a school keeps a citizen's diploma reusable
(`client.interop.mark_reusable`), a town hall asks for it (`request_document`), the citizen lists, previews and
decides with their token (`client.access`), and the town hall fetches it with its evidence; each refusal is the
SDK error class of its status, with the server's code."""

import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from segell.sdk import (
    CitizenOnceOnlyRequest,
    Client,
    ConflictError,
    DocumentCopy,
    NotFoundError,
    OnceOnlyDelivery,
    OnceOnlyRequest,
    PermissionDeniedError,
    ReusableDocument,
    ValidationError,
)
from segell.services.interop import api as interop
from segell.services.notary.settings import NotarySettings
from tests.helpers import CODE_IN_MESSAGE, RunningServer, make_pdf, make_settings, new_phone, serve

EDUCATION_LAW = "https://www.boe.es/eli/es/lo/2006/05/03/2"
OTHER_LAW = "https://www.boe.es/eli/es/l/2015/10/01/39"
GDPR = "http://data.europa.eu/eli/reg/2016/679/oj"


@dataclass
class OnceOnly:
    """`school` keeps the citizens' diplomas; `town_hall` asks for them in its procedures; `citizen` carries no key."""

    school: Client
    town_hall: Client
    citizen: Client
    seal_certificate: str

    def keep(self, national_id: str, content: bytes, **extra: Any) -> ReusableDocument:
        return self.school.interop.mark_reusable(
            national_id,
            "DIPLOMA",
            "Títol de graduat en Educació Secundària",
            "títol-ESO.pdf",
            content,
            extra.pop("seal_certificate", self.seal_certificate),
            legal_bases=extra.pop("legal_bases", [EDUCATION_LAW]),
            **extra,
        )

    def ask(self, national_id: str, legal_basis: str | None = None) -> OnceOnlyRequest:
        return self.town_hall.interop.request_document(
            national_id,
            "DIPLOMA",
            procedure_code="BEQUES-2027",
            case_id="B-2027-118",
            officer="Pere Vidal",
            legal_basis=legal_basis,
        )

    def citizen_token(self, national_id: str) -> str:
        """The token of the citizen holding `national_id`, logged in with the town hall by SMS and bound."""
        phone = new_phone()
        address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
        self.town_hall.auth.request_otp(phone, client_address=address)
        match = CODE_IN_MESSAGE.search(self.town_hall.auth.otp_outbox(phone=phone, limit=1)[0].message)
        assert match is not None
        token = self.town_hall.auth.verify_otp(phone, match.group(1), client_address=address).access_token
        self.town_hall.interop.bind_citizen(token, national_id)
        return token

    def evidence_when_anchored(self, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            try:
                return self.town_hall.interop.document_evidence(request_id)
            except ConflictError as pending:
                assert pending.code == "not_anchored" and time.monotonic() < deadline, pending.message
            time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("segell-sdk-once-only")
    yield from serve(make_settings(home, NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def once_only(server: RunningServer) -> Iterator[OnceOnly]:
    with (
        Client(server.url, api_key=server.admit(name="Institut Vicens Vives"), timeout=30) as school,
        Client(server.url, api_key=server.admit(name="Ajuntament de Figueres"), timeout=30) as town_hall,
        Client(server.url, timeout=30) as citizen,
    ):
        yield OnceOnly(school, town_hall, citizen, school.certificates.issue("seal").serial)


def national_id() -> str:
    return f"{secrets.randbelow(10**8):08d}R"


def test_once_only_delivers_the_document_once_the_citizen_previews_it_and_consents(once_only: OnceOnly) -> None:
    subject, content = national_id(), make_pdf("Titol de graduat en ESO: Nuria Serra")
    kept = once_only.keep(subject, content)
    assert isinstance(kept, ReusableDocument) and kept.id.startswith("rd_")
    assert (kept.holder.name, kept.document_type, kept.file_name) == (
        "Institut Vicens Vives",
        "DIPLOMA",
        "títol-ESO.pdf",
    )
    assert (kept.size, kept.sha256, kept.legal_bases) == (
        len(content),
        hashlib.sha256(content).hexdigest(),
        (EDUCATION_LAW,),
    )
    assert kept.media_type == "application/pdf" and kept.receipt_id

    request = once_only.ask(subject)
    assert isinstance(request, OnceOnlyRequest)
    assert (request.status, request.legal_basis, request.decided_at) == ("consent_pending", None, None)
    assert (request.holder.name, request.consumer.name) == ("Institut Vicens Vives", "Ajuntament de Figueres")
    with pytest.raises(PermissionDeniedError) as missing:
        once_only.town_hall.interop.fetch_document(request.id)
    assert missing.value.code == "consent_missing" and "/me/access" in missing.value.message

    token = once_only.citizen_token(subject)
    listed = once_only.citizen.access.document_requests(token)
    assert [(r.id, r.status, r.document_title, r.consumer.name, r.holder.name) for r in listed] == [
        (
            request.id,
            "consent_pending",
            "Títol de graduat en Educació Secundària",
            "Ajuntament de Figueres",
            "Institut Vicens Vives",
        )
    ]
    preview = once_only.citizen.access.preview_document(token, request.id)
    assert preview == DocumentCopy(file_name="títol-ESO.pdf", media_type="application/pdf", content=content)
    decided = once_only.citizen.access.decide_document_request(token, request.id, "consent")
    assert isinstance(decided, CitizenOnceOnlyRequest)
    assert decided.status == "authorised" and decided.decided_at is not None
    assert once_only.town_hall.interop.document_request(request.id).status == "authorised"
    with pytest.raises(ConflictError) as not_delivered:
        once_only.town_hall.interop.document_evidence(request.id)
    assert not_delivered.value.code == "not_delivered"

    delivery = once_only.town_hall.interop.fetch_document(request.id)

    assert isinstance(delivery, OnceOnlyDelivery)
    assert delivery.content == content and delivery.file_name == "títol-ESO.pdf"
    assert delivery.sha256 == kept.sha256 == delivery.answer["data"]["sha256"]
    assert delivery.answer["request_hash"] == delivery.request_hash
    assert delivery.request_document["service"] == "ONCE_ONLY:DIPLOMA"
    assert delivery.request.status == "delivered" and delivery.request.delivered_at is not None
    assert delivery.evidence_url.endswith(f"/v1/interop/once-only/requests/{request.id}/evidence")
    # Fetched again: the same delivery, not a second access.
    assert once_only.town_hall.interop.fetch_document(request.id).answer_jws == delivery.answer_jws
    assert [r.status for r in once_only.citizen.access.document_requests(token)] == ["delivered"]
    log = once_only.citizen.access.log(token)
    assert [(a.id, a.data, a.provider.name, a.legal_basis, a.consent_reference) for a in log.accesses] == [
        (request.id, "DIPLOMA", "Institut Vicens Vives", GDPR, f"segell:once-only:{request.id}")
    ]
    checked = interop.verify_evidence(once_only.evidence_when_anchored(request.id))
    assert checked.valid, checked.problems
    assert checked.answer is not None and checked.answer["data"]["sha256"] == kept.sha256


def test_once_only_refusal_keeps_the_document_from_the_consumer(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Jordi Pla"))
    request = once_only.ask(subject)
    token = once_only.citizen_token(subject)

    refused = once_only.citizen.access.decide_document_request(token, request.id, "refuse")

    assert refused.status == "refused"
    with pytest.raises(ConflictError) as again:
        once_only.citizen.access.decide_document_request(token, request.id, "consent")
    assert again.value.code == "already_decided"
    with pytest.raises(PermissionDeniedError) as fetch:
        once_only.town_hall.interop.fetch_document(request.id)
    assert fetch.value.code == "consent_refused"
    with pytest.raises(PermissionDeniedError) as evidence:
        once_only.town_hall.interop.document_evidence(request.id)
    assert evidence.value.code == "consent_refused"
    assert once_only.town_hall.interop.document_request(request.id).status == "refused"
    assert once_only.citizen.access.log(token).accesses == ()


def test_once_only_under_a_legal_basis_the_holder_accepts_needs_no_consent(once_only: OnceOnly) -> None:
    subject, content = national_id(), make_pdf("Titol: Laia Costa")
    once_only.keep(subject, content)

    request = once_only.ask(subject, legal_basis=EDUCATION_LAW)

    assert (request.status, request.legal_basis) == ("authorised", EDUCATION_LAW)
    assert once_only.town_hall.interop.fetch_document(request.id).content == content
    token = once_only.citizen_token(subject)
    with pytest.raises(ConflictError) as decided:
        once_only.citizen.access.decide_document_request(token, request.id, "refuse")
    assert decided.value.code == "already_decided"
    log = once_only.citizen.access.log(token)
    assert [(a.legal_basis, a.consent_reference) for a in log.accesses] == [(EDUCATION_LAW, None)]


def test_request_document_refuses_a_norm_the_holder_does_not_accept(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Marc Puig"))

    with pytest.raises(PermissionDeniedError) as refused:
        once_only.ask(subject, legal_basis=OTHER_LAW)

    assert refused.value.code == "legal_basis_not_accepted"
    assert EDUCATION_LAW in refused.value.message


def test_request_document_refuses_a_citizen_whose_document_nobody_keeps(once_only: OnceOnly) -> None:
    with pytest.raises(NotFoundError) as missing:
        once_only.ask(national_id())

    assert missing.value.code == "no_reusable_document"


def test_mark_reusable_refuses_a_certificate_that_is_not_a_seal(once_only: OnceOnly) -> None:
    employee = once_only.school.certificates.issue("employee", name="Anna Roca", national_id=national_id()).serial

    with pytest.raises(ValidationError) as refused:
        once_only.keep(national_id(), make_pdf("Titol: Pau Vila"), seal_certificate=employee)

    assert "seal" in refused.value.message


def test_once_only_request_is_hidden_from_other_administrations_and_other_citizens(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Clara Font"))
    request = once_only.ask(subject)
    stranger = once_only.citizen_token(national_id())

    with pytest.raises(NotFoundError) as other_administration:
        once_only.school.interop.document_request(request.id)
    with pytest.raises(NotFoundError) as other_citizen:
        once_only.citizen.access.preview_document(stranger, request.id)

    assert other_administration.value.code == other_citizen.value.code == "once_only_request_not_found"
    assert once_only.citizen.access.document_requests(stranger) == []
