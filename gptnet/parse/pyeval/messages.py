"""Every refusal of the evaluator, in one place: one line naming the construct and where it is.

The messages reach the LLM in the "revise" turn (through ParseError and the answer's notes), so each says what
gptnet does not read and, where it helps, what to write instead."""

from __future__ import annotations

from ... import limits


class Refused(Exception):
    """What makes source unreadable; `line` is where, when known (the evaluator fills it in as it unwinds)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


# statements and expressions the evaluator does not run, by ast class name
NOT_READ = {
    "While": "while loops are not read (write a for loop over a range or a list)",
    "Try": "try/except is not read",
    "With": "with blocks are not read",
    "Global": "global is not read", "Nonlocal": "nonlocal is not read",
    "Import": "imports inside a function are not read", "ImportFrom": "imports inside a function are not read",
    "Delete": "del is not read", "Yield": "generators are not read", "YieldFrom": "generators are not read",
    "Await": "async code is not read", "AsyncFor": "async code is not read", "AsyncWith": "async code is not read",
    "AsyncFunctionDef": "async code is not read", "NamedExpr": "the walrus operator := is not read",
    "ClassDef": "a class defined inside a function is not read", "Set": "sets are not read",
    "SetComp": "sets are not read", "Match": "match statements are not read",
}


def unsafe(name: str) -> str:
    return f"`{name}` is not read: gptnet never runs, imports or looks up code by name from an answer"


def unknown_name(name: str) -> str:
    return f"`{name}` is not defined (gptnet reads the answer's own constants, functions and classes, torch.nn " \
           "layers, math and a few builtins)"


def format_field(field: str) -> str:
    return f"the format field `{field[:40]}` is not read (gptnet formats `{{}}`, `{{0}}` and `{{name}}` of a number " \
           "or a string, with at most a width and `d`: `{:02d}`)"


def too_many_steps() -> str:
    return f"building the model takes more than {limits.MAX_EVAL_STEPS:,} steps to follow (MAX_EVAL_STEPS)"


def too_deep() -> str:
    return f"calls nest more than {limits.MAX_CALL_DEPTH} deep (MAX_CALL_DEPTH; a recursive function?)"


def too_nested() -> str:
    return f"statements and expressions nest more than {limits.MAX_EVAL_NESTING} deep, across calls " \
           "(MAX_EVAL_NESTING)"


def too_large(what: str) -> str:
    return f"{what} is larger than gptnet reads (MAX_COLLECTION {limits.MAX_COLLECTION:,} items, MAX_NUMBER)"
