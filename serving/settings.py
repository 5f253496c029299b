"""Service settings, from the environment (prefix `MALDOC_`) or from `maldoc serve` flags.

Everything a gateway operator tunes lives here. The scan limits are not declared by hand: one
field per `maldoc.limits.Limits` field is generated from the dataclass (same name, default and
meaning, so `MALDOC_TIMEOUT_S` is `--timeout-s` is `Limits.timeout_s`), and `limits()` turns them
back into the one `Limits` the engine understands. A field added to `Limits` is a setting here
with no change to this file.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Literal

from pydantic import Field, SecretStr, create_model, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from maldoc.limits import Limits, MiB
from maldoc.pool import default_jobs

FailMode = Literal["report", "open", "closed"]


def _limit_fields() -> dict[str, tuple[type, object]]:
    defaults, meaning = Limits(), Limits.describe()
    out: dict[str, tuple[type, object]] = {}
    for f in fields(Limits):
        value = getattr(defaults, f.name)
        kind = float if isinstance(value, float) else int  # annotations are strings (postponed evaluation)
        out[f.name] = (kind, Field(value, description=meaning.get(f.name, f.name)))
    return out


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MALDOC_", extra="ignore")


_LimitSettings = create_model("_LimitSettings", __base__=_Base, **_limit_fields())


class Settings(_LimitSettings):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    allow_anonymous: bool = Field(
        False, description="allow scanning without API keys on a non-loopback address (`maldoc serve` refuses "
        "that combination otherwise)")
    model: str | None = Field(
        None, description="model bundle folder, 'rules' for the rule scorer, unset for the shipped default")
    models_dir: str | None = Field(
        None, description="the only folder reloads may load bundles from (POST /v1/admin/model/reload "
        "with a path); unset: a reload only re-reads MALDOC_MODEL")
    reload_timeout_s: float = Field(120.0, gt=0, description="time allowed to load and self-check a new bundle")
    workers: int = Field(default_factory=default_jobs, ge=1, description="scan worker processes")
    max_queue: int = Field(64, ge=1, description="scans admitted at once (running + waiting); more get 503")
    max_queue_bytes: int = Field(512 * MiB, ge=1, description="bytes held by admitted scans; more get 503")
    max_uploads: int = Field(32, ge=1, description="request bodies being received at once; more get 429")
    max_buffered_bytes: int = Field(
        512 * MiB, ge=1, description="request body bytes held in memory at once (declared Content-Length "
        "reserved up front); more get 429")
    body_timeout_s: float = Field(60.0, gt=0, description="time allowed to receive one whole request body (408)")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated keys; when set, scan endpoints need one")
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="keys for /v1/admin; the admin endpoints are off when unset")
    max_body_bytes: int | None = Field(
        None, ge=1, description="old name of max_bytes (MALDOC_MAX_BODY_BYTES); max_bytes wins when both are set")
    fail_mode: FailMode = Field(
        "report", description="decision on a timeout or internal error: report 'error', "
        "'open' answers clean (deliver), 'closed' answers malicious (quarantine)")
    cutoff_label: Literal["suspicious", "malicious", "clean"] = Field(
        "suspicious", description="least label of an input whose analysis a limit or the time budget cut "
        "short ('clean': what was scanned decides alone, the old behaviour)")
    cache_size: int = Field(10_000, ge=0, description="verdicts kept in the in-process LRU; 0 disables caching")
    cache_max_bytes: int = Field(
        256 * MiB, ge=0, description="bytes (serialised verdicts) the in-process cache may hold; 0 disables it")
    cache_ttl_s: int = Field(24 * 3600, ge=1, description="lifetime of a verdict in Redis")
    cache_hmac_key: SecretStr | None = Field(
        None, description="key authenticating Redis entries; unset: a random key per process, so replicas "
        "sharing one Redis must all set the same key")
    redis_url: str | None = Field(None, description="use Redis as the verdict cache (shared by replicas)")
    redis_retry_s: float = Field(30.0, gt=0, description="after a Redis failure, use the in-process cache "
                                 "alone for this long before trying Redis again")
    max_tasks_per_worker: int = Field(500, ge=1, description="recycle a scan worker after this many files")
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        "text", description="'json': one JSON object per log line (time, level, request id, sha256, type, verdict, "
        "score, ms)")

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.max_body_bytes is not None and "max_bytes" not in self.model_fields_set:
            self.max_bytes = self.max_body_bytes
        self.max_body_bytes = self.max_bytes  # one value, whichever name set it
        self.limits()  # Limits validates itself; fail at start-up, not on the first request
        return self

    def limits(self) -> Limits:
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})
