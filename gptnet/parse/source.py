"""Python source from an answer, parsed with `ast` only and checked at the door: never compiled to run, nested no
deeper than the readers follow."""

from __future__ import annotations

import ast
import warnings

from .. import limits
from ..untrusted import clean_surrogates
from .answer import ParseError


def _shallow(tree: ast.AST) -> bool:
    """Is the syntax tree at most MAX_SOURCE_DEPTH deep? Found level by level, without recursion, so that the
    reader's own recursive walks (substitution, unparsing, tracing) are safe on what passes."""
    level = [tree]
    for _ in range(limits.MAX_SOURCE_DEPTH):
        level = [child for node in level for child in ast.iter_child_nodes(node)]
        if not level:
            return True
    return False


def read_source(source: str, mode: str = "exec") -> ast.AST:
    """ast.parse (raising SyntaxError) for code in an answer: refused with a ParseError when nested past what
    Python's parser or gptnet's readers follow, and with unpaired surrogates (`"\\ud800"`) in its strings
    replaced, so that no later write of what it names can fail."""
    try:
        with warnings.catch_warnings():  # what Python would warn about in the answer's code is not for the user
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode=mode)
    except (RecursionError, MemoryError):  # how Python's parser refuses some deep nesting
        tree = None
    if tree is None or not _shallow(tree):
        raise ParseError(f"code nested deeper than gptnet reads ({limits.MAX_SOURCE_DEPTH} levels, "
                         "MAX_SOURCE_DEPTH)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = clean_surrogates(node.value)
    return tree
