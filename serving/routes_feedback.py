"""POST /v1/feedback: an analyst says a file is benign or malicious; the next retrain learns it.

The record goes to the feedback store (`maldoc.serving.feedback`, SQLite at `MALDOC_FEEDBACK_DB`):
the hash, the label, a note, the verdict it corrects and where the file can be found. The
service never stores the file. Authenticated always: one of `MALDOC_FEEDBACK_KEYS` (for analysts'
tools) or an admin key (`MALDOC_ADMIN_KEYS`, or the running service's own); off (403) when
there is none. Mount with
`app.include_router(routes_feedback.router)`; settings come from the environment unless
`app.state.feedback_settings` holds a `FeedbackSettings`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .deps import ApiKeyDep, BearerDep, _check
from .feedback import MAX_LOCATION, MAX_NOTE, FeedbackError, FeedbackStore, default_db_path
from .schemas import ErrorResponse


class FeedbackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MALDOC_", extra="ignore")

    feedback_db: str | None = Field(None, description="SQLite file of analyst feedback (default: user data dir)")
    feedback_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated keys allowed to POST /v1/feedback")
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="admin keys (MALDOC_ADMIN_KEYS) may send feedback too")

    @field_validator("feedback_keys", "admin_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    def db_path(self) -> str:
        return self.feedback_db or str(default_db_path())


class FeedbackRequest(BaseModel):
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="sha256 of the file the label is about")
    label: Literal["benign", "malicious"] = Field(description="what the file really is")
    note: str = Field("", max_length=MAX_NOTE, description="the analyst's reasoning")
    location: str = Field("", max_length=MAX_LOCATION,
                          description="where the file can be found, e.g. its path in the quarantine folder")
    corrects: Literal["clean", "suspicious", "malicious", "error"] | None = Field(
        None, description="the verdict this label corrects")
    score: float | None = Field(None, ge=0.0, le=1.0, description="that verdict's score")
    model_version: str = Field("", max_length=200, description="the model that gave that verdict")
    analyst: str = Field("", max_length=200, description="who says so")


class FeedbackResponse(BaseModel):
    id: int
    sha256: str
    label: str
    created_at: str
    recorded: int = Field(description="feedback records in the store")


router = APIRouter(tags=["feedback"])
RESPONSES = {
    401: {"model": ErrorResponse, "description": "missing or invalid feedback key"},
    403: {"model": ErrorResponse, "description": "feedback disabled: no MALDOC_FEEDBACK_KEYS or MALDOC_ADMIN_KEYS"},
}


def feedback_settings(request: Request) -> FeedbackSettings:
    state = request.app.state
    if getattr(state, "feedback_settings", None) is None:
        state.feedback_settings = FeedbackSettings()
    return state.feedback_settings


SettingsDep = Annotated[FeedbackSettings, Depends(feedback_settings)]


def feedback_store(request: Request, settings: SettingsDep) -> FeedbackStore:
    """One store per app, opened on first use (a service that never gets feedback opens no file)."""
    state = request.app.state
    if getattr(state, "feedback_store", None) is None:
        state.feedback_store = FeedbackStore(settings.db_path())
    return state.feedback_store


async def require_feedback_key(request: Request, settings: SettingsDep, api_key: ApiKeyDep,
                               bearer: BearerDep) -> None:
    """A feedback key, or an admin key: the environment's, or those of the service this app runs."""
    service = getattr(request.app.state, "service", None)
    service_admin = list(getattr(getattr(service, "settings", None), "admin_keys", None) or [])
    keys = [*settings.feedback_keys, *settings.admin_keys, *service_admin]
    if not keys:
        raise HTTPException(403, "feedback is disabled: set MALDOC_FEEDBACK_KEYS or MALDOC_ADMIN_KEYS to enable it")
    _check(keys, api_key, bearer)


@router.post("/v1/feedback", status_code=201, response_model=FeedbackResponse, summary="Label a file",
             dependencies=[Depends(require_feedback_key)],
             responses={**RESPONSES, 422: {"model": ErrorResponse, "description": "invalid record"}})
async def post_feedback(body: FeedbackRequest,
                        store: Annotated[FeedbackStore, Depends(feedback_store)]) -> FeedbackResponse:
    """Record that the file with this sha256 is benign or malicious (the newest label counts).
    The retraining pipeline reads the store and takes the file from the quarantine folder."""
    try:
        record = await asyncio.to_thread(
            store.add, body.sha256, body.label, note=body.note, location=body.location, corrects=body.corrects or "",
            score=body.score, model_version=body.model_version, analyst=body.analyst, source="api")
    except FeedbackError as exc:
        raise HTTPException(422, str(exc)) from None
    count = await asyncio.to_thread(store.count)
    return FeedbackResponse(id=record.id, sha256=record.sha256, label=record.label, created_at=record.created_at,
                            recorded=count)
