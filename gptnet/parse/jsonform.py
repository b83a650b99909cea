"""JSON answers: bare, fenced, or with prose around. Lenient about the wrapping an LLM chooses (a model object, a
list of models, a bare list of layers; layer keys `op`/`type`/`layer`; arguments inline or under `args`), strict
about what ends up in the spec."""

from __future__ import annotations

import json
import re
from typing import Any

from ..spec.graph import Concat, Gate, ModuleSpec, Residual
from ..spec.registry import lookup
from ..untrusted import COMMENT, STRING, TooDeep, clean_surrogates, json_spans, one_line
from pydantic import ValidationError

from .answer import Candidate, ParsedAnswer, ParseError, flat_errors
from .build import BuildError, make_nodes

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)
_OP_KEYS = ("op", "type", "layer", "kind", "operator", "class", "module", "class_name")
_ARG_KEYS = ("args", "params", "parameters", "config", "arguments", "kwargs")


# a comment outside strings: JSON has none, so `#` there starts one too; removed before the trailing commas, so that a
# comma before a comment before the bracket is trailing as well
_COMMENTS = re.compile(rf"({STRING})|{COMMENT}|#[^\n]*")
_TRAILING = re.compile(rf"({STRING})|,(?=\s*[}}\]])")


def _relaxed(text: str) -> str:
    """JSON as LLMs also write it: with //, /* */ and # comments and trailing commas, which are dropped (a comment
    becomes a space, so that it never joins two tokens)."""
    text = _COMMENTS.sub(lambda m: m.group(1) or " ", text)
    return _TRAILING.sub(lambda m: m.group(1) or "", text)


def find_json(text: str) -> Any | None:
    """The first JSON object or array in the text that looks like an answer, or None. Each bracketed span is tried
    in the order it opens, as written and relaxed; the spans come from one pass over the text, and none is deeper
    than MAX_JSON_DEPTH, so the work is linear in the text (times that depth at worst)."""
    for block in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
        try:
            spans = sorted(json_spans(block))
        except TooDeep:
            continue
        for start, end in spans:
            for candidate in (block[start:end], _relaxed(block[start:end])):
                try:
                    value = json.loads(candidate)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, (dict, list)) and value:
                    return clean_surrogates(value)
    return None


def _op_of(item: dict[str, Any]) -> tuple[str | None, str | None]:
    for key in _OP_KEYS:
        if isinstance(item.get(key), str):
            return key, item[key]
    if isinstance(item.get("name"), str) and lookup(item["name"]):
        return "name", item["name"]
    return None, None


# Keras layers whose arguments mean something else in torch: BatchNormalization's momentum weighs the running mean's
# old value, torch's the new one
_KERAS_MOMENTUM = {"batchnormalization"}
# Keras' input layer only states the input shape, which is the task's (--input)
_INPUT_LAYERS = {"input", "inputlayer"}


def _nodes(item: Any, notes: list[str], where: str) -> list:
    """The nodes one JSON layer stands for: one, or two for a Keras layer with `"activation"`, or none for an input
    layer."""
    if isinstance(item, str):  # "ReLU" or "Conv2d(3, 32, 3)" inside a JSON list
        from .layerlist import parse_layer_list

        layers = [n for c in parse_layer_list(item).models for n in c.layers]
        if len(layers) != 1:
            raise ParseError(f"{where}: cannot read {one_line(item, 80)!r} as one layer")
        return layers
    if not isinstance(item, dict):
        raise ParseError(f"{where}: expected a layer object, got {json.dumps(item)[:80]}")
    key, op = _op_of(item)
    if op is None:
        raise ParseError(f"{where}: layer {json.dumps(item)[:80]} names no operator (use \"op\")")
    rest = {k: v for k, v in item.items() if k != key and v is not None}  # structured outputs send nulls
    args: list[Any] = []
    for ak in _ARG_KEYS:
        if isinstance(rest.get(ak), dict):
            rest.update(rest.pop(ak))
        elif isinstance(rest.get(ak), list) and op.lower() not in ("call",):
            args = rest.pop(ak)
    attr = rest.pop("name", None) if key != "name" else None
    low = op.lower()
    if low in ("add", "residual", "shortcut", "skip"):
        return [Residual(body=_chain(rest.get("body") or rest.get("layers") or [], notes, where),
                         shortcut=_chain(rest.get("shortcut") or [], notes, where), when=rest.get("when"))]
    if low in ("mul", "multiply", "gate", "scale"):  # x * gate(x), squeeze-excite
        return [Gate(gate=_chain(rest.get("gate") or rest.get("body") or rest.get("layers") or [], notes, where))]
    if low in ("concat", "cat", "concatenate"):
        branches = rest.get("branches", [])
        if not isinstance(branches, list):
            raise ParseError(f"{where}: a concat's \"branches\" is a list of layer lists")
        return [Concat(branches=[_chain(b, notes, where) for b in branches])]
    if low in _INPUT_LAYERS:
        notes.append(f"{where}: {op} left out; the input shape is the task's (--input)")
        return []
    if low == "activation" and isinstance(rest.get("activation"), str):  # Keras: {"type": "Activation", ...}
        op = rest.pop("activation")
    if low in _KERAS_MOMENTUM and isinstance(rest.get("momentum"), (int, float)) and 0 <= rest["momentum"] <= 1:
        rest["momentum"] = round(1 - rest["momentum"], 6)
    if low == "call":
        op, args, rest = rest.pop("module", None), rest.pop("args", args), rest.pop("kwargs", rest)
        if not isinstance(op, str) or not isinstance(args, list) or not isinstance(rest, dict):
            raise ParseError(f"{where}: a call names its \"module\", with \"args\" a list and \"kwargs\" an object")
    try:
        return make_nodes(op, args, rest, attr=attr, notes=notes)
    except (BuildError, ValueError) as e:
        raise ParseError(f"{where}: {e}") from None


def _chain(items: Any, notes: list[str], where: str) -> list:
    if not isinstance(items, list):
        raise ParseError(f"{where}: expected a list of layers")
    return [node for i, item in enumerate(items) for node in _nodes(item, notes, f"{where} layer {i}")]


def _module(item: Any, notes: list[str]) -> ModuleSpec:
    if not isinstance(item, dict):
        raise ParseError(f"a module definition is an object, not {json.dumps(item)[:80]}")
    name = item.get("name") or item.get("class")
    where = f"module {one_line(str(name), 80)}"
    params = item.get("params", item.get("parameters", []))
    defaults = dict(item.get("defaults", {}))
    if isinstance(params, dict):  # {"in_channels": null, "stride": 1}: a value is a default
        defaults.update({k: v for k, v in params.items() if v is not None})
        params = list(params)
    body = item.get("body") or item.get("layers") or item.get("forward") or []
    try:
        return ModuleSpec(name=name, params=params, defaults=defaults, derived=item.get("derived", {}),
                          body=_chain(body, notes, where), doc=item.get("doc") or item.get("description"))
    except ValidationError as e:
        raise ParseError(f"{where}: {flat_errors(e)}") from None
    except ValueError as e:
        raise ParseError(f"{where}: {e}") from None


def _as_list(modules: Any) -> list:
    """Modules as a list of definitions, also when given as an object keyed by name."""
    if isinstance(modules, dict):
        return [{"name": k, **v} if isinstance(v, dict) else v for k, v in modules.items()]
    return list(modules) if isinstance(modules, list) else []


def _is_model(value: Any) -> bool:
    # a definition with constructor parameters is a module, even when its layers are under "layers"
    return isinstance(value, dict) and isinstance(value.get("layers"), list) and \
        not isinstance(value.get("params"), (list, dict))  # "params": "8M" is a model's size, not parameters


def _about(model: dict[str, Any]) -> str:
    """What a model object says about itself besides its layers ("name", "description", "recommended": true)."""
    words = [k if v is True else f"{k}: {v}" for k, v in model.items()
             if k not in ("layers", "modules") and isinstance(v, (str, int, float)) and v is not False]
    return one_line("; ".join(map(str, words)), 600)


def _fenced_models(text: str) -> list[tuple[str, Any]]:
    """Each fenced JSON block that holds a model, with the prose before it: an answer that writes its options as
    separate blocks ("Option A: ```json ...```  Option B: ```json ...```")."""
    found, end = [], 0
    for m in _FENCE.finditer(text):
        value = find_json(m.group(1))
        if isinstance(value, dict) and isinstance(value.get("model"), dict):
            value = value["model"]
        if _is_model(value):
            found.append((text[end:m.start()][-2000:], value))
        end = m.end()
    return found


def _name(model: dict[str, Any]) -> str | None:
    return model["name"] if isinstance(model.get("name"), str) else None


def parse_json(text: str) -> ParsedAnswer:
    blocks = _fenced_models(text)
    if len(blocks) > 1:
        notes: list[str] = []
        answer = ParsedAnswer(form="json", notes=notes)
        for k, (intro, model) in enumerate(blocks):
            answer.models.append(Candidate(name=_name(model), layers=_chain(model["layers"], notes, f"model {k}"),
                                           context=f"{intro}\n{_about(model)}"))
            answer.modules += [_module(m, notes) for m in _as_list(model.get("modules", []))]
        return answer
    data = find_json(text)
    if data is None:
        raise ParseError("no JSON object in the answer")
    notes = []
    answer = ParsedAnswer(form="json")
    if isinstance(data, dict):
        for key in ("architecture", "network", "sequence"):  # other names LLMs give the layer list
            if isinstance(data.get(key), list) and "layers" not in data:
                data = {**data, "layers": data.pop(key)}
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = {**data["model"], "modules": data.get("modules", data["model"].get("modules", []))}
    if isinstance(data, dict) and isinstance(data.get("models"), list):
        models, modules = data["models"], data.get("modules", [])
    elif isinstance(data, list) and data and all(_is_model(m) for m in data):
        models, modules = data, []
    elif isinstance(data, list):
        models, modules = [{"layers": data}], []
    elif _is_model(data):
        models, modules = [data], data.get("modules", [])
    elif isinstance(data, dict) and ("body" in data or "params" in data or "name" in data) \
            and not _op_of(data)[1]:
        models, modules = [], [data]  # a lone module definition
    else:
        keys = one_line(", ".join(f'"{k}"' for k in data), 120)
        raise ParseError(f"JSON answer: found an object with keys {keys}; expected a \"layers\" list or a list of "
                         f"layers")
    modules = _as_list(modules)
    for i, model in enumerate(models):
        if not _is_model(model):
            raise ParseError(f"model {i} has no \"layers\" list")
        answer.models.append(Candidate(name=_name(model), layers=_chain(model["layers"], notes, f"model {i}"),
                                       context=_about(model) if len(models) > 1 else ""))
        modules = modules + _as_list(model.get("modules", []) if model is not data else [])
    answer.modules = [_module(m, notes) for m in modules]
    answer.notes = notes
    return answer
