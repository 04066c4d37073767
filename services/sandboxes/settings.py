"""The sandboxes' settings: ``SEGELL_SANDBOX_*``, and ``SEGELL_SOLC_BINARY`` and ``SEGELL_TOOLCHAIN_DIR`` for the
compiler of their contracts."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class SandboxSettings(SettingsSection):
    # The compiler's variable keeps its name of before the section (populate_by_name: `solc_binary=` works too).
    model_config = SettingsConfigDict(env_prefix="SEGELL_SANDBOX_", populate_by_name=True)

    default_ttl: int = Field(default=3600, ge=60, description="Seconds a sandbox lives when none is asked.")
    max_lifetime: int = Field(
        default=7 * 24 * 3600, ge=60, description="Most seconds a sandbox may live in all, extensions included."
    )
    max_per_administration: int = Field(default=3, ge=0, description="Sandboxes one administration may run.")
    max_running: int = Field(default=20, ge=0, description="Sandboxes this server runs at most, all tenants.")
    reaper_interval: float = Field(default=30.0, gt=0, description="Seconds between sweeps for expired ones.")
    max_snapshots: int = Field(default=20, ge=1, description="Snapshots one sandbox may keep.")
    # Contracts compiled for sandboxes (services/sandboxes/contracts.py).
    solc_binary: Path | None = Field(
        default=None,
        validation_alias="SEGELL_SOLC_BINARY",
        description="The solc that compiles sandbox contracts; the pinned one found by itself when unset. Either way"
        " it must report the pinned version.",
    )
    toolchain_dir: Path | None = Field(
        default=None,
        validation_alias="SEGELL_TOOLCHAIN_DIR",
        description="A folder holding tools/solc and node_modules/ (the npm solc, @openzeppelin/contracts), laid out"
        " as a Segell checkout after `npm ci`; the checkout Segell runs from when unset.",
    )
    compile_timeout: float = Field(
        default=30.0, gt=0, description="Seconds one compilation may take; the compiler is killed past it."
    )
    compile_max_source_bytes: int = Field(
        default=256 * 1024, gt=0, description="Most bytes of Solidity one compilation takes, every file together."
    )
    compile_max_waiting: int = Field(
        default=4, ge=1, description="Compilations one administration may have waiting for the compiler."
    )
    compile_max_wait: float = Field(
        default=60.0, gt=0, description="Seconds a compilation waits for its turn before answering 503."
    )
