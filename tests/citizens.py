"""Citizens who log in through the real SMS flow (code sent, read from the sandbox outbox, verified), for tests that
need a citizen's token."""

import ipaddress
import re
import secrets

import httpx

CODE_IN_MESSAGE = re.compile(r"\b([0-9]{6})\b")
# Each login comes from an address of its own (RFC 3849 documentation prefix), so the per-address limits
# of one test module's many logins never apply.
_DOCUMENTATION_PREFIX = ipaddress.IPv6Network("2001:db8::/32")


def new_phone() -> str:
    return f"+3460{secrets.randbelow(10**7):07d}"


def log_in_citizen(http: httpx.Client, phone: str | None = None) -> str:
    """The token of a citizen (a new one unless `phone` is given) logged in with the administration `http` calls as."""
    phone = phone or new_phone()
    address = str(_DOCUMENTATION_PREFIX[secrets.randbelow(_DOCUMENTATION_PREFIX.num_addresses)])
    sent = http.post("/v1/auth/otp", json={"phone": phone, "client_address": address})
    assert sent.status_code == 202, sent.text
    outbox = http.get("/v1/auth/otp/outbox", params={"phone": phone, "limit": 1})
    assert outbox.status_code == 200, outbox.text
    match = CODE_IN_MESSAGE.search(outbox.json()["items"][0]["message"])
    assert match is not None
    verified = http.post(
        "/v1/auth/otp/verify", json={"phone": phone, "code": match.group(1), "client_address": address}
    )
    assert verified.status_code == 200, verified.text
    return str(verified.json()["access_token"])
