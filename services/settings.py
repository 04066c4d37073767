"""The one place where Segell reads its configuration (environment variables prefixed ``SEGELL_``)."""

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEGELL_", extra="ignore")

    home: Path = Field(default=Path(".segell"), description="Data directory: database, keys, chain state.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under `home` when unset.")
    chain: str = Field(
        default="auto",
        description="embedded, anvil, auto (anvil when installed), a JSON-RPC URL or a node's IPC socket (*.ipc).",
    )
    anvil_binary: str | None = Field(default=None, description="Path to anvil when it is not on PATH.")
    master_key: str | None = Field(default=None, description="32-byte key (hex or base64) sealing private keys.")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="URL clients reach the API at, when not host:port.")
    deployment_name: str = Field(
        default="Segell sandbox",
        min_length=1,
        description="The name /.well-known/segell.json gives this deployment; `segell trust add` pins it under it.",
    )
    max_document_bytes: int = Field(default=100 * 2**20, gt=0, description="Largest file `POST /v1/documents` hashes.")
    batch_max_size: int = Field(default=10_000, gt=0, description="Most documents anchored under one root.")
    batch_max_wait: float = Field(
        default=0.5, ge=0, description="Seconds a pending document waits for others to share its batch."
    )
    # Connections (services/connections.py).
    http_head_timeout: float = Field(
        default=10.0, gt=0, le=60, description="Seconds a connection has to send its request head (<= 60)."
    )
    http_body_timeout: float = Field(
        default=30.0, gt=0, le=300, description="Longest silence, in seconds, while a request body is arriving."
    )
    http_keep_alive_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Seconds an idle connection is kept open between two requests."
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        description="Connections served at once (the next is answered 503); unset: as many as file descriptors allow.",
    )
    anchoring_worker: bool = Field(
        default=True, description="Run the anchoring worker inside the API process (off when `segell worker` runs it)."
    )
    # Citizen authentication (services/citizen_auth).
    citizen_sms_gateway: str = Field(
        default="outbox", description="How one-time codes reach phones: `outbox` (the sandbox's) or a registered name."
    )
    citizen_code_ttl: int = Field(default=300, gt=0, le=300, description="Seconds a one-time code is valid (<= 5 min).")
    citizen_token_ttl: int = Field(default=600, gt=0, le=3600, description="Seconds a citizen token is valid.")
    # Sandboxes (services/sandboxes).
    sandbox_default_ttl: int = Field(default=3600, ge=60, description="Seconds a sandbox lives when none is asked.")
    sandbox_max_lifetime: int = Field(
        default=7 * 24 * 3600, ge=60, description="Most seconds a sandbox may live in all, extensions included."
    )
    sandbox_max_per_administration: int = Field(default=3, ge=0, description="Sandboxes one administration may run.")
    sandbox_max_running: int = Field(default=20, ge=0, description="Sandboxes this server runs at most, all tenants.")
    sandbox_reaper_interval: float = Field(default=30.0, gt=0, description="Seconds between sweeps for expired ones.")
    sandbox_max_snapshots: int = Field(default=20, ge=1, description="Snapshots one sandbox may keep.")
    # Contracts compiled for sandboxes (services/sandboxes/contracts.py); one compilation at a time per API process.
    solc_binary: Path | None = Field(
        default=None, description="The solc that compiles sandbox contracts; the pinned one found by itself when unset."
    )
    sandbox_compile_timeout: float = Field(
        default=30.0, gt=0, description="Seconds one compilation may take; the compiler is killed past it."
    )
    sandbox_compile_max_source_bytes: int = Field(
        default=256 * 1024, gt=0, description="Most bytes of Solidity one compilation takes, every file together."
    )
    sandbox_compile_max_waiting: int = Field(
        default=4, ge=1, description="Compilations one administration may have waiting for the compiler."
    )
    sandbox_compile_max_wait: float = Field(
        default=60.0, gt=0, description="Seconds a compilation waits for its turn before answering 503."
    )

    @cached_property
    def home_dir(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home.resolve()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'segell.db'}"

    @property
    def api_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def master_key_path(self) -> Path:
        return self.home_dir / "master.key"

    @property
    def governance_key_path(self) -> Path:
        """The operator's governance API key, written 0600 at first start and read by `segell admin`."""
        return self.home_dir / "governance.key"

    @property
    def chain_dir(self) -> Path:
        return self.home_dir / "chain"

    @property
    def keys_dir(self) -> Path:
        return self.home_dir / "keys"
