"""LLM text to specs. Answers are data: JSON, article-style layer lists or PyTorch source read with `ast`;
nothing in them is ever executed, imported or evaluated."""

from __future__ import annotations

import re

from ..spec.graph import Call
from .answer import Candidate, ParsedAnswer, ParseError, check_answer
from .jsonform import find_json, parse_json
from .layerlist import parse_layer_list
from .naming import name_in, usable
from .options import mark_options, own_words, trim_options
from .pysource import looks_like_python, parse_python
from .table import find_table, parse_table


_THINKING = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|$)", re.S | re.I)


def parse_answer(text: str, build: str | None = None) -> ParsedAnswer:
    """The models and modules in an answer, whichever form it takes, each model with the name the answer gives it
    (if any). A reasoning model's `<think>` block is its drafts, not its answer, and is left out. `build` is the
    answer to stage build for a program that leaves its model unbuilt (`ParsedAnswer.unbuilt`)."""
    check_answer(text)
    text = _THINKING.sub("", text)
    answer = _read(text) if build is None else parse_python(text, _THINKING.sub("", build))
    trim_options(answer)
    _name(answer, text)
    mark_options(answer, text)
    return answer


def _name(answer: ParsedAnswer, text: str) -> None:
    """A name that says nothing (`model = nn.Sequential(...)`, `class Net`) is dropped; a model without one takes
    the name the answer's prose gives it (a lone model anywhere, one of several in its own introduction), never a
    module's."""
    taken = {m.name for m in answer.modules} | {n.module for c in answer.models for n in c.layers
                                                if isinstance(n, Call)}
    for candidate in answer.models:
        candidate.name = usable(candidate.name)
        if candidate.name is None:
            candidate.name = name_in(text if len(answer.models) == 1 else own_words(candidate.context), taken)


def _read(text: str) -> ParsedAnswer:
    errors = []
    if find_json(text) is not None:
        try:
            return parse_json(text)
        except ParseError as e:
            errors.append(str(e))
    if looks_like_python(text):  # source that cannot be read is refused, not re-read as a loose layer list
        return parse_python(text)
    if find_table(text) is not None:  # a table with an argument per column; one of calls is a layer list
        try:
            return parse_table(text)
        except ParseError as e:
            errors.append(str(e))
    try:
        return parse_layer_list(text)
    except ParseError as e:
        errors.append(str(e))
    raise ParseError("; ".join(dict.fromkeys(errors)))


__all__ = ["Candidate", "ParseError", "ParsedAnswer", "parse_answer"]
