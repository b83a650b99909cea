"""The errors gptnet shows to users: one line of cause, one line of hint, and an exit code (DESIGN.md)."""

from __future__ import annotations


class GptnetError(Exception):
    """An error meant to be shown: the CLI prints `message` and `hint`, never a traceback (unless --debug)."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(GptnetError):
    """Bad input from the user: a budget string, an unknown target, a missing or corrupt file. Exit 2."""

    exit_code = 2


class DesignError(GptnetError):
    """No valid model could be made from the LLM's answers. Exit 1."""

    exit_code = 1
