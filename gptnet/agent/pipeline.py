"""The design pipeline: stage "ops", stage "model", a stage "module:<Name>" per undefined module, then validation
with repair, and "revise" rounds for what needs the LLM's judgement (DESIGN.md, "The flow")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Literal, Union

from pydantic import BaseModel, Field, ValidationError

from ..errors import DesignError
from ..parse import ParsedAnswer, ParseError, parse_answer
from ..parse.answer import flat_errors
from ..parse.ops import parse_ops
from ..latency import estimates
from ..profile import Profile, profile_spec
from ..prompts import render_prompt
from ..spec.graph import Call, ModelSpec, ModuleSpec
from ..units import format_count
from ..validators import Finding, Task, errors, undefined_modules, validate
from .cassette import load_cassette, now
from .choice import Option, choose
from .llm import LLM, Conversation, NoAnswer

_USUAL_INPUT = (3, 32, 32)  # --input's default, left out of task names


class OpsVerdict(BaseModel):
    suggested: list[str] = Field(description="operators the LLM named for the target")
    agreed: list[str] = Field(description="named by the LLM and in the target profile")
    not_in_profile: list[str] = Field(description="named by the LLM but not in the profile (the profile decides)")
    not_suggested: list[str] = Field(description="in the profile but not named by the LLM")


class Design(BaseModel):
    """Everything a design run produced: the final spec, the LLM's own (pre-repair) spec, findings and profile."""

    spec: ModelSpec
    original: ModelSpec = Field(description="the chosen model as the LLM gave it, before gptnet's repairs")
    findings: list[Finding]
    ops: OpsVerdict | None
    profile: Profile
    source: str = Field(description="where the answers came from")
    revisions: int = 0
    usage: dict[str, int] = Field(default_factory=dict, description="total token usage")
    usage_by_stage: list[dict[str, Any]] = Field(default_factory=list, description="token usage of each turn")
    review: list["ReviewEvent"] = Field(default_factory=list, description="the human review, in order")
    options: list[Option] = Field(default_factory=list, description="the models the answer offered, when several")
    latency_ms: dict[str, float | None] = Field(default_factory=dict,
                                                description="roofline estimate per backend of the target, batch 1")


@dataclass
class Session:
    """One conversation with the LLM: the message history and the record of every turn."""

    llm: LLM
    task: Task
    conversation: Conversation
    say: Callable[[str], None]
    messages: list[dict[str, str]] = field(default_factory=list)

    def ask(self, stage: str, prompt: str) -> str:
        if not self.messages:
            self.messages.append({"role": "system", "content": render_prompt("system")})
        self.messages.append({"role": "user", "content": prompt})
        request = {"model": self.llm.model, "messages": [dict(m) for m in self.messages]}
        try:
            reply = self.llm.ask(stage, [dict(m) for m in self.messages])
        except BaseException:
            self.messages.pop()
            raise
        self.conversation.record(stage, request, reply)
        self.messages.append({"role": "assistant", "content": reply.text})
        self.say(f"stage {stage}: answered ({len(reply.text)} characters)")
        return reply.text


def _ops_verdict(session: Session) -> OpsVerdict | None:
    target = session.task.target
    try:
        text = session.ask("ops", render_prompt("ops", target=target))
    except NoAnswer:
        session.say("stage ops: no answer; the target profile decides the operators")
        return None
    try:
        suggested = parse_ops(text)
    except ParseError as e:  # e.g. over MAX_ANSWER_CHARS: ops are advice, the profile decides
        session.say(f"stage ops: {e}; the target profile decides the operators")
        return None
    return OpsVerdict(suggested=suggested, agreed=[o for o in suggested if target.supports(o)],
                      not_in_profile=[o for o in suggested if not target.supports(o)],
                      not_suggested=[o for o in target.operators if o not in suggested])


def _uses(answer: ParsedAnswer, name: str) -> list[str]:
    calls = [n for c in answer.models for n in c.layers if isinstance(n, Call) and n.module == name]
    return list(dict.fromkeys(c.signature() for c in calls))[:3]


def _define_modules(session: Session, answer: ParsedAnswer, modules: dict[str, ModuleSpec]) -> list[Finding]:
    """Ask stage module:<Name> for each module the answer uses but does not define; record each definition."""
    findings = [Finding(kind="ignored-code", where="answer", why=n, severity="note") for n in answer.notes]
    modules.update({m.name: m for m in answer.modules})
    while True:
        probe = [ModelSpec(layers=c.layers, modules=list(modules.values())) for c in answer.models]
        missing = list(dict.fromkeys(n for p in probe for n in undefined_modules(p)))
        if not missing:
            return findings
        name = missing[0]
        stage = f"module:{name}"
        uses = _uses(answer, name)
        try:
            text = session.ask(stage, render_prompt("module", name=name, uses=uses))
        except NoAnswer:
            raise DesignError(f"module {name} is used but not defined, and the LLM has no answer for stage {stage}",
                              f"add a turn with stage \"{stage}\" to the cassette, or run against a live LLM") from None
        try:
            parsed = parse_answer(text)
        except ParseError as e:
            raise DesignError(f"the definition of module {name} could not be read: {e}",
                              f"check the answer to stage {stage} in conversation.json") from None
        found = [m for m in parsed.modules if m.name == name]
        if not found:
            raise DesignError(f"the answer to stage {stage} defines no module named {name}"
                              + (f" (it defines {', '.join(m.name for m in parsed.modules)})" if parsed.modules else "")
                              + (f"; {'; '.join(parsed.notes)}" if parsed.notes else ""),
                              f"check the answer to stage {stage} in conversation.json")
        modules.update({m.name: m for m in parsed.modules})
        module = found[0]
        findings += [Finding(kind="ignored-code", where=f"module {name}", why=n, severity="note")
                     for n in parsed.notes]
        findings.append(Finding(
            kind="undefined-module", where=name,
            before=f"{name} used {sum(1 for c in answer.models for n in c.layers if isinstance(n, Call) and n.module == name)} "
                   "times but never defined",
            after=_module_summary(module),
            why=f"the model answer used it without a definition; defined from the answer to stage {stage}"))


def _build(session: Session, answer: ParsedAnswer, why: str | None) -> str | None:
    """Stage build: the call that builds the model a program defines but never builds (`answer.unbuilt`), asked
    when it has no model without one or its models built with their defaults are refused (`why`); None when the
    LLM has no answer for it."""
    try:
        return session.ask("build", render_prompt("build", builders=answer.unbuilt, why=why))
    except NoAnswer:
        session.say("stage build: no answer; " + ("the model is built with its defaults" if answer.models else
                                                   "the program builds no model"))
        return None


def _no_model(answer: ParsedAnswer) -> str:
    if answer.unbuilt:
        return (f"the program defines {' and '.join(answer.unbuilt)} but never builds it, and no answer says which "
                "arguments build the model (stage build)" + "".join(f"; {n}" for n in answer.notes))
    return ("it defines " + (", ".join(m.name for m in answer.modules) or "nothing") + " but no model"
            + "".join(f"; {n}" for n in answer.notes))


def _module_summary(module: ModuleSpec) -> str:
    """`DepthwiseConv2d(in_channels, ..., groups=in_channels): Conv2d -> Conv2d`; model.py has the whole class."""
    params = [f"{p}={module.derived[p]}" if p in module.derived else f"{p}={module.defaults[p]!r}"
              if p in module.defaults else p for p in module.params]
    return f"{module.name}({', '.join(params)}): " + " -> ".join(
        n.module if isinstance(n, Call) else getattr(n, "op", "?") for n in module.body)


def task_name(task: Task) -> str:
    """The name of a design whose answers give none: what it is for (`sd855-net-10m-c100`, with the input when it is
    not 3x32x32), so that designs for different tasks get different titles and default folders. "net" keeps the
    target's digits apart from the budget's in the class name (`Sd855Net10mC100`)."""
    name = f"{task.target.name}-net-{format_count(task.budget).lower()}-c{task.classes}"
    return name if task.input == _USUAL_INPUT else f"{name}-{'x'.join(map(str, task.input))}"


@lru_cache(maxsize=1)
def _article() -> tuple[str, str | None]:
    from ..design import article_cassette  # here: design imports this module

    cassette = load_cassette(article_cassette())
    return next(t.response for t in cassette.turns if t.stage == "model"), cassette.meta.get("name")


def known_name(answer: str) -> str | None:
    """The article's answer names no model, but the article calls it CNN-GPT (the bundled cassette's meta says
    so): its answer keeps that name from whichever cassette it is replayed, the design's own conversation.json
    included."""
    text, name = _article()
    return name if answer == text else None


class ReviewEvent(BaseModel):
    """One step of the human review, kept in conversation.json so that a replay reproduces the reviewed design."""

    event: Literal["accept", "edit", "feedback", "candidate"]
    text: Union[str, None] = Field(None, description="the reviewer's feedback, sent as a revise turn; for a "
                                                     "candidate, its title")
    candidate: Union[int, None] = Field(None, ge=1, description="the model of the answer switched to, from 1")
    diff: Union[str, None] = Field(None, description="an edit, as a unified diff of the spec")
    spec: Union[dict[str, Any], None] = Field(None, description="the spec after an edit, as the reviewer saved it")


class Designer:
    """Drives the stages for one run: `start()` asks ops and model (and modules, and revisions), `feedback()` and
    `edit()` take a reviewer's steps; each returns a validated Design."""

    def __init__(self, task: Task, llm: LLM, *, budget_text: str, max_revisions: int = 2,
                 say: Callable[[str], None] = lambda s: None,
                 on_record: Callable[[Conversation], None] | None = None, created: str | None = None) -> None:
        self.task, self.llm, self.max_revisions = task, llm, max_revisions
        self.conversation = Conversation(meta={"budget": budget_text, "target": task.target.name,
                                               "model": llm.model, "classes": task.classes,
                                               "input": "x".join(map(str, task.input)), "created": created or now(),
                                               "gptnet": "design"}, on_record=on_record)
        self.session = Session(llm, task, self.conversation, say)
        self.modules: dict[str, ModuleSpec] = {}
        self.ops: OpsVerdict | None = None
        self.revisions = 0
        self.model_name: str | None = None  # the design's name so far: a revision that names none keeps it
        self.answer: ParsedAnswer | None = None  # the last answer read, whose candidates the review may switch to
        self.unnamed = ""  # the name its candidates take when the answer names none

    def start(self) -> Design:
        self.ops = _ops_verdict(self.session)
        t = self.task
        try:
            text = self.session.ask("model", render_prompt("model", budget=format_count(t.budget), target=t.target,
                                                           classes=t.classes, input=t.input))
        except NoAnswer:
            raise DesignError("the LLM has no answer for stage model", "add a turn with stage \"model\" to the "
                              "cassette, or run against a live LLM") from None
        self.model_name = known_name(text)
        return self._settle(text, self.max_revisions)

    def feedback(self, text: str, current: Design) -> Design:
        """The reviewer's words go to the LLM as a revise turn with the current spec."""
        answer = self._revise([], current.spec, text, "add the reviewer's \"revise\" turn to the cassette, or "
                                                      "run against a live LLM")
        design = self._settle(answer, self.revisions + self.max_revisions)
        return design.model_copy(update={"review": [*current.review, ReviewEvent(event="feedback", text=text)]})

    def edit(self, spec: ModelSpec, current: Design, diff: str) -> tuple[Design | None, list[Finding]]:
        """A reviewer's edited spec, validated again: the new design, or None and the errors that stop it."""
        fixed, findings = validate(spec, self.task)
        if errors(findings):
            return None, findings
        event = ReviewEvent(event="edit", diff=diff, spec=spec.model_dump(mode="json"))
        self.model_name = fixed.name
        repairs = [f.model_copy(update={"where": f"edit: {f.where}"}) for f in findings]
        return self._design(current.original, fixed, current.findings + repairs, [*current.review, event],
                            current.options), findings

    def switch(self, k: int, current: Design) -> tuple[Design | None, list[Finding]]:
        """Another model of the last answer (from 0), validated like the first: the new design, or None and the
        errors that stop it."""
        if self.answer is None or not 0 <= k < len(self.answer.models):
            raise ValueError(f"no candidate {k + 1} in the last answer")
        original, spec, findings, options = choose(self.answer, self.modules, self.task, self.unnamed, pick=k)
        if errors(findings):
            return None, findings
        self.model_name = spec.name
        event = ReviewEvent(event="candidate", candidate=k + 1, text=options[k].title)
        return self._design(original, spec, findings, [*current.review, event], options), findings

    def _revise(self, problems: list[Finding], spec: ModelSpec | None, feedback: str | None, hint: str) -> str:
        t = self.task
        try:
            return self.session.ask("revise", render_prompt(
                "revise", findings=problems, feedback=feedback, budget=format_count(t.budget), classes=t.classes,
                input=t.input, target=t.target,
                spec=json.dumps(_llm_view(spec), ensure_ascii=False) if spec else "(none could be read)"))
        except NoAnswer:
            what = f"{problems[0].line()}; it needs the LLM's judgement and" if problems else "the reviewer's " \
                "feedback needs an answer and"
            raise DesignError(f"{what} there is no answer for stage revise", hint) from None

    def propose(self, prompt: str) -> Design:
        """A search's question, asked in a conversation of its own (stage model): the answer is parsed, its
        modules defined, repaired and fitted as `start`'s is, without revise turns. A DesignError says why the
        answer cannot be used; NoAnswer, that the LLM has none (a cassette with no model turn left)."""
        session = Session(self.llm, self.task, self.conversation, self.session.say)
        original, spec, findings, options = self._read(session.ask("model", prompt), session)
        problems = errors(findings)
        if problems:
            raise DesignError(problems[0].line(), "see the search's conversation.json")
        return self._design(original, spec, findings, [], options)

    def _read(self, text: str, session: Session,
              ) -> tuple[ModelSpec | None, ModelSpec | None, list[Finding], list[Option]]:
        """Parse, define modules (asked in `session`), choose and validate: the LLM's spec, the repaired one, the
        findings and the candidates the answer offered; no specs when the answer cannot be read."""
        try:
            try:
                answer = parse_answer(text)
            except ParseError as e:  # a program that leaves its model unbuilt may still read once built
                if not e.unbuilt:
                    raise
                answer = ParsedAnswer(form="python", unbuilt=e.unbuilt, notes=[str(e)])
            read = self._use(answer, session) if answer.models else None
            if answer.unbuilt and (read is None or errors(read[2])):
                built = _build(session, answer, errors(read[2])[0].line() if read else None)
                if built is not None:
                    answer = parse_answer(text, build=built)
                    read = self._use(answer, session)
            if read is None:
                raise ParseError(_no_model(answer))
            return read
        except ParseError as e:
            return None, None, [Finding(kind="unparseable", where="answer", why=f"no model could be read from it: "
                                        f"{e}", severity="error")], []
        except ValidationError as e:  # parts that read, but break the spec's grammar or limits together
            return None, None, [Finding(kind="invalid-answer", where="answer", why=f"it cannot be used as written: "
                                        f"{flat_errors(e)}", severity="error")], []

    def _use(self, answer: ParsedAnswer, session: Session,
             ) -> tuple[ModelSpec, ModelSpec, list[Finding], list[Option]]:
        """An answer's models: its modules defined (asked in `session`), one chosen and validated."""
        if not answer.models:
            raise ParseError(_no_model(answer))
        notes = _define_modules(session, answer, self.modules)
        unnamed = self.model_name or task_name(self.task)
        original, spec, findings, options = choose(answer, self.modules, self.task, unnamed)
        self.answer, self.unnamed, self.model_name = answer, unnamed, original.name
        return original, spec, notes + findings, options

    def _settle(self, text: str, max_revisions: int) -> Design:
        """Parse, define modules, choose and validate; ask revise turns until no error is left or rounds run out."""
        while True:
            original, spec, findings, options = self._read(text, self.session)
            problems = errors(findings)
            if not problems:
                return self._design(original, spec, findings, [], options)
            if self.revisions >= max_revisions:
                raise DesignError(f"no valid model after {self.revisions} revision(s): {problems[0].line()}",
                                  "see conversation.json; try a larger budget or another model") from None
            text = self._revise(problems, original, None,
                                "add a \"revise\" turn to the cassette, or run against a live LLM")
            self.revisions += 1

    def _design(self, original: ModelSpec, spec: ModelSpec, findings: list[Finding],
                review: list[ReviewEvent], options: list[Option]) -> Design:
        c = self.conversation
        return Design(spec=spec, original=original, findings=findings, ops=self.ops, profile=profile_spec(spec),
                      latency_ms={e.backend: e.total_ms for e in estimates(spec, self.task.target)},
                      source=self.llm.description, revisions=self.revisions, usage=_usage(c),
                      usage_by_stage=[{"stage": t.stage, **t.usage} for t in c.turns if t.usage], review=review,
                      options=options)


def _llm_view(spec: ModelSpec) -> dict:
    """The spec as the LLM should see it: the JSON form the model prompt asks for."""
    return spec.model_dump(mode="json", exclude={"input", "num_classes", "head"}, exclude_none=True)


def _usage(conversation: Conversation) -> dict[str, int]:
    total: dict[str, int] = {}
    for turn in conversation.turns:
        for k, v in (turn.usage or {}).items():
            if isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return total


Design.model_rebuild()
