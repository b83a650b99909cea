"""The corpus of answers in tests/answers (one model-building program each, written as chat models write them) and
the oracle that judges gptnet's reading of one.

The oracle is the fixture's own program run in PyTorch: the fixtures are the project's, so running them is safe here,
and nothing of it reaches gptnet, which gets the answer's text only, through a replayed cassette, as a user's run
does. A fixture is
- `exact` when gptnet's model.py has the oracle's parameter count, MACs, output shape, convolution and linear layers
  and, given the oracle's weights (paired in the order the modules run, or else are defined), the oracle's outputs,
  which is where the layers' order and wiring show;
- `refused` when gptnet ends the design with its one-line error (or, as the CLI does, turns an exception into one);
- `wrong` otherwise.
One reported change is accepted as exact: gptnet's models return logits, so it removes an activation or a softmax
from the head and says so; the model is then exact when all but its outputs match and every repair reported is such
a removal."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

ANSWERS = Path(__file__).parent / "answers"

# a target that runs every operator: the corpus judges reading, so the target must not swap an activation the answer
# chose (swaps are tested with the real targets in tests/cassettes)
ANY_TARGET = "corpus-any-operator"

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_CODE = re.compile(r"```python\n(.*?)```", re.S)


@dataclass
class Fixture:
    name: str
    style: str
    input: tuple[int, int, int]
    classes: int
    model: str  # the expression that builds the oracle once the program has run: `ResNet18()`, `model`
    answer: str  # the text gptnet reads: prose and the fenced program, without this header

    @property
    def code(self) -> str:
        return _CODE.search(self.answer).group(1)


def fixtures() -> list[Fixture]:
    found = []
    for path in sorted(ANSWERS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        head = _FRONT.match(text)
        meta = dict(line.split(": ", 1) for line in head.group(1).splitlines())
        found.append(Fixture(name=path.stem, style=meta["style"], classes=int(meta["classes"]), model=meta["model"],
                             input=tuple(int(d) for d in meta["input"].split("x")), answer=text[head.end():]))
    return found


def install_any_target() -> None:
    """Save ANY_TARGET in the user's target folder ($GPTNET_HOME/targets): sd855 with every operator gptnet knows."""
    from gptnet.spec.registry import kinds
    from gptnet.targets import load_target, save_profile, user_dir

    base = load_target("sd855")
    ops = sorted({*kinds(), *base.operators, "GroupConv2d", "Add", "Mul", "Concat"})
    save_profile(base.model_copy(update={"name": ANY_TARGET, "operators": ops}), user_dir() / f"{ANY_TARGET}.json")


def oracle(fx: Fixture):
    import torch

    module = types.ModuleType(f"fixture_{fx.name}")  # a @dataclass looks its module up in sys.modules
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # a program may print as it builds (its model's name)
        exec(compile(fx.code, fx.name, "exec"), namespace)  # noqa: S102 - the project's own fixture, never an answer
        net = eval(fx.model, namespace)  # noqa: S307 - the fixture's header, as above
    for m in net.modules():  # BatchNorm away from identity, so that the outputs tell more layers apart
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.5, 0.5)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        shape = tuple(net.eval()(torch.zeros(1, *fx.input)).shape)
    if shape != (1, fx.classes):  # a broken fixture would judge gptnet against the wrong model
        raise ValueError(f"tests/answers/{fx.name}.md builds a model with output {shape}, not (1, {fx.classes})")
    return net


def design_from_answer(fx: Fixture, out: Path, budget: int):
    """gptnet's design of the fixture's answer, replayed as a user's `gptnet design --replay ... --yes` would be:
    its `Design` (the findings) and the model it wrote, loaded as `gptnet train` loads one."""
    from gptnet.design import Options, design
    from gptnet.verify import load_model

    cassette = out.parent / f"{fx.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # stage build, asked when the program leaves its model unbuilt, is answered as a chat model would: with the line
    # that builds the model its prose describes (the header's); a program that builds its model never asks
    turns = [{"stage": "model", "response": fx.answer}, {"stage": "build", "response": f"model = {fx.model}"}]
    cassette.write_text(json.dumps({"format": "gptnet-conversation/1", "meta": {}, "turns": turns}),
                        encoding="utf-8")
    # the fixture's own task and a budget above its size, so no repair or fit has a reason to change the model
    opts = Options(budget=str(budget), target=ANY_TARGET, classes=fx.classes, input="x".join(map(str, fx.input)),
                   replay=cassette, out=out, max_revisions=0, fit=False)
    result, folder = design(opts)
    return result, load_model(folder / "model.py").build_model().eval()


def _holds_weights(m) -> bool:
    return not list(m.children()) and bool(list(m.parameters(recurse=False)) or list(m.buffers(recurse=False)))


def _layers_run(net, shape) -> tuple[list[tuple], list]:
    """The convolutions and linear layers as the forward pass runs them, and the modules that hold weights in that
    order too."""
    import torch
    from torch import nn

    layers, holders = [], []

    def padding(m) -> tuple:
        """'same' and 'valid' as the numbers they come to (odd kernels, stride 1: what torch allows 'same' with), so
        that a conv written either way compares equal."""
        if m.padding == "valid":
            return (0, 0)
        if m.padding == "same" and all(k % 2 for k in m.kernel_size):
            return tuple(d * (k - 1) // 2 for d, k in zip(m.dilation, m.kernel_size))
        return m.padding

    def seen(m, inputs, _output):
        if isinstance(m, nn.Conv2d) and inputs[0].shape[-2:] == (1, 1) and m.kernel_size == (1, 1) and \
                m.groups == 1 and padding(m) == (0, 0):  # on a pooled vector a 1x1 conv is the Linear it equals
            layers.append(("Linear", m.in_channels, m.out_channels, m.bias is not None))
        elif isinstance(m, nn.Conv2d):
            layers.append(("Conv2d", m.in_channels, m.out_channels, m.kernel_size, m.stride, padding(m), m.groups,
                           m.bias is not None))
        elif isinstance(m, nn.Linear):
            layers.append(("Linear", m.in_features, m.out_features, m.bias is not None))
        holders.append(m)

    hooks = [m.register_forward_hook(seen) for m in net.modules() if _holds_weights(m)]
    with torch.no_grad():
        net(torch.zeros(1, *shape))
    for h in hooks:
        h.remove()
    return layers, holders


def macs(net, shape) -> int:
    """thop's MACs of the convolutions and linear layers. Other operators count zero: an answer may write them as
    functions (F.avg_pool2d, x.mean) that thop does not see while gptnet renders them as modules that it does."""
    import thop
    import torch
    from torch import nn

    zero = {type(m): (lambda *_: None) for m in net.modules() if not isinstance(m, (nn.Conv2d, nn.Linear))}
    count, _ = thop.profile(net, inputs=(torch.zeros(1, *shape),), custom_ops=zero, verbose=False)
    for m in net.modules():  # thop leaves its counters behind as buffers
        for name in ("total_ops", "total_params"):
            m._buffers.pop(name, None)
    return int(count)


@dataclass
class Verdict:
    status: str  # exact, refused or wrong
    detail: str = ""  # the refusal's message, or what differs
    oracle_params: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # parse, design (parse + validate + render + verify)


def _gap(holders_want: list, holders_got: list, want, got, x) -> float | None:
    """How far gptnet's outputs are from the oracle's once each module of one list has the weights of its partner in
    the other; None when the lists do not pair up."""
    import torch

    if [_shapes(m) for m in holders_want] != [_shapes(m) for m in holders_got]:
        return None
    for a, b in zip(holders_want, holders_got):
        b.load_state_dict({k: v.reshape(b.state_dict()[k].shape) for k, v in a.state_dict().items()})
    y_want, y_got = want(x), got(x)
    return (y_want - y_got).abs().max().item() / max(1.0, y_want.abs().max().item()) if torch.isfinite(y_got).all() \
        else float("inf")


def _shapes(m) -> list:
    """A 1x1 kernel's shape as the Linear's that it equals on a pooled vector (an SE gate's layers)."""
    return [t.shape[:2] if t.dim() == 4 and t.shape[2:] == (1, 1) else t.shape for t in m.state_dict().values()]


def _paired_by_shape(want: list, got: list) -> list:
    """`got` reordered so that each module stands beside the first module of `want` with its shapes not yet taken."""
    left, paired = list(got), []
    for a in want:
        b = next((b for b in left if _shapes(b) == _shapes(a)), None)
        if b is None:
            return got  # the shapes do not pair: _gap says so
        left.remove(b)
        paired.append(b)
    return paired + left


def differences(want, got, shape) -> list[str]:
    """What tells gptnet's model from the oracle, empty when nothing does."""
    import torch

    diffs = []
    p_want, p_got = (sum(p.numel() for p in n.parameters()) for n in (want, got))
    if p_want != p_got:
        diffs.append(f"params {p_got:,} != {p_want:,}")
    m_want, m_got = macs(want, shape), macs(got, shape)
    if m_want != m_got:
        diffs.append(f"MACs {m_got:,} != {m_want:,}")
    (l_want, run_want), (l_got, run_got) = _layers_run(want, shape), _layers_run(got, shape)
    if sorted(l_want) != sorted(l_got):  # their order is judged by the outputs below
        first = next((i for i, (a, b) in enumerate(zip(l_want, l_got)) if a != b), min(len(l_want), len(l_got)))
        diffs.append(f"layers differ from #{first} in the order they run: {l_got[first:first + 1]} != "
                     f"{l_want[first:first + 1]} ({len(l_got)} vs {len(l_want)} layers)")
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y_want, y_got = want(x), got(x)
        if y_want.shape != y_got.shape:
            diffs.append(f"output {tuple(y_got.shape)} != {tuple(y_want.shape)}")
        elif not diffs:
            # the weights paired in the order the modules run, else in the order they are defined: a residual's
            # shortcut may run before its body in one program (pytorchcv) and after it in the other (gptnet's)
            # or, when the answer defines a shortcut amid its body and runs it first (kuangliu's SENet), each module
            # of the oracle's run with the first unpaired one of gptnet's run that has its shapes
            pairings = [(run_want, run_got), ([m for m in want.modules() if _holds_weights(m)],
                                              [m for m in got.modules() if _holds_weights(m)]),
                        (run_want, _paired_by_shape(run_want, run_got))]
            gaps = [_gap(a, b, want, got, x) for a, b in pairings]
            if all(gap is None for gap in gaps):
                diffs.append("the modules holding weights differ in order or shape")
            elif not any(gap is not None and gap <= 1e-4 for gap in gaps):
                diffs.append(f"with the oracle's weights the outputs differ by "
                             f"{min(g for g in gaps if g is not None):.3g}")
    return diffs


def _head_removals(findings) -> list[str]:
    """The repairs that removed a layer (an activation or softmax on the logits), or [] if any repair did more."""
    repairs = [f for f in findings if f.severity == "repair"]
    removed = [f"{f.where}: {f.before} removed" for f in repairs if f.after == "(removed)"]
    return removed if len(removed) == len(repairs) else []


def judge(fx: Fixture, out: Path) -> Verdict:
    from gptnet.errors import GptnetError, unexpected
    from gptnet.parse import parse_answer

    want = oracle(fx)
    params = sum(p.numel() for p in want.parameters())
    t = time.perf_counter()
    try:
        parse_answer(fx.answer)
    except Exception:  # noqa: BLE001, S110 - timed only: the design below meets it again and says what a user sees
        pass
    parsed = time.perf_counter() - t
    t = time.perf_counter()
    try:
        result, got = design_from_answer(fx, out, budget=2 * params + 1000)
    except GptnetError as e:
        return Verdict("refused", e.message, params, {"parse": parsed, "design": time.perf_counter() - t})
    except Exception as e:  # noqa: BLE001 - the CLI's net under every command: what a user would read
        return Verdict("refused", unexpected(e)[0], params, {"parse": parsed, "design": time.perf_counter() - t})
    seconds = {"parse": parsed, "design": time.perf_counter() - t}
    diffs = differences(want, got, fx.input)
    removals = _head_removals(result.findings)
    if diffs and removals and all(d.startswith("with the oracle's weights") for d in diffs):
        return Verdict("exact", "; ".join(removals), params, seconds)
    return Verdict("wrong" if diffs else "exact", "; ".join(diffs), params, seconds)
