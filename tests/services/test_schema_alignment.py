"""Requests on the edge of what the OpenAPI schema allows, against a real server: what the schema forbids is
refused, and what it allows is never refused for its shape."""

from collections.abc import Iterator

import pytest

from tests.helpers import CitizenApp, RunningServer, Tenant, admit, make_pdf, new_phone, wrong_code


@pytest.fixture(scope="module")
def tenant(segell_server: RunningServer) -> Iterator[Tenant]:
    with admit(segell_server, "Ajuntament de Tremp") as admitted:
        admitted.issue("seal")
        yield admitted


@pytest.mark.parametrize("option", ["certificate", "format", "placement", "lang", "public_copy"])
def test_sign_with_an_empty_option_answers_422_naming_it(tenant: Tenant, option: str) -> None:
    # An empty `certificate` was taken for no part at all: the document was signed with the seal (201).
    response = tenant.sign(make_pdf("Empty option"), "acta.pdf", **{"as": "seal", option: ""})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [detail["location"] for detail in error["details"]] == [f"body.{option}"]


def test_sign_without_the_optional_parts_uses_their_defaults(tenant: Tenant) -> None:
    signed = tenant.signed(make_pdf("No options"), "acta.pdf", **{"as": "seal"})

    assert signed["format"] == "PAdES"


def test_verify_otp_with_a_wrong_code_answers_403_not_a_refusal_of_its_shape(tenant: Tenant) -> None:
    # The body is valid (a number, six digits); only the code is not the one sent. A 400 said the request was
    # malformed, which the schema contradicted.
    app = CitizenApp(tenant.code, tenant.key, tenant.http)
    phone = new_phone()
    assert app.send(phone, client_address="192.0.2.41").status_code == 202

    response = app.verify(phone, wrong_code(app.last_code(phone)), client_address="192.0.2.41")

    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]) == ("wrong_code", {"attempts_left": 4})
