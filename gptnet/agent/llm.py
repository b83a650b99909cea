"""The seam between the pipeline and an LLM (after httpx's transports): the pipeline calls `ask(stage, messages)`
and does not know whether a live server or a cassette answers. Every answer is recorded in a `Conversation`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..untrusted import clean_surrogates
from .cassette import Cassette, Turn


class NoAnswer(Exception):
    """The LLM has no answer for this stage (a cassette with no turn left for it)."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


@dataclass
class Reply:
    text: str
    usage: dict[str, int] | None = None
    params: dict[str, Any] = field(default_factory=dict)  # request parameters beyond model and messages

    def __post_init__(self) -> None:
        self.text = clean_surrogates(self.text)  # a lone surrogate in an answer would break every later write


class LLM(Protocol):
    model: str
    description: str

    def ask(self, stage: str, messages: list[dict[str, str]]) -> Reply: ...


class ReplayLLM:
    """Answers from a cassette: per stage, the next unused turn of that stage, in file order."""

    def __init__(self, cassette: Cassette, source: str) -> None:
        self.cassette, self.source = cassette, source
        self.model = str(cassette.meta.get("model", "replay"))
        self.description = f"replaying {source}"
        self._used: set[int] = set()

    def ask(self, stage: str, messages: list[dict[str, str]]) -> Reply:
        for i, turn in enumerate(self.cassette.turns):
            if i not in self._used and turn.stage == stage:
                self._used.add(i)
                return Reply(turn.response, turn.usage)
        raise NoAnswer(stage)


@dataclass
class Conversation:
    """The turns of this run, written as the output's conversation.json (replayable)."""

    meta: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)
    on_record: Callable[["Conversation"], None] | None = None  # e.g. write the cassette after every turn
    review: list[dict[str, Any]] = field(default_factory=list)

    def record(self, stage: str, request: dict[str, Any], reply: Reply) -> None:
        self.turns.append(Turn(stage=stage, request={**request, **reply.params}, response=reply.text,
                               usage=reply.usage))
        if self.on_record:
            self.on_record(self)

    def add_review(self, event: dict[str, Any]) -> None:
        self.review.append(event)
        if self.on_record:
            self.on_record(self)

    def cassette(self) -> Cassette:
        return Cassette(meta=self.meta, turns=self.turns, review=self.review)
