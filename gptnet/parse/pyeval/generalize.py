"""Specialisations of one class folded back into one parametrised spec module, so that model.py stays readable.

The evaluator makes a spec module per distinct instance (`BasicBlock(64, 128, 2)` and `BasicBlock(128, 256, 2)`
trace to different numbers). Instances of a class whose layers have the same structure and whose numbers are
each explained by the constructor's arguments (a parameter, `p * k`, `p // k` or `p * q`, found from the values
alone) become one module with those parameters, and each call passes its instance's arguments; instances that
differ only in whether they add their input share one module whose residual holds under a condition found the same
way (`inp == oup`). Any expression found is exact for every call it serves, so the model is the same; what cannot
be explained stays numbered."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ... import limits
from ...spec.grammar import check_name
from ...spec.graph import ModuleSpec

_TRIES = 8  # runs a construction is tried against
_ATOMS = 64  # comparisons a residual's condition is made of


def _leaves(node: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """The numbers of a dumped body that may become expressions: ints, outside a layer's (h, w) pairs."""
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list) and (_items(path) or any(isinstance(x, (dict, list)) for x in node)):
        return [leaf for k, v in enumerate(node) for leaf in _leaves(v, (*path, k))]
    return [(path, node)] if isinstance(node, int) and not isinstance(node, bool) or _switch(path, node) else []


def _switch(path: tuple, node: Any) -> bool:
    """A residual's `when` while folding: True where the instance adds its input, False where it does not."""
    return bool(path) and path[-1] == "when" and isinstance(node, bool)


def _shape(body: list) -> str:
    """The structure of a dumped body: every number that may vary left out."""
    def blank(node: Any, path: tuple) -> Any:
        if isinstance(node, dict):
            return {k: blank(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list) and (_items(path) or any(isinstance(x, (dict, list)) for x in node)):
            return [blank(v, (*path, k)) for k, v in enumerate(node)]
        return "#" if isinstance(node, int) and not isinstance(node, bool) or _switch(path, node) else node
    return json.dumps(blank(body, ()), sort_keys=True)


def _items(path: tuple) -> bool:
    """A call's arguments are each a number of their own (a layer's (h, w) pair stays one value)."""
    return bool(path) and path[-1] == "args"


def _explain(values: list[int], params: dict[str, list]) -> str | None:
    """The simplest expression over the parameters that gives each value, or None."""
    ints = {p: v for p, v in params.items() if all(isinstance(x, int) and not isinstance(x, bool) for x in v)}
    for p, v in ints.items():
        if v == values:
            return p
    for p, v in ints.items():  # a small factor, or one read off the first value; checked against all
        ups = [*range(2, 9), values[0] // v[0] if v[0] else 0]
        downs = [*range(2, 9), v[0] // values[0] if values[0] > 0 else 0]
        for k in (k for k in ups if k > 1 and [x * k for x in v] == values):
            return f"{p} * {k}"
        for k in (k for k in downs if k > 1 and [x // k for x in v] == values):
            return f"{p} // {k}"
    for p, v in ints.items():
        for q, w in ints.items():
            if [a * b for a, b in zip(v, w)] == values:
                return f"{p} * {q}"
    return None


def _explain_switch(values: list[bool], params: dict[str, list]) -> str | None:
    """The simplest condition over the parameters that holds exactly where the input is added: `stride == 1`,
    `inp == oup`, or two such joined by `and`."""
    ints = {p: v for p, v in params.items() if all(isinstance(x, int) and not isinstance(x, bool) for x in v)}
    atoms = [(f"{p} == {k}", [x == k for x in v]) for p, v in ints.items() for k in sorted(set(v))]
    atoms += [(f"{p} == {q}", [a == b for a, b in zip(v, w)]) for i, (p, v) in enumerate(ints.items())
              for q, w in list(ints.items())[i + 1:]]
    atoms = atoms[:_ATOMS]
    for text, v in atoms:
        if v == values:
            return text
    for i, (a, va) in enumerate(atoms):
        for b, vb in atoms[i + 1:]:
            if [x and y for x, y in zip(va, vb)] == values:
                return f"{a} and {b}"
    return None


def _set(node: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def _calls(node: Any, renamed: dict[str, tuple[str, list]]) -> Any:
    """A dumped node with each call of a folded module replaced by a call of the parametrised one."""
    if isinstance(node, list):
        return [_calls(x, renamed) for x in node]
    if not isinstance(node, dict):
        return node
    if node.get("op") == "call" and node.get("module") in renamed and not node.get("args") and not node["kwargs"]:
        module, args = renamed[node["module"]]
        return {**node, "module": module, "args": args}
    return {k: _calls(v, renamed) for k, v in node.items()}


def generalize(modules: list[ModuleSpec], classes: dict[str, str], params: dict[str, dict[str, Any]],
               models: list[list]) -> tuple[list[ModuleSpec], list[list]]:
    """`modules` in the order they were made, each module's class (`classes`) and its instance's arguments by
    parameter (`params`); and the models' layers. The modules and models with the folds made."""
    dumps = {m.name: m.model_dump(mode="json") for m in modules}
    layers = [[n.model_dump(mode="json") for n in chain] for chain in models]
    taken = set(dumps)
    for cls in dict.fromkeys(classes[m.name] for m in modules if m.name in classes):
        _switchable([dumps[n] for n in dumps if classes.get(n) == cls])
        groups: dict[str, list[str]] = {}
        for name in (n for n in dumps if classes.get(n) == cls):
            groups.setdefault(_shape(dumps[name]["body"]), []).append(name)
        renamed: dict[str, tuple[str, list]] = {}
        for members in (c for g in groups.values() for c in _clusters(cls, g, dumps, params, taken)):
            folded = _fold(cls, members, dumps, params, taken)
            if folded is not None:
                spec, calls = folded
                for name in members:
                    dumps.pop(name)
                dumps[spec["name"]] = spec
                taken.add(spec["name"])
                renamed.update(calls)
        if renamed:
            dumps = {n: _calls(d, renamed) for n, d in dumps.items()}
            layers = [_calls(chain, renamed) for chain in layers]
    for d in dumps.values():
        d["body"] = _settled(d["body"])
    return [ModuleSpec.model_validate(d) for d in dumps.values()], layers


def _settled(body: list) -> list:
    """A residual whose condition stayed a constant: always on, or its layers written out."""
    first = body[0] if body else {}
    if not isinstance(first.get("when"), bool):
        return body
    return [{**first, "when": None}, *body[1:]] if first["when"] else first["body"] + body[1:]


def _switchable(specs: list[dict]) -> None:
    """Instances of a class that add their input (a residual first, with no shortcut layers) and instances that
    do not, but otherwise apply the same layers (MobileNetV2's `if self.use_res_connect`), made one structure: the
    residual's `when` True in the first, a residual with `when` False around the same layers in the others."""
    added = [d for d in specs if d["body"] and d["body"][0].get("op") == "add" and not d["body"][0]["shortcut"]
             and d["body"][0]["when"] is None]
    if not added:
        return
    shapes = {_shape(d["body"][0]["body"] + d["body"][1:]): len(d["body"][0]["body"]) for d in added}
    for d in added:
        d["body"][0]["when"] = True
    for d in specs:
        cut = shapes.get(_shape(d["body"])) if d not in added else None
        if cut:
            d["body"] = [{"op": "add", "body": d["body"][:cut], "shortcut": [], "when": False}, *d["body"][cut:]]


def _clusters(cls: str, members: list[str], dumps: dict, params: dict, taken: set[str]) -> list[list[str]]:
    """Members of one structure split, in order, into runs that one set of expressions explains."""
    out: list[list[str]] = []
    for m in members:
        tries = out[-_TRIES:]  # bounded, so that many constructions cannot make this quadratic
        home = next((c for c in tries if _fold(cls, [*c, m], dumps, params, taken) is not None), None)
        if home is None:
            out.append([m])
        else:
            home.append(m)
    return out


def _fold(cls: str, members: list[str], dumps: dict, params: dict, taken: set[str]):
    """One parametrised module for members of one structure, and the call replacing each; None if a number
    cannot be explained or a parameter's name cannot be used."""
    if len(members) < 2 or len(params[members[0]]) > limits.MAX_FOLD_PARAMS:  # a fold is for reading: past that,
        return None  # the modules stay one per construction rather than the pairs of parameters be tried
    bodies = [dumps[m]["body"] for m in members]
    args = {p: [params[m].get(p) for m in members] for p in params[members[0]]}
    body = json.loads(json.dumps(bodies[0]))
    used: set[str] = set()
    for (path, first), *others in zip(_leaves(bodies[0]), *(_leaves(b) for b in bodies[1:])):
        values = [first] + [v for _, v in others]
        if len(set(values)) == 1:
            continue
        text = _explain_switch(values, args) if _switch(path, first) else _explain(values, args)
        if text is None:
            return None
        used |= {p for p in args if p in text.replace("*", " ").replace("/", " ").split()}
        _set(body, path, text)
    order = [p for p in params[members[0]] if p in used]
    name = cls if cls not in taken - set(members) else next(
        f"{cls}_{k}" for k in range(2, 1000) if f"{cls}_{k}" not in taken - set(members))
    try:
        for p in order:
            check_name(p, "parameter")
            if p in dumps or p == cls or p.startswith(f"{cls}_"):  # a parameter may not take a module's name
                return None
        doc = dumps[members[0]]["doc"] or ""
        doc = f"{doc.split(', as ')[0] if ', as ' in doc else 'The answer' + chr(39) + 's ' + cls}, with the sizes " \
              "each construction gives it."
        spec = ModuleSpec(name=name, params=order, body=_settled(body), doc=doc).model_dump(mode="json")
    except (ValueError, ValidationError):
        return None
    return spec, {m: (name, [params[m][p] for p in order]) for m in members}

