"""The human review: after the model stage (and each revision) the engineer sees the design and steers it, one key
per choice: accept, edit the spec in $EDITOR, send feedback to the LLM, switch to another of the models the answer
offered (when it offered several), see the diff against the LLM's answer, or quit. Every step is recorded in the
conversation, and `replay_review` applies recorded steps again."""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError
from rich.console import Console

from ..errors import DesignError, GptnetError, Stopped, UsageError
from ..parse.answer import flat_errors
from ..spec.editing import EditError, from_text, to_text
from ..spec.graph import ModelSpec
from ..units import format_count
from ..untrusted import one_line
from ..validators import Task, errors
from .pipeline import Designer, Design, ReviewEvent

PROMPT = "[a]ccept  [e]dit  [f]eedback  [d]iff  [q]uit > "
PROMPT_OPTIONS = "[a]ccept  [e]dit  [f]eedback  [c]andidates  [d]iff  [q]uit > "  # when the answer offered several
KEEP_PROMPT = "[e]dit again  [k]eep the previous spec > "  # after an edit that cannot be used


class Quit(Stopped):
    def __init__(self) -> None:
        super().__init__("Quit at review: nothing was written; run again for a new design.")


def spec_diff(before: ModelSpec, after: ModelSpec, labels: tuple[str, str]) -> str:
    return "".join(difflib.unified_diff(to_text(before).splitlines(keepends=True),
                                        to_text(after).splitlines(keepends=True), *labels))


def run_editor(path: Path) -> None:
    editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    try:
        subprocess.run([*editor, str(path)], check=False)
    except FileNotFoundError:
        raise GptnetError(f"editor {editor[0]!r} not found", "set $EDITOR to an editor you have") from None


class Review:
    """The review loop for one run, on a console with single-key input."""

    def __init__(self, designer: Designer, task: Task, console: Console, show: Callable[[Design], None],
                 getkey: Callable[[], str], readline: Callable[[str], str]) -> None:
        self.designer, self.task, self.console, self.show = designer, task, console, show
        self.getkey, self.readline = getkey, readline

    def run(self, design: Design) -> Design:
        self._show(design)
        while True:
            several = len(design.options) > 1
            self.console.print(PROMPT_OPTIONS if several else PROMPT, end="", markup=False)
            key = self.getkey().strip().lower()
            self.console.print(key, markup=False)
            if key == "a":
                return design
            if key == "q":
                raise Quit()
            if key == "c" and several:
                design = self._switch(design)
            elif key == "d":
                diff = spec_diff(design.original, design.spec, ("LLM's answer", "current spec"))
                self.console.print(diff or "No change: the spec is the LLM's answer as given.", markup=False)
            elif key == "e":
                design = self._edit(design)
            elif key == "f":
                text = self.readline("Feedback for the LLM: ").strip()
                if text:
                    self.console.print("Asking the LLM to revise the design...", markup=False)
                    try:
                        design = self.designer.feedback(text, design)
                    except DesignError as e:  # e.g. a replayed cassette has no answer for it: the design stays
                        self.console.print(f"The feedback was not used: {e.message}.", markup=False)
                        self.console.print("Feedback needs a live LLM (OPENAI_API_KEY, or --base-url for a local "
                                           "server) or a cassette with a revise turn; [e]dit changes the spec "
                                           "by hand.", markup=False)
                        continue
                    self._record(design.review[-1])
                    self._show(design)
            else:
                self.console.print(f"Press a, e, f, {'c, ' if several else ''}d or q.", markup=False)

    def _show(self, design: Design) -> None:
        """The design, and when the answer offered several models, which one this is and why."""
        self.show(design)
        for f in design.findings:
            if f.kind == "several-models":
                self.console.print(f"Candidates: {f.why}; [c] lists them and switches.", markup=False)

    def _switch(self, design: Design) -> Design:
        """List the answer's models and take another, validated again; a number out of range or one that cannot
        be used keeps the current design."""
        self.console.print("The answer offered these models:", markup=False)
        for k, o in enumerate(design.options, 1):
            params = f"{format_count(o.params)} params, " if o.params else ""
            said = f"; the answer says: \"{o.recommended}\"" if o.recommended else ""
            self.console.print(f"  {'*' if o.chosen else ' '} {k}. {one_line(o.title)}: {params}"
                               f"{one_line(o.verdict)}{said}", markup=False)
        text = self.readline(f"Switch to (1-{len(design.options)}, Enter keeps *): ").strip()
        if not text:
            return design
        if not text.isdigit() or not 1 <= int(text) <= len(design.options):
            self.console.print(f"No model {one_line(text, 20)!r}: the design stays.", markup=False)
            return design
        new, findings = self.designer.switch(int(text) - 1, design)
        if new is None:
            self.console.print(f"Model {text} cannot be used: {errors(findings)[0].line()}", markup=False)
            return design
        self._record(new.review[-1])
        self._show(new)
        return new

    def _edit(self, design: Design) -> Design:
        """Edit until the spec validates or the reviewer keeps the previous one; it is never lost."""
        with tempfile.TemporaryDirectory(prefix="gptnet-edit-") as tmp:
            path = Path(tmp) / "spec.json"
            path.write_text(to_text(design.spec), encoding="utf-8")
            while True:
                run_editor(path)
                text = path.read_text(encoding="utf-8")
                problems: list[str] = []
                try:
                    edited = from_text(text, design.spec)
                except EditError as e:
                    problems = str(e).splitlines()
                else:
                    diff = spec_diff(design.spec, edited, ("before the edit", "after the edit"))
                    if not diff:
                        self.console.print("No change.", markup=False)
                        return design
                    new, findings = self.designer.edit(edited, design, diff)
                    if new is not None:
                        self._record(new.review[-1])
                        self._show(new)
                        return new
                    problems = [f.line() for f in errors(findings)]
                self.console.print("The edited spec cannot be used:", markup=False)
                for line in problems:
                    self.console.print(f"  {line}", markup=False)
                if self._ask_keep():
                    return design

    def _ask_keep(self) -> bool:
        """After a broken edit: whether the reviewer keeps the previous spec (k) rather than edit again (e)."""
        while True:
            self.console.print(KEEP_PROMPT, end="", markup=False)
            key = self.getkey().strip().lower()
            self.console.print(key, markup=False)
            if key in ("e", "k"):
                return key == "k"
            self.console.print("Press e to edit the spec again or k to keep the previous one.", markup=False)

    def _record(self, event: ReviewEvent) -> None:
        self.designer.conversation.add_review(event.model_dump(exclude_none=True))


def replay_review(designer: Designer, design: Design, events: list[dict[str, Any]],
                  say: Callable[[str], None]) -> Design:
    """Apply a recorded review (edits and feedback) so a replay reproduces the reviewed design. An entry that is
    not a review step is the cassette's fault: one line naming the cassette and the entry, exit 2."""
    source = getattr(designer.llm, "source", "being replayed")
    for i, raw in enumerate(events):
        try:
            event = ReviewEvent.model_validate(raw)
            spec = ModelSpec.model_validate(event.spec) if event.event == "edit" else None
        except ValidationError as e:
            raise UsageError(f"cassette {source}: review entry {i} is not a review step: {one_line(flat_errors(e))}",
                             "fix or remove that entry of the cassette's review list") from None
        if event.event == "accept":
            break
        if event.event == "feedback":
            new = designer.feedback(event.text or "", design)
        else:
            if event.event == "edit":  # the diff is made again, not taken from the cassette: report.md shows it
                new, findings = designer.edit(spec, design, spec_diff(design.spec, spec, ("before the edit",
                                                                                          "after the edit")))
            else:
                try:
                    new, findings = designer.switch((event.candidate or 0) - 1, design)
                except ValueError as e:  # a candidate the answer does not have
                    raise UsageError(f"cassette {source}: review entry {i}: {e}",
                                     "fix or remove that entry of the cassette's review list") from None
            if new is None:
                raise GptnetError(f"review entry {i}, a recorded {event.event}, no longer validates: "
                                  f"{errors(findings)[0].line()}",
                                  "edit conversation.json's review, or run the review again")
        say(f"review: replayed {event.event}")
        designer.conversation.add_review(new.review[-1].model_dump(exclude_none=True))
        design = new
    return design
