"""Where Segell reads its configuration: environment variables prefixed ``SEGELL_``.

`Settings` holds what the platform itself needs (the data directory, the database, the chain, the HTTP server).
Each domain that has settings of its own declares them as a `SettingsSection` in its package and names it in its
`Domain`; code reads one with ``runtime.settings.section(SandboxSettings)``. A section is read from the environment
the first time it is asked for (``create_app`` asks for every domain's at start, so a bad value stops the start);
tests and embedders give one explicitly with ``settings.with_sections(SandboxSettings(max_running=1))``.
"""

from functools import cached_property
from pathlib import Path
from typing import Self, TypeVar, cast

from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsSection(BaseSettings):
    """A domain's own settings. Subclasses set their own ``env_prefix`` (``SEGELL_<DOMAIN>_``)."""

    model_config = SettingsConfigDict(env_prefix="SEGELL_", extra="forbid", frozen=True)


Section = TypeVar("Section", bound=SettingsSection)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEGELL_", extra="forbid")

    home: Path = Field(default=Path(".segell"), description="Data directory: database, keys, chain state.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under `home` when unset.")
    chain: str = Field(
        default="auto",
        description="embedded, anvil, auto (anvil when installed), a JSON-RPC URL or a node's IPC socket (*.ipc).",
    )
    chain_confirmations: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Blocks that must follow an anchoring transaction's block before it counts as final, on a chain "
        "reached by URL (0 for QBFT, whose blocks are final once sealed).",
    )
    anvil_binary: str | None = Field(default=None, description="Path to anvil when it is not on PATH.")
    master_key: str | None = Field(default=None, description="32-byte key (hex or base64) sealing private keys.")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="URL clients reach the API at, when not host:port.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API processes serving the port (`segell up --workers`); above 1 needs PostgreSQL.",
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
    _sections: dict[type[SettingsSection], SettingsSection] = PrivateAttr(default_factory=dict)

    def section(self, kind: type[Section]) -> Section:
        """The domain settings ``kind``: the one given to `with_sections`, else read from the environment once."""
        found = self._sections.get(kind)
        if found is None:
            found = self._sections.setdefault(kind, kind())
        return cast(Section, found)

    def with_sections(self, *sections: SettingsSection) -> Self:
        """A copy of these settings holding ``sections`` in place of what the environment says for them."""
        copy = self.model_copy()
        copy._sections = {**self._sections, **{type(section): section for section in sections}}
        return copy

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
