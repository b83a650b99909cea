"""Several models in one answer ("Option A ... 25M", "Option B (recommended) ... 8M"): what the answer calls each
and which one it recommends, from its words. Each reader gives a candidate the prose that introduces it; here
that prose, and every sentence of the answer that recommends one by its label or name, mark the recommended one.
Choosing among them against the task is the pipeline's (`agent/pipeline.py`).

Patterns have bounded repetitions only, and each sentence is matched against at most MAX_CANDIDATES labels, so
this stays linear in the answer."""

from __future__ import annotations

import re

from ..untrusted import one_line
from .answer import Candidate, ParsedAnswer

MAX_CANDIDATES = 8  # weighed per answer; real answers offer two or three

# "Option B", "model 2", "Variant two", "方案二"; the letter is a capital ("design a network" is prose)
_LABEL = re.compile(r"\b((?i:option|model|variant|design|candidate|alternative|version|config|plan))[ \t#]{0,2}"
                    r"([A-E]|\d{1,2}|(?i:one|two|three|four|five))\b(?!\.\d)|(方案|模型|选项|版本)[ \t]{0,2}"
                    r"([一二三四五A-E\d])")
_HEADING = re.compile(r"^[ \t]{0,3}(?:#{1,6}|\*\*)")
_CUE = re.compile(r"(?i)\brecommend(?:ed|s|ation)?\b|\bsuggest(?:ed)?\b|\bbest (?:choice|option|fit|pick|balance|"
                  r"trade-?off)\b|\bpreferred\b|\bfinal (?:model|design|choice|answer|version|pick)\b|\bmy (?:pick|"
                  r"choice|favou?rite)\b|\bgo (?:with|for)\b|\bi(?:'d| would)? (?:pick|choose|use)\b|推荐|建议|首选")
_NOT = re.compile(r"(?i)\bnot\b|n't\b|\bnever\b|\bno\b|\bavoid\b|不")
_SENTENCE = re.compile(r"[^.!?。！？\n]{1,600}[.!?。！？]?")
# a heading's own words when it names no option: "**Medium** (~8M params)", "### Tiny variant - 2M"
_HEADED = re.compile(r"^[ \t]{0,3}(?:#{1,6}|\*\*)[ \t]{0,3}(?:\d{1,2}[.)][ \t]{1,3})?([^\n(（:：,*—–]{1,40}?)[ \t]*"
                     r"(?:[ \t]-[ \t]|[(（:：,*—–\n]|$)")
# "the second one", "the last option": a candidate by its place
_ORDINAL = re.compile(r"(?i)\b(first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)[ \t]{1,3}(?:one|option|model|"
                      r"design|variant|architecture|network|version|candidate)\b")
_PLACES = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4,
           "5th": 4, "last": -1}
_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "一": "1", "二": "2", "三": "3", "四": "4",
          "五": "5"}


def _label(m: re.Match) -> str:
    word, mark = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return f"{word[:1].upper()}{word[1:].lower()} {_WORDS.get(mark.lower(), mark.upper())}"


def _cue(text: str) -> re.Match | None:
    """A recommendation in the text that nothing negates just before it ("not recommended")."""
    for m in _CUE.finditer(text):
        if not _NOT.search(text, max(0, m.start() - 16), m.start()):
            return m
    return None


def is_label(line: str) -> bool:
    """A heading, a bold line or one naming an option: where a new candidate may begin."""
    return bool(_LABEL.search(line) or _HEADING.match(line))


def own_words(context: str) -> str:
    """The part of a candidate's introduction that is about it: from its last label or heading line on, else its
    last line; the lines before may close the candidate before it."""
    lines = [line for line in context.splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if is_label(lines[i]):
            return "\n".join(lines[i:])
    return lines[-1] if lines else ""


def _label_of(own: str) -> str | None:
    """What the candidate's own words call it: an option label ("Option B"), else its heading's words."""
    labels = [_label(m) for m in _LABEL.finditer(own)]
    if labels:
        return labels[-1]
    m = _HEADED.match(own)
    words = m.group(1).strip(" `_#") if m else ""
    return words if words and len(words.split()) <= 4 else None


def _mentions(sentence: str, k: int, candidate: Candidate, count: int) -> int | None:
    """Where the sentence names the candidate (by label, name or place), or None."""
    hits = [m.start() for m in _LABEL.finditer(sentence) if _label(m) == candidate.label]
    hits += [m.start() for m in _ORDINAL.finditer(sentence) if _PLACES[m.group(1).lower()] % count == k]
    for word in {candidate.label, candidate.name} - {None}:
        hits += [m.start() for m in re.finditer(rf"(?i)(?<![\w-]){re.escape(word)}(?![\w-])", sentence)]
    return min(hits) if hits else None


def trim_options(answer: ParsedAnswer) -> None:
    """Past MAX_CANDIDATES models, the rest are dropped with a note."""
    if len(answer.models) > MAX_CANDIDATES:
        answer.notes.append(f"the answer offers {len(answer.models)} models; gptnet weighs the first "
                            f"{MAX_CANDIDATES} (MAX_CANDIDATES)")
        del answer.models[MAX_CANDIDATES:]


def mark_options(answer: ParsedAnswer, text: str) -> None:
    """Label each of several candidates and mark the one(s) the answer recommends."""
    if len(answer.models) < 2:
        return
    for c in answer.models:
        own = own_words(c.context)
        label = c.label or _label_of(own)
        c.label = label if label != c.name else None
        if c.recommended is None and (m := _cue(own)):
            c.recommended = one_line(own[max(0, m.start() - 60):m.end() + 60], 120)
    for s in _SENTENCE.finditer(text):
        sentence = s.group()
        cue = _cue(sentence)
        named = [(abs(at - cue.start()), k) for k, c in enumerate(answer.models)
                 if cue and (at := _mentions(sentence, k, c, len(answer.models))) is not None]
        if named:  # the one named nearest the recommendation: "A is larger; I recommend B"
            chosen = answer.models[min(named)[1]]
            chosen.recommended = chosen.recommended or one_line(sentence, 120)
