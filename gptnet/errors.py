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


class Stopped(GptnetError):
    """The user chose to stop (quit at review): the CLI says so plainly, not as an error, and exits 1 as DESIGN.md
    asks when no model was made."""

    exit_code = 1


class DesignError(GptnetError):
    """No valid model could be made from the LLM's answers. Exit 1."""

    exit_code = 1


def unexpected(e: BaseException) -> tuple[str, str, int]:
    """The one line (message, hint, exit code) for an error no command turned into a GptnetError: the file system,
    the network, or an input deeper or larger than Python can take. Commands convert what they expect; this is the
    net under them, so a user never sees a traceback without --debug."""
    if isinstance(e, OSError):
        reason = getattr(e, "reason", None)  # urllib's URLError wraps the socket error
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        what = f"network error: {reason}" if reason is not None else e.strerror or str(e) or type(e).__name__
        hint = "check the network, or run offline with data already on disk" if reason is not None else \
            "check the path and its permissions"
        return f"{what}{where}", hint, 2
    if isinstance(e, (RecursionError, MemoryError)):
        return "an input is nested too deeply or is too large to read", "check the file or answer it came from", 1
    if isinstance(e, UnicodeError):
        return f"text that is not valid Unicode: {e}", "check the file or answer it came from", 1
    name = type(e).__name__
    if name == "ValidationError":  # pydantic's: a spec or an edit that fails its schema
        first = e.errors()[0] if hasattr(e, "errors") else {}
        where = ".".join(map(str, first.get("loc", ()))) or "value"
        return f"invalid {getattr(e, 'title', 'input')}: {where}: {first.get('msg', e)}", \
            "fix the value it names", 1
    return f"{name}: {e}", "rerun with --debug to see where; please report it", 1
