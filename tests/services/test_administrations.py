"""Administration management over real HTTP against the embedded chain."""

import httpx
import pytest

from segell.chain.registry import RegistryClient
from segell.services.administrations.service import registry_id_for
from tests.helpers import RunningServer


def admit(governance: httpx.Client, code: str, name: str = "Ajuntament de Prova") -> dict:
    response = governance.post("/v1/administrations", json={"code": code, "name": name})
    assert response.status_code == 201, response.text
    return response.json()


def registry_of(server: RunningServer) -> RegistryClient:
    runtime = server.app.state.runtime  # type: ignore[attr-defined]
    return RegistryClient(runtime.node.w3, runtime.deployment.registry)


def test_admit_administration_registers_it_on_chain(segell_server: RunningServer, governance: httpx.Client) -> None:
    body = admit(governance, " l01080193 ", "Ajuntament de Barcelona")
    administration = body["administration"]
    assert administration["code"] == "L01080193"
    assert administration["status"] == "active"
    assert administration["registry_id"] == registry_id_for("L01080193")
    assert len(administration["accounts"]) == 1
    registry = registry_of(segell_server)
    account = administration["accounts"][0]
    assert registry.is_active_member(account)
    assert registry.administration_of(account) == bytes.fromhex(administration["registry_id"][2:])
    assert (
        registry.get_administration(bytes.fromhex(administration["registry_id"][2:])).name == "Ajuntament de Barcelona"
    )
    runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.node.w3.eth.get_balance(account) > 0


def test_issued_key_authenticates_as_the_administration(segell_server: RunningServer, governance: httpx.Client) -> None:
    key = admit(governance, "P0801900B")["api_key"]["key"]
    with segell_server.client(key) as client:
        me = client.get("/v1/me").json()
    assert me["role"] == "administration"
    assert me["administration"]["code"] == "P0801900B"


def test_admit_administration_twice_conflicts(governance: httpx.Client) -> None:
    admit(governance, "L01170792")
    response = governance.post("/v1/administrations", json={"code": "L01170792", "name": "Again"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_admitted"


def test_admit_administration_with_invalid_code_is_rejected(governance: httpx.Client) -> None:
    for code in ["", "x", "has space", "Ñ0000000", "A" * 33]:
        response = governance.post("/v1/administrations", json={"code": code, "name": "N"})
        assert response.status_code == 422, code
        assert response.json()["error"]["code"] == "validation_error"
        assert "DIR3 unit code or tax code" in response.json()["error"]["message"], code


def test_admit_administration_not_enough_permissions(segell_server: RunningServer, governance: httpx.Client) -> None:
    key = admit(governance, "L08000001")["api_key"]["key"]
    with segell_server.client(key) as client:
        response = client.post("/v1/administrations", json={"code": "L08000002", "name": "Intruder"})
        assert response.status_code == 403
        assert client.get("/v1/administrations").status_code == 403
    listed = [a["code"] for a in governance.get("/v1/administrations").json()["items"]]
    assert "L08000002" not in listed


def test_requests_without_or_with_bad_key_are_unauthenticated(segell_server: RunningServer) -> None:
    with segell_server.client() as anonymous:
        response = anonymous.get("/v1/administrations")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in response.json()["error"]["message"]
    for bad in ["nonsense", "sgl_000000000000_wrong", segell_server.governance_key + "x"]:
        with segell_server.client(bad) as client:
            assert client.get("/v1/me").status_code == 401, bad


def test_suspend_administration_stops_its_keys_and_its_chain_membership(
    segell_server: RunningServer, governance: httpx.Client
) -> None:
    body = admit(governance, "L25120001")
    key, account = body["api_key"]["key"], body["administration"]["accounts"][0]
    suspended = governance.post("/v1/administrations/L25120001/suspend")
    assert suspended.status_code == 200
    assert suspended.json()["status"] == "suspended"
    assert not registry_of(segell_server).is_active_member(account)
    with segell_server.client(key) as client:
        response = client.get("/v1/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "administration_suspended"

    reinstated = governance.post("/v1/administrations/L25120001/reinstate")
    assert reinstated.json()["status"] == "active"
    assert registry_of(segell_server).is_active_member(account)
    with segell_server.client(key) as client:
        assert client.get("/v1/me").status_code == 200


def test_suspend_unknown_administration_is_not_found(governance: httpx.Client) -> None:
    response = governance.post("/v1/administrations/NOPE0000/suspend")
    assert response.status_code == 404
    assert "GET /v1/administrations" in response.json()["error"]["message"]


def test_api_keys_are_shown_once_and_revocable(segell_server: RunningServer, governance: httpx.Client) -> None:
    admit(governance, "L43000001")
    issued = governance.post("/v1/administrations/L43000001/api-keys")
    assert issued.status_code == 201
    key = issued.json()["key"]
    listed = governance.get("/v1/administrations/L43000001/api-keys").json()["items"]
    assert len(listed) == 2
    assert all("key" not in item for item in listed)
    assert key not in str(listed)

    with segell_server.client(key) as client:
        assert client.get("/v1/me").status_code == 200
        revoked = governance.delete(f"/v1/administrations/L43000001/api-keys/{issued.json()['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        response = client.get("/v1/me")
        assert response.status_code == 401
        assert "revoked" in response.json()["error"]["message"]


def test_api_keys_are_stored_hashed(segell_server: RunningServer, governance: httpx.Client) -> None:
    key = admit(governance, "L17000001")["api_key"]["key"]
    database = b"".join(p.read_bytes() for p in segell_server.home.glob("segell.db*"))
    secret = key.split("_", 2)[2]
    assert secret.encode() not in database


def test_administration_sees_only_itself(segell_server: RunningServer, governance: httpx.Client) -> None:
    key_a = admit(governance, "L46000001")["api_key"]["key"]
    admit(governance, "L46000002")
    with segell_server.client(key_a) as client:
        assert client.get("/v1/administrations/L46000001").status_code == 200
        assert client.get("/v1/administrations/L46000002").status_code == 404
        assert client.post("/v1/administrations/L46000002/suspend").status_code == 403
        assert client.delete("/v1/administrations/L46000002/api-keys/abc").status_code == 403
    assert governance.get("/v1/administrations/L46000002").json()["status"] == "active"


NO_TEMPLATES = {"ca": None, "es": None, "en": None}


def test_admitted_administration_speaks_catalan_unless_told_otherwise(governance: httpx.Client) -> None:
    catalan = admit(governance, "L08000101")["administration"]
    response = governance.post("/v1/administrations", json={"code": "L08000102", "name": "N", "language": "es"})

    assert (catalan["language"], catalan["sms_templates"]) == ("ca", NO_TEMPLATES)
    assert response.status_code == 201, response.text
    assert response.json()["administration"]["language"] == "es"
    assert governance.get("/v1/administrations/L08000102").json()["language"] == "es"


def test_governance_changes_the_language_and_sms_texts_and_null_gives_the_default_back(
    governance: httpx.Client,
) -> None:
    admit(governance, "L08000103")
    own = "{code} és el teu codi de {administration}. {code}"

    changed = governance.patch("/v1/administrations/L08000103", json={"language": "en", "sms_templates": {"ca": own}})
    partly = governance.patch("/v1/administrations/L08000103", json={"sms_templates": {"es": "Código {code}"}})
    reset = governance.patch("/v1/administrations/L08000103", json={"sms_templates": {"ca": None}})
    unchanged = governance.patch("/v1/administrations/L08000103", json={})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["language"], changed.json()["sms_templates"]) == ("en", {**NO_TEMPLATES, "ca": own})
    assert partly.json()["sms_templates"] == {**NO_TEMPLATES, "ca": own, "es": "Código {code}"}
    assert reset.json()["sms_templates"] == {**NO_TEMPLATES, "es": "Código {code}"}
    assert unchanged.json() == reset.json()
    assert governance.get("/v1/administrations/L08000103").json() == reset.json()


def test_an_administration_changes_its_own_language_but_not_anothers(
    segell_server: RunningServer, governance: httpx.Client
) -> None:
    key = admit(governance, "L08000104")["api_key"]["key"]
    other_key = admit(governance, "L08000105")["api_key"]["key"]
    governance.post("/v1/administrations/L08000105/suspend")
    with segell_server.client(key) as client:
        own = client.patch("/v1/administrations/L08000104", json={"language": "es"})
        another = client.patch("/v1/administrations/L08000105", json={"language": "en"})
        unknown = client.patch("/v1/administrations/L08009999", json={"language": "en"})
        me = client.get("/v1/me").json()["administration"]
    with segell_server.client(other_key) as suspended:
        while_suspended = suspended.patch("/v1/administrations/L08000105", json={"language": "en"})
    with segell_server.client() as anonymous:
        without_key = anonymous.patch("/v1/administrations/L08000104", json={"language": "en"})

    assert own.status_code == 200 and me["language"] == "es"
    # Another tenant's administration is not disclosed: the same answer as for one that does not exist.
    assert (another.status_code, unknown.status_code) == (404, 404)
    assert another.json()["error"]["message"] == "No administration with code 'L08000105'."
    assert while_suspended.status_code == 403
    assert while_suspended.json()["error"]["code"] == "administration_suspended"
    assert without_key.status_code == 401
    assert governance.get("/v1/administrations/L08000105").json()["language"] == "ca"


@pytest.mark.parametrize(
    ("body", "location", "says"),
    [
        ({"sms_templates": {"ca": "El teu codi"}}, "body.sms_templates.ca", "must contain {code}"),
        ({"sms_templates": {"es": "{code} de {nombre}"}}, "body.sms_templates.es", "'{nombre}' at position 10"),
        ({"sms_templates": {"en": "{code} {{x}}"}}, "body.sms_templates.en", "no other brace"),
        ({"sms_templates": {"en": "{code} }"}}, "body.sms_templates.en", "'}' at position 7"),
        ({"sms_templates": {"en": "{CODE}"}}, "body.sms_templates.en", "not a placeholder"),
        ({"sms_templates": {"ca": "{code}\nadeu"}}, "body.sms_templates.ca", "U+000A"),
        ({"sms_templates": {"ca": "{code}\u202e"}}, "body.sms_templates.ca", "U+202E"),
        ({"sms_templates": {"ca": "{code}" + "x" * 155}}, "body.sms_templates.ca", "160 characters"),
        ({"sms_templates": {"ca": ""}}, "body.sms_templates.ca", "at least 1 character"),
        ({"sms_templates": {"fr": "{code}"}}, "body.sms_templates.fr", "Extra inputs"),
        ({"language": "fr"}, "body.language", "'ca', 'es' or 'en'"),
        ({"language": "ES"}, "body.language", "'ca', 'es' or 'en'"),
        ({"name": "Nou nom"}, "body.name", "Extra inputs"),
    ],
)
def test_update_refuses_what_it_cannot_send_with_422(
    governance: httpx.Client, body: dict, location: str, says: str
) -> None:
    if governance.get("/v1/administrations/L08000106").status_code == 404:
        admit(governance, "L08000106")

    response = governance.patch("/v1/administrations/L08000106", json=body)

    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["location"] == location
    assert says in detail["message"]
    after = governance.get("/v1/administrations/L08000106").json()
    assert (after["language"], after["sms_templates"]) == ("ca", NO_TEMPLATES)


def test_a_template_of_160_characters_is_accepted(governance: httpx.Client) -> None:
    admit(governance, "L08000107")
    longest = "{code}" + "x" * 154

    response = governance.patch("/v1/administrations/L08000107", json={"sms_templates": {"en": longest}})

    assert response.status_code == 200, response.text
    assert response.json()["sms_templates"]["en"] == longest
