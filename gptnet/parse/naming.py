"""The name an answer gives its model: in a heading (`## MobileEdgeNet`), a bold label (`**TinyNet-S** ...`) or a
sentence (`I call it EdgeNet`, `名为EdgeNet`). Names that say nothing (`model`, `Net`, the prompt's own
`ModelName`) are no name: two designs called so would share a title and a folder.

Every pattern has bounded repetitions next to each other, so scanning stays linear in the answer."""

from __future__ import annotations

import re

from ..spec.registry import lookup

_NAME = r"[A-Za-z][A-Za-z0-9]{0,39}(?:[-_.][A-Za-z0-9]{1,20}){0,3}"
# "1.", "Option B:", "Model 2 -", "Architecture:", "方案二：" before a name
_LABEL = r"(?:\d{1,2}[.)][ \t]{1,3})?(?:(?:option|model|variant|design|candidate|alternative|version|architecture|" \
         r"network|name|proposed|方案|模型)[ \t]{0,2}[\w]{0,3}[ \t]{0,2}[:：.)\-–—][ \t]{0,3})?"
_MARK = r"[*_`\"'“「]{0,3}"
_FOUND = [
    # a heading that is the name, perhaps after a label, perhaps with a parenthesis or a dash after it
    re.compile(rf"(?mi)^[ \t]{{0,3}}#{{1,6}}[ \t]{{0,3}}{_LABEL}{_MARK}({_NAME}){_MARK}[ \t]{{0,3}}"
               rf"(?:$|[(\[（:：,\-–—])"),
    # a bold label opening a line or a bullet
    re.compile(rf"(?mi)^[ \t]{{0,3}}(?:[-*•][ \t]{{1,3}}|\d{{1,2}}[.)][ \t]{{1,3}})?\*\*{_LABEL}({_NAME})\*\*"),
    # a sentence that names it
    re.compile(rf"(?i)\b(?:call(?:ed)?|name[ds]?|dub(?:bed)?)[ \t]{{1,3}}(?:(?:it|this|the|our|my)[ \t]{{1,3}})?"
               rf"(?:(?:model|network|net|design|architecture|cnn)[ \t]{{1,3}})?{_MARK}({_NAME})"),
    re.compile(rf"(?i)\b(?:model|network)[ \t]{{0,2}}name[ \t]{{0,2}}[:：=][ \t]{{0,3}}{_MARK}({_NAME})"),
    re.compile(rf"(?:名为|叫做|称为|命名为|取名为?)[ \t]{{0,2}}{_MARK}({_NAME})"),
]
# no one's name for a model: placeholders, and what answers mention that is not the model
GENERIC = {"model", "net", "network", "cnn", "convnet", "mymodel", "mynet", "mycnn", "modelname", "yourmodel",
           "customcnn", "simplecnn", "basemodel", "classifier", "backbone", "features", "seq", "layers"}
_NOT_NAMES = {"pytorch", "tensorflow", "keras", "onnx", "tflite", "ncnn", "mnn", "snpe", "imagenet", "cifar10",
              "cifar100", "mnist", "snapdragon", "qualcomm", "adreno", "hexagon", "kryo", "github", "chatgpt", "gpt4",
              "gpt4o", "python", "json", "markdown", "stage", "block", "layer", "step", "part", "section", "table",
              "figure", "option", "version", "example"}
_CODE = re.compile(r"```.*?(?:```|\Z)", re.S)  # a comment in code is not the answer naming its model


def usable(name: str | None) -> str | None:
    """The name, unless it says nothing."""
    if not name:
        return None
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    stem = key.rstrip("0123456789")  # `Model2`, `Block1`: a placeholder or a part, numbered
    return None if {key, stem} & (GENERIC | _NOT_NAMES) or lookup(name) else name


def _name_like(word: str) -> bool:
    """`MobileEdgeNet`, `EdgeNet-S`, `SD855Net`, `TinyCNN`: a capital or digit inside, or a -net/-cnn ending;
    a plain word (`Option`, `Overview`) is prose."""
    return len(word) >= 3 and (any(c.isupper() or c.isdigit() for c in word[1:])
                               or word.lower().endswith(("net", "cnn")))


def name_in(text: str, taken: set[str] = frozenset()) -> str | None:
    """The first name the text gives a model, never one of `taken` (the modules the answer defines or uses)."""
    best: tuple[int, str] | None = None
    text = _CODE.sub("\n", text)
    for pattern in _FOUND:
        for m in pattern.finditer(text):
            word = m.group(1).rstrip(".-_")
            if _name_like(word) and word not in taken and usable(word):
                if best is None or m.start(1) < best[0]:
                    best = (m.start(1), word)
                break
    return best[1] if best else None
