"""`client.interop.bind_citizen` against a real server: an administration binds a citizen's login to their national
id, after which the citizen reads their access log with `client.access`."""

import secrets
from collections.abc import Iterator

import pytest

from segell.sdk import CitizenBinding, Client, NotFoundError, PermissionDeniedError
from tests.helpers import CODE_IN_MESSAGE, RunningServer, new_phone


@pytest.fixture(scope="module")
def town_hall(segell_server: RunningServer) -> Iterator[Client]:
    with Client(segell_server.url, api_key=segell_server.admit(name="Ajuntament de Girona"), timeout=30) as segell:
        yield segell


@pytest.fixture(scope="module")
def council(segell_server: RunningServer) -> Iterator[Client]:
    with Client(segell_server.url, api_key=segell_server.admit(name="Consell Comarcal"), timeout=30) as segell:
        yield segell


def log_in(segell: Client) -> str:
    """The token of a new citizen logged in with the administration `segell` calls as, by SMS through the outbox."""
    phone = new_phone()
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    segell.auth.request_otp(phone, client_address=address)
    match = CODE_IN_MESSAGE.search(segell.auth.otp_outbox(phone=phone, limit=1)[0].message)
    assert match is not None
    return segell.auth.verify_otp(phone, match.group(1), client_address=address).access_token


def national_id() -> str:
    return f"{secrets.randbelow(10**8):08d}T"


def test_bind_citizen_lets_the_citizen_read_their_access_log(town_hall: Client) -> None:
    token = log_in(town_hall)
    with pytest.raises(NotFoundError) as unbound:
        town_hall.access.log(token)
    assert unbound.value.code == "citizen_not_identified"

    bound = town_hall.interop.bind_citizen(token, national_id())

    assert isinstance(bound, CitizenBinding)
    assert bound.citizen_id == town_hall.citizens.me(token).citizen_id
    log = town_hall.access.log(token)
    assert log.accesses == ()
    assert log.administration.name == "Ajuntament de Girona"


def test_bind_citizen_again_answers_the_first_binding(town_hall: Client) -> None:
    token, holder = log_in(town_hall), national_id()
    first = town_hall.interop.bind_citizen(token, holder)

    again = town_hall.interop.bind_citizen(token, holder)

    assert again == first


def test_bind_citizen_refuses_another_national_id_for_a_bound_login(town_hall: Client) -> None:
    token = log_in(town_hall)
    town_hall.interop.bind_citizen(token, national_id())

    with pytest.raises(PermissionDeniedError) as refused:
        town_hall.interop.bind_citizen(token, national_id())

    assert refused.value.code == "citizen_mismatch"


def test_bind_citizen_refuses_a_login_with_another_administration(town_hall: Client, council: Client) -> None:
    token = log_in(council)

    with pytest.raises(PermissionDeniedError) as refused:
        town_hall.interop.bind_citizen(token, national_id())

    assert refused.value.code == "citizen_of_another_administration"
