"""The notary's settings: ``SEGELL_MAX_DOCUMENT_BYTES``, ``SEGELL_BATCH_MAX_SIZE``, ``SEGELL_BATCH_MAX_WAIT`` and
``SEGELL_ANCHORING_WORKER`` and ``SEGELL_LEADER_POLL_SECONDS``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class NotarySettings(SettingsSection):
    model_config = SettingsConfigDict(env_prefix="SEGELL_")

    max_document_bytes: int = Field(default=100 * 2**20, gt=0, description="Largest file `POST /v1/documents` hashes.")
    batch_max_size: int = Field(default=10_000, gt=0, description="Most documents anchored under one root.")
    batch_max_wait: float = Field(
        default=0.5, ge=0, description="Seconds a pending document waits for others to share its batch."
    )
    anchoring_worker: bool = Field(
        default=True, description="Run the anchoring worker inside the API process (off when `segell worker` runs it)."
    )
    leader_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between two tries of a worker that does not lead to take the anchoring lead (PostgreSQL), "
        "and between two checks by the leader that its lock still holds: the longest a killed leader leaves the "
        "anchoring without one, once another process is up.",
    )
