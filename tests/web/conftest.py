"""Real headless Chromium (Debian's `chromium`, driven by Playwright) against a real Segell server on 127.0.0.1.

One Chromium per module; every test gets a fresh browser context of it (its own cookies and storage) whose every
HTTP(S) request goes through a recording proxy of its own (loopback included, so nothing bypasses it): the proxy
forwards requests for 127.0.0.1, refuses any other, and the test fails if there was one. Chromium's own requests go
through the module's recording proxy, checked the same way when the module ends. Screenshots go to
test-artifacts/web/.
"""

import hashlib
import secrets
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from segell.services.notary.settings import NotarySettings
from tests.helpers import RunningServer, make_settings, serve, wait_anchored

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright passes its own --disable-features; Chromium keeps only the last one given, so it is repeated here with
# the autofill server (asked about every form) added.
DISABLED_FEATURES = [
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "AutofillServerCommunication",
]
# Chromium asks these at start-up whatever the flags (its accounts' ListAccounts, and the manifest of its on-device
# models): the browser's own requests, not the page's. The proxy refuses them, so they never leave the machine; any
# other host is a failure, and the page's own requests are checked apart, through Playwright, where none is excused.
CHROMIUM_START_UP_SERVICES = frozenset({"accounts.google.com", "update.googleapis.com"})
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Segell server on the embedded chain that anchors within a fraction of a second."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-web"), NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def issuer(web_server: RunningServer) -> Iterator[httpx.Client]:
    with web_server.client(web_server.admit(name="Ajuntament de Girona")) as client:
        yield client


@dataclass
class Notarised:
    content: bytes
    receipt: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.receipt["verification_code"])


def notarise(
    issuer: httpx.Client,
    content: bytes | None = None,
    *,
    title: str = "Certificat de residència",
    kind: str = "certificat",
    salted: bool = False,
    public_copy: bool = False,
) -> Notarised:
    """Notarise a file through the API and wait until it is anchored; with `public_copy`, the file is kept for
    whoever holds its code to download."""
    content = content if content is not None else b"%PDF-1.7\n" + secrets.token_bytes(64)
    params = {"kind": kind, "title": title, "salted": str(salted).lower()}
    if public_copy:
        params["public_copy"] = "true"
    response = issuer.post(
        "/v1/documents",
        content=content,
        params=params,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["document_hash"] == hashlib.sha256(content).hexdigest()
    return Notarised(content, wait_anchored(issuer, receipt["id"]))


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver, for one module at a time: its event loop is not left behind for other modules."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the page tests need Debian's chromium. "
            "Run `make setup-dev` (it installs it with apt-get) or `apt-get install chromium`.",
            pytrace=False,
        )
    with sync_playwright() as driver:
        yield driver


class RecordingProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy on 127.0.0.1 that records the target of every request and forwards only those for 127.0.0.1.

    Each forwarded request carries `Connection: close`, so every request of the browser opens a connection of its
    own here and is seen.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.targets: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, target: str) -> None:
        with self._lock:
            self.targets.append(target)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: RecordingProxy

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return
            head += line
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        if method == "CONNECT":
            self.server.record(f"https://{target}")
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self.server.record(target)
        parts = urlsplit(target)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1":
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        kept = [h for h in header_lines if h and h.split(":", 1)[0].lower() not in ("connection", "proxy-connection")]
        forwarded = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
        with socket.create_connection(("127.0.0.1", parts.port or 80)) as upstream:
            upstream.sendall(forwarded.encode("latin-1"))
            upload = threading.Thread(target=_pipe, args=(self.rfile, upstream), daemon=True)
            upload.start()
            while chunk := upstream.recv(65536):
                self.wfile.write(chunk)


def _pipe(source: object, upstream: socket.socket) -> None:
    """Request bodies, from the browser to the server, until either side closes."""
    try:
        while chunk := source.read1(65536):  # type: ignore[attr-defined]
            upstream.sendall(chunk)
    except (OSError, ValueError):  # ValueError: the handler has returned and closed the browser's side
        pass


@dataclass
class Browser:
    context: BrowserContext
    page: Page
    base_url: str
    proxy: RecordingProxy
    # What the pages asked for, as Playwright reports it; `proxy.targets` is what Chromium as a whole sent.
    requests: list[str] = field(default_factory=list)

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """The page, whole or (`full_page=False`) as much of it as the screen shows, in test-artifacts/web/."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def requests_elsewhere(self) -> list[str]:
        """What the pages asked of another host, and what Chromium did, its start-up services aside."""
        from_pages = [url for url in self.requests if not _is_local(url)]
        from_chromium = [
            url
            for url in self.proxy.targets
            if not _is_local(url) and urlsplit(url).hostname not in CHROMIUM_START_UP_SERVICES
        ]
        return from_pages + from_chromium

    def close(self) -> None:
        self.context.close()
        self.proxy.stop()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or (parts.scheme == "http" and parts.hostname == "127.0.0.1")


@pytest.fixture(scope="module")
def headless_chromium(playwright: Playwright) -> Iterator[Chromium]:
    """One Chromium for the module (starting one takes longer than most page tests); each test opens a context of
    its own in it. Chromium's own requests (not a page's) go through a recording proxy of the module's."""
    proxy = RecordingProxy()
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        # `<-loopback>`: Chromium sends even its requests for 127.0.0.1 through the proxy, so it sees them all.
        args=[
            *CHROMIUM_ARGS,
            f"--disable-features={','.join(DISABLED_FEATURES)}",
            f"--proxy-server={proxy.url}",
            "--proxy-bypass-list=<-loopback>",
        ],
    )
    try:
        yield chromium
    finally:
        chromium.close()
        proxy.stop()
    elsewhere = [
        url for url in proxy.targets if not _is_local(url) and urlsplit(url).hostname not in CHROMIUM_START_UP_SERVICES
    ]
    assert elsewhere == [], "Chromium sent requests away from 127.0.0.1"


def launch(chromium: Chromium, base_url: str, *, locale: str = "ca-ES", **options: object) -> Browser:
    """A fresh context (no cookies, no storage) of the module's Chromium, its requests recorded. `locale` is the
    browser's language: its `Accept-Language`, which the page follows on a first visit (Catalan unless a test says
    otherwise)."""
    proxy = RecordingProxy()
    # Playwright adds `<-loopback>` to a context's proxy bypass list: requests for 127.0.0.1 go through the proxy too.
    context = chromium.new_context(
        proxy={"server": proxy.url},
        timezone_id="UTC",
        locale=locale,
        accept_downloads=True,
        **options,  # type: ignore[arg-type]
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    browser = Browser(context, page, base_url, proxy)
    context.on("request", lambda request: browser.requests.append(request.url))
    # A download (the proof bundle) is fetched by the browser, not the page: no request event.
    page.on("download", lambda download: browser.requests.append(download.url))
    return browser


@pytest.fixture
def browser(headless_chromium: Chromium, web_server: RunningServer) -> Iterator[Browser]:
    """A fresh context of the module's Chromium; fails the test if any request left 127.0.0.1."""
    opened = launch(headless_chromium, web_server.url)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.proxy.targets, "the browser sent nothing through the recording proxy"
    assert opened.requests_elsewhere() == [], "requests left 127.0.0.1"


def low_contrast(page: Page, selector: str) -> dict[str, float]:
    """WCAG AA: the texts (`selector`) drawn under 4.5:1 against the background they are on, with their ratio. The
    page must show more than 20 texts, so that an empty page does not pass."""
    ratios: dict[str, float] = page.evaluate(
        """(selector) => {
            const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
            const luminance = ([r, g, b]) => {
                const [R, G, B] = [r, g, b].map((v) => {
                    v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                });
                return 0.2126 * R + 0.7152 * G + 0.0722 * B;
            };
            const background = (node) => {
                for (; node; node = node.parentElement) {
                    const colour = rgb(getComputedStyle(node).backgroundColor);
                    if (colour.length < 4 || colour[3] > 0) return colour.slice(0, 3);
                }
                return [255, 255, 255];
            };
            const ratios = {};
            for (const node of document.querySelectorAll(selector)) {
                if (!node.getClientRects().length || !node.textContent.trim()) continue;
                const a = luminance(rgb(getComputedStyle(node).color));
                const b = luminance(background(node));
                const name = node.id || node.textContent.trim().slice(0, 40);
                ratios[name] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }
            return ratios;
        }""",
        selector,
    )
    assert len(ratios) > 20, ratios
    return {text: round(ratio, 2) for text, ratio in ratios.items() if ratio < 4.5}
