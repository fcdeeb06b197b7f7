"""Load definitions from YAML, reporting every problem at once with its file and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jmespath
import yaml
from jmespath.exceptions import JMESPathError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import TypeAdapter, ValidationError

from router.language.definition import (
    TERMINAL,
    ApprovalStep,
    DecisionStep,
    Definition,
    Kind,
    ParallelStep,
    Step,
    StepType,
    TaskStep,
    chain_timeout,
    successors,
)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DefinitionError(ValueError):
    """Raised with every problem found in one or more definition files."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineDict(dict[str, Any]):
    """A mapping that remembers the line it and each of its keys started on (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


# libyaml's parser where PyYAML was built with it (its wheels are): the same nodes and marks, about ten times faster
# than the pure-Python one, which every CLI command and Lambda cold start spent most of its definition loading in.
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]  # the same interface, pure Python


class _LineLoader(_SafeLoader):
    # ignore[override]: the stubs return dict[Hashable, Any]; ours is that dict with string keys and line numbers
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _LineDict:  # type: ignore[override]
        # cast: PyYAML types keys as Hashable; a definition's keys are strings, and the schema rejects any other
        mapping = _LineDict(cast(dict[str, Any], super().construct_mapping(node, deep=True)))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
        return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)

_STEP: TypeAdapter[Step] = TypeAdapter(Step)


def _line_of(raw: Any, loc: Iterable[Any]) -> int:
    """The line of the deepest mapping along a pydantic error location."""
    line = getattr(raw, "line", 1)
    node = raw
    for part in loc:
        if isinstance(node, _LineDict) and isinstance(part, str):
            line = node.key_lines.get(part, node.line)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def _pydantic_problems(file: str, raw: Any, error: ValidationError, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = prefix + tuple(p for p in item["loc"] if p not in _STEP_TAGS)
        where = ".".join(str(p) for p in loc) or "definition"
        message = _what_to_add(raw, loc, item) or f"{where}: {item['msg']}"
        problems.append(Problem(file, _line_of(raw, loc), message))
    return problems


def _what_to_add(raw: Any, loc: tuple[Any, ...], item: Any) -> str | None:
    """For a field the MOD-062 design's format leaves out and this engine cannot guess: exactly what to write."""
    node = raw
    for part in loc[:-1]:
        node = node.get(part) if isinstance(node, dict) else node[part] if isinstance(node, list) else None
    if not (item["type"] == "missing" and isinstance(node, dict) and loc and loc[-1] == "levels"):
        return None
    sla = node.get("sla_seconds")
    fits = sla - chain_timeout([0]) if isinstance(sla, int) and sla > chain_timeout([0]) else 3600
    return (
        f"step {node.get('name')!r}: an APPROVAL must say who approves it: add `levels: [{{role: <approver role>, "
        f"timeout_seconds: {fits}}}]` (one entry per level, in order; each approver needs that role)"
    )


_STEP_TAGS = {t.value for t in StepType}


def parse(text: str, file: str = "<string>", known_workers: set[str] | None = None) -> Definition:
    """Parse and validate one definition; raise DefinitionError listing every problem."""
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DefinitionError([Problem(file, mark.line + 1 if mark else 1, f"not valid YAML: {exc}")]) from exc
    if not isinstance(raw, _LineDict):
        raise DefinitionError([Problem(file, 1, "a definition must be a YAML mapping")])
    return from_mapping(raw, file, known_workers)


def located(mapping: dict[str, Any], line: int) -> _LineDict:
    """A mapping declared at `line` of its file (every key on that line): how a Python definition says where."""
    result = _LineDict(mapping)
    result.line, result.key_lines = line, dict.fromkeys(mapping, line)
    return result


@dataclass(frozen=True)
class _At:
    """Where a step was written: its file and line, and the include that brought it in, if any."""

    file: str
    line: int
    via: str = ""

    def problem(self, message: str) -> Problem:
        return Problem(self.file, self.line, message + self.via)


def from_mapping(raw: _LineDict, file: str, known_workers: set[str] | None = None) -> Definition:
    """Validate a definition already read into a line-aware mapping; raise DefinitionError with every problem."""
    problems: list[Problem] = []
    raw_steps = raw.get("steps")
    steps: list[tuple[Step, _At]] = []  # each valid step with where it was written
    invalid: dict[str, tuple[_LineDict, _At]] = {}  # steps that failed, still graph nodes so nothing cascades
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(
            Problem(file, raw.key_lines.get("steps", raw.line), "steps: a non-empty list of steps is required")
        )
    else:
        entries, problems = _expand(raw, raw_steps, file)
        for root, raw_step, prefix, at in entries:
            try:
                steps.append((_STEP.validate_python(raw_step), at))
            except ValidationError as exc:
                problems += [at.problem(p.message) for p in _pydantic_problems(at.file, root, exc, prefix)]
                if isinstance(raw_step, _LineDict) and isinstance(raw_step.get("name"), str):
                    invalid[raw_step["name"]] = (raw_step, at)
    try:  # the header alone: steps were validated one by one above, so each error is reported once
        header = Definition.model_validate({**raw, "steps": [{"name": "placeholder", "type": "SUCCESS"}]})
    except ValidationError as exc:
        problems += _pydantic_problems(file, raw, exc)
        header = None
    if header is not None:
        problems += _semantic_problems(file, header, steps, invalid, raw, known_workers)
    if problems:
        raise DefinitionError(sorted(problems, key=lambda p: (p.file != file, p.file, p.line)))
    assert header is not None
    return header.model_copy(update={"steps": [step for step, _ in steps]})


_Entry = tuple[Any, Any, tuple[Any, ...], _At]  # (root for line lookups, raw step, its location in root, where)


def _expand(raw: _LineDict, raw_steps: list[Any], file: str) -> tuple[list[_Entry], list[Problem]]:
    """The steps with each `- include: fragments/x.yaml` replaced by the fragment's steps."""
    entries: list[_Entry] = []
    problems: list[Problem] = []
    for index, raw_step in enumerate(raw_steps):
        line = getattr(raw_step, "line", 1)
        if not (isinstance(raw_step, dict) and set(raw_step) == {"include"}):
            entries.append((raw, raw_step, ("steps", index), _At(file, line)))
            continue
        path = Path(file).parent / str(raw_step["include"])
        via = f" (included from {file}:{line})"
        try:
            fragment = yaml.load(path.read_text(), Loader=_LineLoader)  # noqa: S506 - a SafeLoader
        except OSError as exc:
            problems.append(Problem(file, line, f"include: cannot read {path}: {exc.strerror}"))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(str(path), mark.line + 1 if mark else 1, f"not valid YAML: {exc}{via}"))
            continue
        if not isinstance(fragment, list) or not fragment:
            problems.append(Problem(str(path), 1, f"a fragment must be a non-empty YAML list of steps{via}"))
            continue
        entries += [(fragment, s, (i,), _At(str(path), getattr(s, "line", 1), via)) for i, s in enumerate(fragment)]
    return entries, problems


def _semantic_problems(
    file: str,
    header: Definition,
    steps: list[tuple[Step, _At]],
    invalid: dict[str, tuple[_LineDict, _At]],
    raw: _LineDict,
    known_workers: set[str] | None,
) -> list[Problem]:
    problems: list[Problem] = []
    start_at = header.start_at
    seen: set[str] = set()
    for step, at in steps:
        if step.name in seen:
            problems.append(at.problem(f"step {step.name!r}: duplicate name"))
        seen.add(step.name)
    names = seen | invalid.keys()
    if start_at not in names:
        problems.append(Problem(file, raw.key_lines.get("start_at", 1), f"start_at: undefined step {start_at!r}"))
    problems += [Problem(file, raw.key_lines.get("schedule", 1), m) for m in _schedule_problems(header)]
    problems += [Problem(file, raw.key_lines.get("kind", 1), m) for m in _kind_problems(header)]
    for step, at in steps:
        for target in successors(step):
            if target not in names:
                problems.append(at.problem(f"step {step.name!r}: next/goto names undefined step {target!r}"))
        problems += [at.problem(f"step {step.name!r}: {m}") for m in _step_problems(step, known_workers)]
    for name, (raw_step, at) in invalid.items():  # a step with a bad field still names its links: check them too
        for target in _raw_node(raw_step, at).successors:
            if target not in names:
                problems.append(at.problem(f"step {name!r}: next/goto names undefined step {target!r}"))
    if start_at in names:
        nodes = {step.name: _Node(at, successors(step), step.type in TERMINAL) for step, at in reversed(steps)}
        nodes |= {name: _raw_node(raw_step, at) for name, (raw_step, at) in invalid.items() if name not in nodes}
        problems += _graph_problems(start_at, nodes)
    return problems


@dataclass(frozen=True)
class _Node:
    at: _At
    successors: list[str]
    terminal: bool


def _raw_node(raw_step: _LineDict, at: _At) -> _Node:
    """A step that failed validation, read as far as its links go."""
    targets = [raw_step.get("next"), raw_step.get("default")]
    branches = raw_step.get("branches")
    if isinstance(branches, list):
        targets += [b.get("goto") for b in branches if isinstance(b, dict)]
    terminal = raw_step.get("type") in TERMINAL
    return _Node(at, [t for t in targets if isinstance(t, str)], terminal)


def _schedule_problems(definition: Definition) -> list[str]:
    if not definition.schedule:
        return []
    messages = []
    if definition.triggers:
        messages.append("schedule: a journey has a schedule or triggers, not both")
    if Draft202012Validator(definition.input_schema).is_valid({}) is False:
        messages.append("schedule: a scheduled journey starts with no input, so its input_schema must accept {}")
    return messages


def _kind_problems(definition: Definition) -> list[str]:
    """SYSTEM journeys run on a schedule with no input form; the other kinds start from one."""
    if definition.kind is Kind.SYSTEM and not definition.schedule:
        return ["kind: a SYSTEM journey runs on a schedule: add `schedule:` (e.g. rate(1 day))"]
    if definition.kind not in (None, Kind.SYSTEM) and definition.schedule:
        return [f"kind: a {definition.kind} journey starts from its input form; only SYSTEM journeys run on a schedule"]
    return []


def _step_problems(step: Step, known_workers: set[str] | None) -> list[str]:
    messages = []
    workers: list[str] = []
    if isinstance(step, TaskStep):
        workers = [step.worker]
    elif isinstance(step, ParallelStep):
        workers = [b.worker for b in step.branches]
        if len({b.name for b in step.branches}) != len(step.branches):
            messages.append("parallel branch names must be unique")
    if known_workers is not None:
        messages += [_unknown_worker(step, w) for w in workers if w not in known_workers]
    expressions = [b.when for b in step.branches] if isinstance(step, DecisionStep) else []
    if isinstance(step, ApprovalStep):
        expressions += [e for e in (step.amount, step.initiator) if e]
        messages += _approval_problems(step)
    for expression in expressions:
        try:
            jmespath.compile(expression)
        except JMESPathError as exc:
            messages.append(f"expression {expression!r} does not parse: {exc}")
    schema = getattr(step, "input_schema", None)
    if schema is not None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            messages.append(f"input_schema is not a valid JSON Schema: {exc.message}")
    return messages


def _unknown_worker(step: Step, worker: str) -> str:
    if isinstance(step, TaskStep) and worker == step.name:  # perhaps defaulted: the design's TASKs name none
        return f"unknown worker {worker!r}: add `worker:` naming a registered worker, or register one as {worker!r}"
    return f"unknown worker {worker!r}"


def _approval_problems(step: ApprovalStep) -> list[str]:
    messages = []
    chain = chain_timeout([level.timeout_seconds for level in step.levels])
    if step.sla_seconds < chain:
        messages.append(
            f"sla_seconds {step.sla_seconds} is shorter than its levels' timeouts with the chain's slack ({chain}): "
            "the watchdog would escalate an approval that is still running"
        )
    if any(level.limit is not None for level in step.levels) and not step.amount:
        messages.append("a level has a limit but the step names no `amount` to compare it with")
    return messages


def _graph_problems(start_at: str, nodes: dict[str, _Node]) -> list[Problem]:
    reachable: set[str] = set()
    frontier = [start_at]
    while frontier:
        name = frontier.pop()
        if name in reachable or name not in nodes:
            continue
        reachable.add(name)
        frontier += nodes[name].successors
    problems = [
        node.at.problem(f"step {name!r}: unreachable from {start_at!r}")
        for name, node in nodes.items()
        if name not in reachable
    ]
    finishing = {name for name, node in nodes.items() if node.terminal}
    changed = True
    while changed:
        before = len(finishing)
        finishing |= {name for name, node in nodes.items() if any(t in finishing for t in node.successors)}
        changed = len(finishing) != before
    problems += [
        node.at.problem(f"step {name!r}: no path to a SUCCESS or FAIL step")
        for name, node in nodes.items()
        if name in reachable and name not in finishing
    ]
    return problems


def load_file(path: Path, known_workers: set[str] | None = None) -> Definition:
    return parse(path.read_text(), str(path), known_workers)
