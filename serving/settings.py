"""Service settings, from the environment (prefix `MALDOC_`) or from `maldoc serve` flags.

Everything a gateway operator tunes lives here; `limits()` turns the scan-related fields into the
one `maldoc.limits.Limits` the engine understands, so the service has no limit of its own that
the CLI and the pipeline would not also know.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from maldoc.limits import Limits, MiB
from maldoc.pool import default_jobs

_DEFAULT = Limits()

FailMode = Literal["report", "open", "closed"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MALDOC_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    model: str | None = Field(
        None, description="model bundle folder, 'rules' for the rule scorer, unset for the shipped default")
    workers: int = Field(default_factory=default_jobs, ge=1, description="scan worker processes")
    max_queue: int = Field(64, ge=1, description="scans admitted at once (running + waiting); more get 503")
    max_queue_bytes: int = Field(512 * MiB, ge=1, description="bytes held by admitted scans; more get 503")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated keys; when set, scan endpoints need one")
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="keys for /v1/admin; the admin endpoints are off when unset")
    max_body_bytes: int = Field(_DEFAULT.max_bytes, ge=1, description="largest request body (413 above)")
    timeout_s: float = Field(_DEFAULT.timeout_s, gt=0, description="hard wall-clock limit of one scan")
    fail_mode: FailMode = Field(
        "report", description="decision on a timeout or internal error: report 'error', "
        "'open' answers clean (deliver), 'closed' answers malicious (quarantine)")
    cache_size: int = Field(10_000, ge=0, description="verdicts kept in the in-process LRU; 0 disables caching")
    cache_ttl_s: int = Field(24 * 3600, ge=1, description="lifetime of a verdict in Redis")
    redis_url: str | None = Field(None, description="use Redis as the verdict cache (shared by replicas)")
    max_depth: int = _DEFAULT.max_depth
    max_children: int = _DEFAULT.max_children
    max_decompressed_bytes: int = _DEFAULT.max_decompressed_bytes
    max_ratio: float = _DEFAULT.max_ratio
    max_memory_mb: int = _DEFAULT.max_memory_mb
    max_tasks_per_worker: int = Field(500, ge=1, description="recycle a scan worker after this many files")
    log_level: str = "info"

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        self.limits()  # Limits validates itself; fail at start-up, not on the first request
        return self

    def limits(self) -> Limits:
        return Limits(max_bytes=self.max_body_bytes, max_depth=self.max_depth, max_children=self.max_children,
                      max_decompressed_bytes=self.max_decompressed_bytes, max_ratio=self.max_ratio,
                      timeout_s=self.timeout_s, max_memory_mb=self.max_memory_mb)
