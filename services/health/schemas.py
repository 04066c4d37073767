from typing import Literal

from pydantic import BaseModel


class ChainHealth(BaseModel):
    backend: Literal["embedded", "anvil", "rpc"]
    chain_id: int
    head_block: int | None
    local_dev: bool
    reachable: bool


class ContractsHealth(BaseModel):
    registry: str
    notary: str
    deployed_at_block: int
    deployed: bool


class DatabaseHealth(BaseModel):
    dialect: str
    revision: str
    ok: bool


class Urls(BaseModel):
    api: str
    docs: str
    rpc: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    chain: ChainHealth
    contracts: ContractsHealth
    database: DatabaseHealth
    urls: Urls
