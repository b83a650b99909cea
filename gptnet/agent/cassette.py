"""Cassettes (`gptnet-conversation/1`): a conversation as a readable, hand-editable JSON file (DESIGN.md).

Replay hands out, per stage, the next turn of that stage not yet used, in file order. Saving is atomic (a temp
file, then a rename), so an interrupted run leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import limits
from ..errors import UsageError
from ..output import write_atomic
from ..untrusted import TooDeep, load_json, one_line

FORMAT = "gptnet-conversation/1"
_STAGE = re.compile(r"^(ops|model|build|revise|module:[A-Za-z_][A-Za-z0-9_]*)$")
_SECRET_KEYS = {"authorization", "api_key", "api-key", "x-api-key", "openai_api_key"}


class Turn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    stage: str = Field(description="ops, model, build, module:<Name> or revise")
    request: Union[dict[str, Any], None] = Field(None, description="what was sent: model, messages, parameters")
    response: str = Field(description="the text of the answer")
    usage: Union[dict[str, int], None] = Field(None, description="token usage reported by the server")

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, v: str) -> str:
        if not _STAGE.match(v):
            raise ValueError(f"unknown stage {one_line(v, 60)!r} (expected ops, model, build, module:<Name> or revise)")
        return v


class Cassette(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["gptnet-conversation/1"] = FORMAT
    meta: dict[str, Any] = Field(default_factory=dict)
    turns: list[Turn] = Field(default_factory=list)
    review: list[dict[str, Any]] = Field(default_factory=list,
                                         description="the human review (accept, edits, feedback), in order")


def _scrub(value: Any) -> Any:
    """No API key or auth header is ever written, whatever a request carried."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if str(k).lower() not in _SECRET_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def load_cassette(path: str | Path) -> Cassette:
    """A cassette file, checked at the door: every problem with it is one UsageError line naming the file, and its
    text comes in with unpaired surrogates replaced, so that writing it back out always works."""
    path = Path(path)
    if path.is_dir():
        inside = path / "conversation.json"
        hint = f"give its conversation.json: --replay {inside}" if inside.is_file() else \
            "give the path of a gptnet-conversation/1 JSON file"
        raise UsageError(f"cassette {path} is a folder, not a file", hint)
    if not path.is_file():
        raise UsageError(f"cassette {path} not found", "give the path of a gptnet-conversation/1 JSON file")
    with path.open("rb") as f:
        raw = f.read(limits.MAX_CASSETTE_BYTES + 1)
    if len(raw) > limits.MAX_CASSETTE_BYTES:
        raise UsageError(f"cassette {path} is larger than {limits.MAX_CASSETTE_BYTES:,} bytes (MAX_CASSETTE_BYTES)",
                         "a cassette holds one conversation; check that this is the file you meant")
    try:
        data = load_json(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UsageError(f"cassette {path} is not UTF-8 text (invalid byte at offset {e.start})",
                         "save it as UTF-8, or record a new one") from None
    except TooDeep as e:
        raise UsageError(f"cassette {path}: its JSON is {e}", "fix the file or record a new one") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"cassette {path} is not valid JSON ({e})", "fix the file or record a new one") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"cassette {path} is not a {FORMAT} file",
                         f'its top level needs "format": "{FORMAT}" and a "turns" list')
    try:
        return Cassette.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = one_line(".".join(str(p) for p in err["loc"]), 80)
        raise UsageError(f"cassette {path}: {where}: {one_line(err['msg'])}",
                         "fix the file or record a new one") from None


def cassette_json(cassette: Cassette) -> str:
    return json.dumps(_scrub(cassette.model_dump(exclude_none=True)), indent=2, ensure_ascii=False) + "\n"


def save_cassette(cassette: Cassette, path: str | Path) -> None:
    write_atomic(Path(path), cassette_json(cassette))


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
