"""The one record format of `maldoc scan --json` and `--jsonl`, versioned, with a shipped JSON Schema.

A record is written for every input named or found, including the ones that could not be read:

    {"schema": "maldoc.record/1", "input": "mail/a.eml", "status": "scanned", "verdict": {...}}
    {"schema": "maldoc.record/1", "input": "gone.doc", "status": "unreadable", "reason": "..."}

`--jsonl` prints one record a line as each input finishes; `--json` prints one document holding
the records and a summary. `maldoc/schemas/record.schema.json` is generated from these models
(`python -m maldoc.record > core/schemas/record.schema.json`); a test keeps the two equal.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from maldoc.verdict import Verdict

RECORD_SCHEMA = "maldoc.record/1"


class Record(BaseModel):
    schema_: Literal["maldoc.record/1"] = Field(RECORD_SCHEMA, alias="schema")
    input: str = Field(description="the input as named or found ('-' for standard input)")
    status: Literal["scanned", "unreadable"]
    reason: str = Field("", description="why an input could not be read")
    verdict: Verdict | None = None

    model_config = {"populate_by_name": True}


class Summary(BaseModel):
    inputs: int
    unreadable: int
    labels: dict[str, int] = Field(description="top-level verdicts per label")
    seconds: float


class Document(BaseModel):
    """`--json`: every record, then the summary."""

    schema_: Literal["maldoc.record/1"] = Field(RECORD_SCHEMA, alias="schema")
    maldoc: str
    model: str
    records: list[Record]
    summary: Summary

    model_config = {"populate_by_name": True}


def json_schema() -> dict:
    """The JSON Schema of both output forms: a `Document` (`--json`) or a `Record` (a `--jsonl` line)."""
    doc = Document.model_json_schema(by_alias=True)
    defs = doc.pop("$defs", {})
    defs["Document"] = doc
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": RECORD_SCHEMA,
            "title": "maldoc scan output", "anyOf": [{"$ref": "#/$defs/Document"}, {"$ref": "#/$defs/Record"}],
            "$defs": defs}


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=1, sort_keys=True))
