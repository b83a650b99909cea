"""Text gptnet did not write (LLM answers, cassettes, edited specs): the checks every reader of it shares, so that no
decoder recurses past a limit on it and every later write or print of it works."""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any, Iterator

from . import limits

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# what one_line escapes: C0 and C1 controls with ESC and DEL (a terminal acts on them: clear the screen, move the
# cursor, rewrite a line), and format characters that reorder or hide text (bidi embeddings, overrides and
# isolates, zero-width characters, line and paragraph separators, the byte order mark, interlinear annotations)
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                        "\ufeff\ufff9-\ufffb]")

# what JSON reads as one token inside brackets, with the comments LLMs add to it; a string ends with its line, as
# JSON allows no raw newline in one, so a stray quote cannot swallow the rest of an answer
STRING = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"?'
COMMENT = r"//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)"
_INSIDE = re.compile(rf"{STRING}|{COMMENT}|[\[\]{{}}]")
_OPEN = re.compile(r"[\[{]")


class TooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH: refused before Python's decoder, which recurses, ever sees it."""

    def __init__(self) -> None:
        super().__init__(f"nested deeper than {limits.MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)")


def clean_surrogates(value: Any) -> Any:
    """A string, or decoded JSON, with each unpaired surrogate (what an escape such as \\ud800 decodes to) replaced
    by U+FFFD: UTF-8 cannot encode one, so every later write or print of the text would fail."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {clean_surrogates(k): clean_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_surrogates(v) for v in value]
    return value


def one_line(text: str, limit: int = 200) -> str:
    """Untrusted text as gptnet prints it or writes it in a report: inert (each character that could drive a
    terminal or reorder what a reader sees is escaped visibly, as \\x1b or \\u202e), on one line (runs of
    whitespace, newlines included, become one space), and at most `limit` characters, cut with "..."."""
    text = _INVISIBLE.sub(_escape, " ".join(text.split()))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _escape(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each [...] and {...} in the text, in the order they close, read in one pass as JSON reads
    them inside brackets (strings, comments) and as prose outside. Raises TooDeep past MAX_JSON_DEPTH, so that
    a decoder given any of them (or the whole text) never goes deeper."""
    opened: list[int] = []
    pos = 0
    while m := _OPEN.search(text, pos):  # prose, up to the next opening bracket
        opened.append(m.start())
        for token in _INSIDE.finditer(text, m.end()):
            t = token.group()
            if t == "[" or t == "{":
                opened.append(token.start())
                if len(opened) > limits.MAX_JSON_DEPTH:
                    raise TooDeep()
            elif t == "]" or t == "}":  # either closes the latest opener; a mismatch is the decoder's to refuse
                yield opened.pop(), token.end()
                if not opened:
                    pos = token.end()
                    break
        else:
            return


def check_depth(text: str) -> None:
    """Raises TooDeep if brackets in the text, read as json_spans reads them, nest deeper than MAX_JSON_DEPTH."""
    deque(json_spans(text), maxlen=0)


def load_json(text: str) -> Any:
    """json.loads for text gptnet did not write: refused with TooDeep past MAX_JSON_DEPTH before it is decoded,
    with unpaired surrogates replaced."""
    check_depth(text)
    value = json.loads(text)
    # only an escape makes a surrogate in valid text: most files need no walk through every value
    return clean_surrogates(value) if _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text) else value
