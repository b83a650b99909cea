"""Budgets: parameters (`--budget`), MACs at the task input (`--max-macs`) and the estimated latency on a target
backend (`--max-latency`), all upper bounds.

A design over a budget has its channel widths scaled by one factor (each rounded to a multiple of 8) until the
binding budget is 90-100% used, before anyone asks the LLM again; `--fill` scales a design that uses under 90% of
its binding budget up the same way. What no width fits is an error naming the budget."""

from __future__ import annotations

import dataclasses

from ..spec.graph import Call, ModelSpec
from ..spec.layers import Conv2d, Layer
from ..spec.walk import totals, walk
from ..units import format_count
from .context import Repair, in_param, out_param

LOW = 0.9  # the share of the binding budget a fitted design uses at least


def _usage(model: ModelSpec, r: Repair) -> tuple[float, str, int, int]:
    """The largest budget share used, which budget it is, and the params and MACs."""
    params, macs = totals(walk(model))
    shares = [(params / r.task.budget, "params")]
    if r.task.max_macs:
        shares.append((macs / r.task.max_macs, "MACs"))
    if r.task.max_latency_ms:
        from ..latency import estimate

        target = r.task.target
        ms = estimate(model, target, r.task.backend or target.default_backend).total_ms
        if ms is not None:
            shares.append((ms / r.task.max_latency_ms, "latency"))
    share, name = max(shares)
    return share, name, params, macs


def round8(value: float) -> int:
    """A width as the fit keeps them: a multiple of 8, at least 8."""
    return max(8, int(round(value / 8)) * 8)


def scale_widths(model: ModelSpec, alpha: float, keep: int) -> tuple[ModelSpec, dict[int, int]]:
    """Every channel width of the top-level layers times `alpha`, rounded to a multiple of 8; the task's input
    channels and the head's class count stay. Inner module sizes follow their parameters."""
    model = model.model_copy(deep=True)
    modules = {m.name: m for m in model.modules}
    widths: set[int] = set()
    for i, node in enumerate(model.layers):
        if isinstance(node, Layer) and node.channel_out and i != model.head:
            widths.add(getattr(node, node.channel_out))
        elif isinstance(node, Call) and node.module in modules and out_param(modules[node.module]):
            module = modules[node.module]
            idx = module.params.index(out_param(module))
            widths.add(node.kwargs.get(out_param(module), node.args[idx] if idx < len(node.args) else None))
    mapping = {w: round8(w * alpha) for w in widths if isinstance(w, int) and w != keep}

    def swap(value):
        return mapping.get(value, value) if isinstance(value, int) else value

    for i, node in enumerate(model.layers):
        if isinstance(node, Layer):
            grouped = isinstance(node, Conv2d) and node.groups not in (1, None) and node.groups == node.in_channels
            for field in {node.channel_in, node.channel_out} - {None}:
                if not (field == node.channel_out and i == model.head) and not (
                        field == node.channel_in and getattr(node, field) == keep and i == 0):
                    setattr(node, field, swap(getattr(node, field)))
            if grouped:
                node.groups = node.in_channels
        elif isinstance(node, Call) and node.module in modules:
            params = {in_param(modules[node.module]), out_param(modules[node.module])} - {None}
            names = modules[node.module].params
            node.args = [swap(a) if k < len(names) and names[k] in params else a for k, a in enumerate(node.args)]
            node.kwargs = {k: swap(v) if k in params else v for k, v in node.kwargs.items()}
    return model, mapping


def _fit(r: Repair) -> tuple[ModelSpec, dict[int, int], float] | None:
    """The widest scaled model within every budget and using at least LOW of the binding one, by bisection."""
    from . import errors, validate  # the scaled model is validated like any other, without fitting again

    task = dataclasses.replace(r.task, fit=False, fill=False)

    def attempt(alpha: float):
        scaled, mapping = scale_widths(r.model, alpha, r.task.input[0])
        fixed, findings = validate(scaled, task)
        if errors(findings):
            return None
        return fixed, mapping, _usage(fixed, r)[0]

    lo, hi = 0.0, 1.0
    if _usage(r.model, r)[0] < 1:  # filling: widen until a budget breaks, then bisect below that
        lo, hi = 1.0, 2.0
        while (found := attempt(hi)) and found[2] <= 1 and hi < 64:
            lo, hi = hi, hi * 2
    best = None
    for _ in range(20):
        mid = (lo + hi) / 2
        found = attempt(mid)
        if found and found[2] <= 1:
            best, lo = found, mid
        else:
            hi = mid
    return best if best and best[2] >= LOW else None


def check_budget(r: Repair) -> None:
    share, name, params, macs = _usage(r.model, r)
    if share <= 1 and not (r.task.fill and share < LOW):
        return
    limit_text = {"params": format_count(r.task.budget), "MACs": format_count(r.task.max_macs or 0),
                  "latency": f"{r.task.max_latency_ms:g} ms" if r.task.max_latency_ms else ""}[name]
    before = (f"{format_count(params)} params, {format_count(macs)} MACs ({100 * share:.0f}% of the "
              f"{limit_text} {name} budget)")
    fitted = _fit(r) if r.task.fit else None
    if fitted is None:
        if share > 1:
            what = {"params": f"{format_count(params)} parameters exceed", "MACs": f"{format_count(macs)} MACs exceed",
                    "latency": f"an estimated {share * (r.task.max_latency_ms or 0):.2f} ms exceeds"}[name]
            r.add("over-budget", "model", f"{what} the budget of {limit_text}"
                  + ("; no scaling of the channel widths fits it" if r.task.fit else ""), before, severity="error")
        return
    model, mapping, new_share = fitted
    r.model.layers, r.model.head = model.layers, model.head
    _, _, params2, macs2 = _usage(r.model, r)
    widths = ", ".join(f"{a}->{b}" for a, b in sorted(mapping.items()))
    r.add("fit", "model", f"{'over' if share > 1 else 'far under'} the {name} budget: channel widths scaled "
          f"(multiples of 8) to use {100 * new_share:.0f}% of it: {widths}", before,
          f"{format_count(params2)} params, {format_count(macs2)} MACs")
