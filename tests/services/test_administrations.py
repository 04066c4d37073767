"""Administration management over real HTTP against the embedded chain."""

import httpx

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
