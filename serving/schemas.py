"""The JSON the service answers with (and documents in OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from maldoc.verdict import Label, Verdict

Failure = Literal["timeout", "worker_died", "internal_error"]


class ScanResponse(BaseModel):
    decision: Label = Field(description="what the gateway should act on: the verdict's label, or the "
                            "fail-open/fail-closed answer (MALDOC_FAIL_MODE) when the scan failed")
    sha256: str
    score: float | None = Field(None, description="the verdict's score; null when no verdict was produced")
    model_version: str = Field(description="the model that answered ('rules' for the rule scorer)")
    cached: bool = Field(description="answered from the verdict cache")
    failure: Failure | None = Field(None, description="why the scan could not complete, if it did not")
    service_ms: float = Field(description="time spent in the service, body upload excluded")
    verdict: Verdict | None = Field(None, description="the full verdict; null only after an internal error")


class PartSummary(BaseModel):
    path: str
    name: str
    sha256: str
    file_type: str
    label: Label
    score: float


class EmailScanResponse(ScanResponse):
    parts: list[PartSummary] = Field(
        default_factory=list, description="one entry per MIME part (body and attachments), in message order; "
        "each has its full verdict among `verdict.children`")


class Thresholds(BaseModel):
    malicious: float
    suspicious: float


class ModelInfo(BaseModel):
    version: str
    kind: Literal["bundle", "rules"]
    source: str = Field(description="the bundle folder's name (never its path), 'rules', or 'default' "
                        "(the bundle shipped in the package)")
    generation: int = Field(description="counts loads since start; changes on every reload or rollback")
    loaded_at: str
    schema_id: str
    schema_hash: str
    n_features: int
    thresholds: Thresholds
    metrics: dict = Field(default_factory=dict, description="evaluation metrics recorded in the bundle")


class ModelResponse(ModelInfo):
    previous: ModelInfo | None = Field(None, description="the model kept for rollback")


class ReloadRequest(BaseModel):
    path: str | None = Field(None, description="bundle folder to load, inside MALDOC_MODELS_DIR (absolute, or "
                             "relative to it); default: re-read the configured MALDOC_MODEL")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    ready: bool
    model_version: str | None = None
    detail: str = ""


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong, in one sentence")


class QueueFullResponse(ErrorResponse):
    retry_after_s: int
