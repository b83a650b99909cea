"""The network `gptnet profile` estimates: a design folder, any model.py with `build_model(num_classes=...)`, or a
torchvision model by name (`torchvision:resnet18`); and the network an export converts, with the design's trained
weights. A model.py is imported only through gptnet's verifier (gptnet.verify.load_model, via
train.runner.load_builder); a torchvision model is built with random weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .reference_models import inference_kwargs

TORCHVISION = "torchvision:"


@dataclass
class Network:
    name: str
    net: object  # the torch module, in eval mode
    shape: tuple[int, int, int]
    spec_json: Path | None  # a design's spec.json, whose layer names and numbering profile keeps


def load_network(source: str, input: str | None = None, classes: int | None = None, trust_edits: bool = False,
                 ) -> Network:
    """`input` (CxHxW) and `classes` override a design's own; a torchvision model defaults to 3x224x224 and 1000."""
    from .units import parse_input

    shape = parse_input(input) if input else None
    if source.startswith(TORCHVISION):
        import torchvision.models as tvm

        name = source[len(TORCHVISION):]
        if name not in tvm.list_models(module=tvm):
            raise UsageError(f"torchvision has no classification model {name!r}",
                             "name one of torchvision.models.list_models(), e.g. torchvision:resnet18")
        net = tvm.get_model(name, num_classes=classes or 1000, **inference_kwargs(name))
        return Network(source, net.eval(), shape or (3, 224, 224), None)
    from .train.runner import design_classes, input_shape, load_builder
    from .design_folder import locate_design

    folder, model_py = locate_design(Path(source))
    net = load_builder(model_py, trust_edits)(classes or design_classes(folder)).eval()
    spec = folder / "spec.json"
    return Network(str(model_py), net, shape or input_shape(folder), spec if spec.is_file() else None)


def _trained(folder: Path):
    """(state dict, checkpoint config, description) of DIR/train/best.pt, or None when the design is untrained. Read
    with weights_only=True (gptnet.train.checkpoint), so a checkpoint can only hold data."""
    from .output import refuse_links
    from .train import checkpoint

    best = folder / "train" / "best.pt"
    refuse_links(best, folder, "read")
    if not best.is_file():
        return None
    state = checkpoint.load(best, keys=("model",))
    acc = state.get("test_acc1")
    about = f"{best} (epoch {state.get('epoch', '?')}" + (f", test acc@1 {acc:.2f}%)" if acc is not None else ")")
    return state["model"], state.get("config") or {}, about


def trained_network(folder: Path, model_py: Path, trust_edits: bool = False):
    """What an export converts: (model in eval mode, input shape, which weights it holds, checkpoint config or None),
    with DIR/train/best.pt's weights when the design was trained, so an exported file never holds random weights
    silently; the description says which."""
    from .train import checkpoint
    from .train.runner import design_classes, input_shape, load_builder

    build = load_builder(model_py, trust_edits)
    trained = _trained(folder)
    if trained is None:
        return build(design_classes(folder)).eval(), input_shape(folder), "untrained (no train/best.pt)", None
    weights, config, about = trained
    head = next((t for t in reversed(list(weights.values())) if getattr(t, "ndim", 0) == 2), None)
    net = build(int(head.shape[0]) if head is not None else design_classes(folder))
    try:
        net.load_state_dict(weights)
    except (RuntimeError, ValueError, KeyError) as e:
        raise checkpoint.mismatch(folder / "train" / "best.pt", e) from None
    return net.eval(), input_shape(folder), f"trained: {about}", config
