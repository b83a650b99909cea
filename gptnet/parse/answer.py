"""What a parser makes of one LLM answer: candidate models, module definitions, and notes on what was skipped."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, Field, ValidationError

from .. import limits
from ..spec.graph import ModuleSpec, Node
from ..untrusted import TooDeep, check_depth


class ParseError(ValueError):
    """The answer holds nothing gptnet can read as the thing asked for; the message says what was looked for.
    `unbuilt`: as ParsedAnswer's, when the program left its model unbuilt (stage build may still read it)."""

    def __init__(self, message: str, unbuilt: list[str] | None = None) -> None:
        super().__init__(message)
        self.unbuilt = unbuilt or []


def check_answer(text: str) -> None:
    """Refuse, before any reader sees it, an answer longer than MAX_ANSWER_CHARS or with brackets nested deeper
    than MAX_JSON_DEPTH: no real answer comes near either, and every reader is linear within them."""
    if len(text) > limits.MAX_ANSWER_CHARS:
        raise ParseError(f"the answer is {len(text):,} characters long, more than gptnet reads "
                         f"({limits.MAX_ANSWER_CHARS:,}, MAX_ANSWER_CHARS)")
    try:
        check_depth(text)
    except TooDeep as e:
        raise ParseError(f"the answer's brackets are {e}") from None


class Candidate(BaseModel):
    """One model the answer proposes, as a top-level chain of layers and module calls."""

    name: Union[str, None] = Field(None, description="the model's name when the answer gives one")
    layers: list[Node]
    context: str = Field("", description="the answer's words that introduce it (its heading, label, the prose "
                                         "before it), for telling several apart")
    label: Union[str, None] = Field(None, description="what the answer calls it among several, e.g. Option B")
    recommended: Union[str, None] = Field(None, description="the answer's words recommending it, if any")

    def title(self, k: int) -> str:
        """How a person tells it from the others: `Option B (PocketNet)`, `PocketNet`, `model 2`."""
        parts = [p for p in (self.label, self.name) if p]
        return f"{parts[0]} ({parts[1]})" if len(parts) == 2 and parts[1] not in parts[0] else \
            parts[0] if parts else f"model {k + 1}"


class ParsedAnswer(BaseModel):
    form: Literal["json", "layers", "table", "python"] = Field(description="how the answer was written")
    models: list[Candidate] = Field(default_factory=list, description="candidate models, in answer order")
    modules: list[ModuleSpec] = Field(default_factory=list, description="composite modules the answer defines")
    notes: list[str] = Field(default_factory=list, description="what was read but left out, and why")
    unbuilt: list[str] = Field(default_factory=list, description="models the program defines but never builds, with "
                               "a choice left open, as signatures: what stage build asks for")


def flat_errors(e: ValidationError, most: int = 3) -> str:
    """A pydantic error as one line of `where: what` parts."""
    # pydantic prefixes what a validator raised with "Value error, "; the message itself is what a reader needs
    parts = [f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg'].removeprefix('Value error, ')}"
             for err in e.errors()[:most]]
    return "; ".join(parts)
