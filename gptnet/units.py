"""Parsing the user's numbers: parameter budgets (`10M`, `2.5M`, `500K`) and input shapes (`3x32x32`)."""

from __future__ import annotations

import re

from . import limits
from .errors import UsageError

_SUFFIX = {"": 1, "K": 1_000, "M": 1_000_000, "G": 1_000_000_000, "B": 1_000_000_000}
MIN_COUNT = 1_000  # parameters or MACs: a smaller budget is a typo
_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGB]?)\s*$", re.IGNORECASE)


def parse_count(text: str, what: str = "budget") -> int:
    """`10M` -> 10_000_000. Rejects negatives, zero and unknown suffixes with a usable message."""
    m = _COUNT.match(str(text))
    if not m:
        raise UsageError(
            f"invalid {what} {text!r}",
            "write a positive count with an optional K, M or G suffix, e.g. 10M, 2.5M, 500K or 1200000",
        )
    value = float(m.group(1)) * _SUFFIX[m.group(2).upper()]
    if value < MIN_COUNT:  # no network fits in fewer; `--budget 1.5` almost always meant millions
        guess = f"did you mean {m.group(1)}M? " if not m.group(2) else ""
        raise UsageError(f"invalid {what} {text!r}: below {MIN_COUNT:,}",
                         f"{guess}write the count with a K, M or G suffix, e.g. 10M, 2.5M or 500K")
    return int(round(value))


def format_count(n: float, unit: str = "") -> str:
    """6_658_564 -> '6.66M'; the article's convention (decimal units, two decimals)."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            return f"{n / factor:.2f}".rstrip("0").rstrip(".") + f"{suffix}{unit}"
    return f"{int(n)}{unit}"


def parse_input(text: str) -> tuple[int, int, int]:
    """`3x32x32` -> (3, 32, 32)."""
    parts = re.split(r"\s*[x×,]\s*", str(text).strip().lower())
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"invalid input shape {text!r}", "write it as CxHxW with positive integers, e.g. 3x32x32")
    c, h, w = (int(p) for p in parts)
    if c > limits.MAX_INPUT_CHANNELS or max(h, w) > limits.MAX_SPATIAL:
        raise UsageError(f"input shape {text!r} is larger than gptnet designs for",
                         f"at most {limits.MAX_INPUT_CHANNELS} channels and {limits.MAX_SPATIAL} pixels a side")
    return c, h, w


def plural(count: int, noun: str) -> str:
    """`1 attempt`, `2 attempts`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def parse_latency(text: str) -> tuple[float, str | None]:
    """`15ms` -> (15.0, None); `15ms:gpu` -> (15.0, "gpu"); `0.5s` -> (500.0, None). The unit is required: a bare
    `5` could be read as seconds or milliseconds, a factor of 1000 apart."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*(?::\s*([a-z][a-z0-9_-]*))?\s*$", str(text), re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"invalid --max-latency {text!r}", "write a positive time with its unit, ms or s, optionally "
                         "with a backend: 15ms, 0.5s, 15ms:gpu")
    value = float(m.group(1)) * (1000 if m.group(2).lower() == "s" else 1)
    return value, m.group(3).lower() if m.group(3) else None
