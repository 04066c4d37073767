"""What many test modules need and is not a fixture: a real Segell server in a thread or a process, free ports,
waiting for anchoring, citizens logged in through the SMS flow, a movable clock and small PDFs.

Fixtures live in conftest.py; plain functions and classes live here, imported as `from tests.helpers import ...`.
"""

import io
import ipaddress
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import uvicorn
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter
from sqlalchemy import Engine, create_engine, make_url, text

from segell.services.administrations import repository as administrations
from segell.services.administrations.models import Administration
from segell.services.citizen_auth.deps import get_clock
from segell.services.connections import server_config
from segell.services.main import create_app
from segell.services.runtime import Runtime
from segell.services.settings import Settings, SettingsSection

# -- ports and servers -------------------------------------------------------------------------------------------

# The servers tests reach speak plain HTTP on 127.0.0.1, where no certificate is ever checked. Clients share this
# context with no CA loaded instead of each loading certifi's bundle: 20 ms of CPU per client, and the suite makes
# thousands (every poll of a starting server was one).
PLAIN_HTTP = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting to it is refused."""
    return free_port()


@dataclass
class RunningServer:
    url: str
    home: Path
    governance_key: str
    settings: Settings
    app: object

    def admit(self, code: str | None = None, name: str | None = None) -> str:
        """Admit an administration (a random code unless given) with the governance key; return its API key."""
        code = code or f"L{secrets.randbelow(10**8):08d}"
        with self.client(self.governance_key) as governance:
            response = governance.post("/v1/administrations", json={"code": code, "name": name or f"Ajuntament {code}"})
        assert response.status_code == 201, response.text
        return str(response.json()["api_key"]["key"])

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=PLAIN_HTTP)


class ServerThread:
    """uvicorn serving the real app in a thread of the test process; stop() runs the app's shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.server = uvicorn.Server(server_config(self.app, settings, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 60) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the Segell server failed to start; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError("the Segell server did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def make_settings(home: Path, *sections: SettingsSection, chain: str = "embedded", **overrides: object) -> Settings:
    """Settings for a test server in ``home``, holding the domain settings ``sections`` given."""
    settings = Settings(
        home=home,
        chain=chain,
        master_key=secrets.token_hex(32),
        port=free_port(),
        **overrides,  # type: ignore[arg-type]
    )
    return settings.with_sections(*sections)


def serve(settings: Settings) -> Iterator[RunningServer]:
    thread = ServerThread(settings)
    thread.start()
    try:
        yield RunningServer(
            url=settings.api_url,
            home=settings.home_dir,
            governance_key=settings.governance_key_path.read_text().strip(),
            settings=settings,
            app=thread.app,
        )
    finally:
        thread.stop()


def runtime_of(server: RunningServer) -> Runtime:
    """The runtime (database, chain, keys) of a server running in this process."""
    runtime: Runtime = server.app.state.runtime  # type: ignore[attr-defined]
    return runtime


class SegellProcess:
    """`segell up` as a real process of its own, which a test can kill -9 and start again on the same home."""

    def __init__(self, home: Path, chain: str, master_key: str) -> None:
        self.home, self.chain, self.master_key = home, chain, master_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> dict:
        env = {
            **os.environ,
            "SEGELL_HOME": str(self.home),
            "SEGELL_MASTER_KEY": self.master_key,
        }
        command = [
            sys.executable,
            "-m",
            "segell.services.cli",
            "up",
            "--chain",
            self.chain,
            "--port",
            str(self.port),
        ]
        with open(self.home / f"segell-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.home / f"segell-{self.port}.log").read_text()
            try:
                response = httpx.get(f"{self.url}/health", timeout=2, verify=PLAIN_HTTP)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("segell up did not answer /health in time")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def governance(self) -> httpx.Client:
        key = (self.home / "governance.key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=PLAIN_HTTP)


class PostgresSchemas:
    """The PostgreSQL server named by SEGELL_TEST_POSTGRES_URL, handing out schemas of their own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = create_engine(url, connect_args={"connect_timeout": 10})

    @contextmanager
    def schema(self, prefix: str = "segell_test") -> Iterator[str]:
        """A database URL whose search_path is a fresh schema, dropped with everything in it afterwards."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        with self.admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
        try:
            yield (
                make_url(self.url)
                .update_query_dict({"options": f"-csearch_path={name}"})
                .render_as_string(hide_password=False)
            )
        finally:
            with self.admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {name} CASCADE"))


# -- documents ---------------------------------------------------------------------------------------------------


def new_hash() -> str:
    """A random SHA-256 hash, hex-encoded, as the notary accepts it."""
    return secrets.token_hex(32)


def wait_anchored(client: httpx.Client, document_id: str, timeout: float = 30) -> dict[str, Any]:
    """The receipt of a document once it is no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        receipt: dict[str, Any] = client.get(f"/v1/documents/{document_id}").json()
        if receipt["status"] != "pending":
            return receipt
        if time.monotonic() > deadline:
            raise TimeoutError(f"document {document_id} not anchored after {timeout} s")
        time.sleep(0.05)


def one_page_pdf(writer: PdfFileWriter, content: generic.StreamObject, resources: generic.DictionaryObject) -> bytes:
    """The PDF `writer` makes with one A4 page drawing `content` with `resources`."""
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            generic.NameObject("/Contents"): writer.add_object(content),
            generic.NameObject("/Resources"): resources,
        }
    )
    writer.insert_page(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def make_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII), written by pyHanko's writer."""
    writer = PdfFileWriter()
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/F1"): writer.add_object(font)})}
    )
    content = generic.StreamObject(stream_data=f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("ascii"))
    return one_page_pdf(writer, content, resources)


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The openssl command line, its output captured; the caller checks the return code."""
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)


# -- administrations that issue and sign ------------------------------------------------------------------------

NATIONAL_ID = "47111222K"


@dataclass
class Tenant:
    """An administration admitted for a test: its API key, an HTTP client carrying it and its code."""

    key: str
    http: httpx.Client
    code: str

    def issue(self, profile: str = "employee", **body: Any) -> str:
        return str(self.issued(profile, **body)["serial"])

    def issued(self, profile: str = "employee", **body: Any) -> dict[str, Any]:
        """The answer of issuing a certificate; a citizen's comes with a citizen of its own, logged in to consent."""
        body = {"profile": profile, **body}
        if profile in ("employee", "citizen"):
            body.setdefault("name", "Joana Puig i Ferrer")
            body.setdefault("national_id", NATIONAL_ID if profile == "employee" else f"{secrets.randbelow(10**8):08d}Z")
        if profile == "citizen":
            body.setdefault("citizen_token", log_in_citizen(self.http))
        response = self.http.post("/v1/certificates", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def sign(self, data: bytes, filename: str, **form: str) -> httpx.Response:
        form.setdefault("as", "employee")
        return self.http.post("/v1/signatures", files={"file": (filename, data)}, data=form)

    def signed(self, data: bytes, filename: str, **form: str) -> dict[str, Any]:
        response = self.sign(data, filename, **form)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_until_anchored(self, document_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            receipt: dict[str, Any] = self.http.get(f"/v1/documents/{document_id}").json()
            if receipt["status"] != "pending":
                return receipt
            if time.monotonic() > deadline:
                raise AssertionError(f"document {document_id} was not anchored: {receipt}")
            time.sleep(0.1)


@contextmanager
def admit(server: RunningServer, name: str) -> Iterator[Tenant]:
    key = server.admit(name=name)
    with server.client(key) as http:
        code = http.get("/v1/me").json()["administration"]["code"]
        yield Tenant(key, http, code)


# -- citizens ----------------------------------------------------------------------------------------------------

CODE_IN_MESSAGE = re.compile(r"\b([0-9]{6})\b")
# Each login comes from an address of its own (RFC 3849 documentation prefix), so the per-address limits
# of one test module's many logins never apply.
_DOCUMENTATION_PREFIX = ipaddress.IPv6Network("2001:db8::/32")


def new_phone() -> str:
    return f"+3460{secrets.randbelow(10**7):07d}"


def log_in_citizen(http: httpx.Client, phone: str | None = None) -> str:
    """The token of a citizen (a new one unless `phone` is given) logged in with the administration `http` calls as,
    through the real SMS flow: code sent, read from the sandbox outbox, verified."""
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


class MovableClock:
    """A clock a test moves forward by hand; installed in place of the app's clock through dependency_overrides."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def movable_clock(server: RunningServer) -> Iterator[MovableClock]:
    """A MovableClock the server's citizen authentication reads the time from, until the block ends."""
    clock = MovableClock()
    app: Any = server.app
    app.dependency_overrides[get_clock] = lambda: clock
    try:
        yield clock
    finally:
        app.dependency_overrides.pop(get_clock, None)


@dataclass
class CitizenApp:
    """An administration's citizen-facing app: its API key and an HTTP client carrying it."""

    code: str
    key: str
    http: httpx.Client

    def send(self, phone: str, **extra: Any) -> httpx.Response:
        return self.http.post("/v1/auth/otp", json={"phone": phone, **extra})

    def verify(self, phone: str, code: str, **extra: Any) -> httpx.Response:
        return self.http.post("/v1/auth/otp/verify", json={"phone": phone, "code": code, **extra})

    def verify_totp(self, phone: str, code: str, **extra: Any) -> httpx.Response:
        return self.http.post("/v1/auth/totp/verify", json={"phone": phone, "code": code, **extra})

    def last_code(self, phone: str) -> str:
        response = self.http.get("/v1/auth/otp/outbox", params={"phone": phone, "limit": 1})
        assert response.status_code == 200, response.text
        match = CODE_IN_MESSAGE.search(response.json()["items"][0]["message"])
        assert match is not None
        return match.group(1)

    def login(self, phone: str) -> str:
        assert self.send(phone).status_code == 202
        response = self.verify(phone, self.last_code(phone))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def wrong_code(right: str, offset: int = 1) -> str:
    return f"{(int(right) + offset) % 10**6:06d}"


def enrol(server: RunningServer, tenant: CitizenApp, phone: str, clock: MovableClock) -> tuple[str, pyotp.TOTP]:
    token = tenant.login(phone)
    with server.client(token) as http:
        started = http.post("/v1/citizens/me/totp")
        assert started.status_code == 201, started.text
        totp = pyotp.TOTP(started.json()["secret"])
        confirmed = http.post("/v1/citizens/me/totp/confirm", json={"code": totp.at(clock.now)})
        assert confirmed.status_code == 200, confirmed.text
    return token, totp


def raw_outbox(server: RunningServer, administration_code: str) -> list[dict[str, Any]]:
    """The administration's rows of the outbox table as the database holds them, every column."""
    administration_id = administration_record(server, administration_code).id
    with runtime_of(server).transaction() as session:
        rows = session.execute(
            text("SELECT * FROM citizen_sms_outbox WHERE administration_id = :id"), {"id": administration_id}
        )
        return [dict(row) for row in rows.mappings()]


def administration_record(server: RunningServer, code: str) -> Administration:
    with runtime_of(server).transaction() as session:
        record = administrations.get_by_code(session, code)
        assert record is not None
        return record


# -- open data ---------------------------------------------------------------------------------------------------


def dataset(name: str, **fields: Any) -> dict[str, Any]:
    """The fields of a sample open-data dataset for `package_create`, ``fields`` added or replacing them."""
    return {
        "name": name,
        "title_translated": {"ca": "Padró municipal", "es": "Padrón municipal", "en": "Municipal register"},
        "notes_translated": {"ca": "Habitants per municipi", "es": "Habitantes por municipio", "en": "Inhabitants"},
        "theme": ["SOCI", "GOVE"],
        "tags": [{"name": "padró"}, {"name": "població"}],
        "license_id": "CC-BY-4.0",
        "temporal_start": "2024-01-01",
        "temporal_end": "2024-12-31",
        "spatial_uri": "http://publications.europa.eu/resource/authority/atu/ESP_CT_GIR",
        "frequency": "ANNUAL",
        **fields,
    }


def administration_row(engine: Engine) -> int:
    """The id of a new administration, written straight into its table."""
    with engine.begin() as connection:
        return int(
            connection.execute(
                text(
                    "INSERT INTO administrations (code, registry_id, name, status, admitted_at, language)"
                    " VALUES (:code, :registry, 'Ajuntament', 'active', CURRENT_TIMESTAMP, 'ca') RETURNING id"
                ),
                {"code": secrets.token_hex(4), "registry": "0x" + secrets.token_hex(32)},
            ).scalar_one()
        )
