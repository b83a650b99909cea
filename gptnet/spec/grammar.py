"""The closed grammar of what may reach `model.py` from a spec (and so from an LLM answer, a cassette or an edit).

Identifiers are ASCII (no look-alike letters that Python folds into `exec`), start with a letter, and are none of
the names Python or the template gives a meaning: keywords, builtins, and every name `model.py.j2` writes. An
attribute must not replace an `nn.Module` member (`self.forward = ...`). Default values are literals from a small
set, and text (docstrings, the title, header lines) is plain printable text that a quoting function makes inert.
`verify.py` checks the rendered file against the same sets."""

from __future__ import annotations

import builtins
import keyword
import math
import re
from typing import Any

from .. import limits

# every name the template writes in model.py (`num_classes` aside: it is only ever a constructor's parameter, and a
# classifier module may take one of its own)
TEMPLATE_NAMES = frozenset({"torch", "nn", "F", "self", "x", "forward", "super", "build_model", "model", "Module",
                            "Tensor", "Sequential", "cat"})
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | TEMPLATE_NAMES

# public members of torch.nn.Module (torch 2.14) and the attribute its __init__ sets; an attribute of that name
# would replace the method (tests/test_grammar.py checks this list against the installed torch)
NN_MODULE_MEMBERS = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
    "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "type", "xpu", "zero_grad", "training"})
RESERVED_ATTRS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | NN_MODULE_MEMBERS

# the functions a size expression may call; no identifier may take their names (they are builtins)
EXPR_FUNCS = frozenset({"int", "max", "min", "round"})
# the only strings a default value or a rendered argument may be (padding modes, interpolation, activation names)
ALLOWED_STRINGS = frozenset({"same", "valid", "zeros", "reflect", "replicate", "circular", "nearest", "bilinear",
                             "relu", "relu6", "silu", "swish", "hswish", "hardswish", "gelu", "sigmoid", "tanh",
                             "none", "mean", "max", "avg"})

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check_name(v: Any, what: str = "name", reserved: frozenset[str] = RESERVED) -> str:
    """An identifier that reaches generated code; a ValueError saying why not."""
    if not isinstance(v, str) or not _IDENT.fullmatch(v) or len(v) > limits.MAX_NAME:
        shown = repr(v)[:40]
        raise ValueError(f"{what} {shown} is not a usable name (ASCII letters, digits and _, starting with a letter, "
                         f"at most {limits.MAX_NAME} characters)")
    if v in reserved:
        raise ValueError(f"{what} {v!r} is reserved: Python or the generated model.py already uses that name")
    return v


def check_number(v: Any, where: str = "") -> Any:
    """A literal number: finite, and an integer within MAX_SIZE."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{where}: {v} is not a finite number")
    if isinstance(v, (int, float)) and abs(v) > limits.MAX_SIZE:
        raise ValueError(f"{where}: {v} is larger than gptnet accepts ({limits.MAX_SIZE:,})")
    return v


def check_default(v: Any, where: str) -> Any:
    """A constructor default: a number, bool, None, a string from ALLOWED_STRINGS, or a flat tuple of those."""
    if isinstance(v, (list, tuple)):
        if len(v) > 8 or any(isinstance(x, (list, tuple)) for x in v):
            raise ValueError(f"default of {where}: only a flat tuple of up to 8 values is a default gptnet writes")
        return tuple(check_default(x, where) for x in v)
    if isinstance(v, str):
        if v not in ALLOWED_STRINGS:
            raise ValueError(f"default of {where}: the string {v[:40]!r} is not one gptnet writes "
                             f"({', '.join(sorted(ALLOWED_STRINGS))})")
        return v
    if isinstance(v, (bool, int, float)) or v is None:
        return check_number(v, f"default of {where}")
    raise ValueError(f"default of {where}: {str(v)[:40]!r} is not a number, bool, None, string or tuple")


def literal(v: Any) -> str:
    """Source text of a checked default: tuples with their trailing comma, strings quoted by repr."""
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def clean_text(text: Any, limit: int = limits.MAX_DOC) -> str:
    """Plain printable text that can sit inside a triple-quoted string and never end it: no quote, backslash,
    control, format (bidirectional overrides) or unpaired surrogate characters; whitespace runs become one space."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    text = " ".join(text.replace("\\", "/").replace('"', "'").split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."
