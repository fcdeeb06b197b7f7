"""Declaring a journey in Python: `@workflow` and `init >> step_a >> step_b >> done`.

A Python declaration becomes the same mapping a YAML file is read into, each step placed at the
line that created it, and goes through the same validation (router.language.loader.from_mapping): the
result is the same Definition model, and a mistake is reported at the .py file and line.

    @workflow(id="kyc-uplift", version="1.0.0", owning_domain="bank-core")
    def kyc_uplift():
        ask = input_step("request-details", sla_seconds=600, input_schema={...})
        check = task("verify-identity", worker="kyc", sla_seconds=120)
        done = success("details-updated")
        init >> ask >> check >> done

Steps are listed in the order they are created, as YAML lists them in the order they are written.

The workflow-engine page's style works too: a `@step("Create subscription")` function is a TASK whose
body runs as a worker (its arguments filled from the state by name, its returned dict merged into it),
and a workflow named by its description returns its steps between the built-ins `init` and `done`:

    @workflow("Create product subscription")
    def create_product_subscription():
        return init >> create_subscription >> done
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, PlainSerializer

from router.language.definition import Definition, Kind
from router.language.loader import DefinitionError, Problem, from_mapping, located

State = dict[str, Any]  # what a @step returns: merged into the journey state
UUIDstr = Annotated[UUID, PlainSerializer(str)]  # a UUID kept in the state as its string
STEP_SLA_SECONDS = 300  # a @step's SLA unless it names one: the page's steps carry none


class Node:
    """One step being declared; `a >> b` makes b the step after a."""

    def __init__(
        self, name: str, type_: str, fields: dict[str, Any], linkable: bool = True, depth: int = 2
    ) -> None:
        self.name, self.type, self.linkable = name, type_, linkable
        self.fields = {k: v for k, v in fields.items() if v is not None}
        frame = sys._getframe(depth)  # the declaration inside the workflow function
        self.file, self.line = frame.f_code.co_filename, frame.f_lineno
        _building().add(self)

    def __rshift__(self, other: Linkable) -> Node:
        target = _node(other, depth=3)
        if not self.linkable:
            _building().problems.append(
                Problem(self.file, self.line, f"step {self.name!r}: a {self.type} step has no `next` to link")
            )
        else:
            self.fields["next"] = target.name
        return target

    def mapping(self) -> dict[str, Any]:
        return located({"name": self.name, "type": self.type, **self.fields}, self.line)


class _Init:
    """`init >> first` names the step a journey starts at."""

    def __rshift__(self, other: Linkable) -> Node:
        target = _node(other, depth=3)
        _building().start_at = target.name
        return target


class _Done:
    """`... >> done`: the built-in last step, a SUCCESS named `done`."""

    name = "done"


init = _Init()
done = _Done()


class StepFunction:
    """A `@step` function: called, it runs its body; linked with `>>` in a workflow, it is a TASK whose worker
    (named like the step) runs that body."""

    def __init__(self, description: str, fn: Callable[..., Any], sla_seconds: int) -> None:
        self.description, self.fn, self.sla_seconds = description, fn, sla_seconds
        self.name = slug(description)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __rshift__(self, other: Linkable) -> Node:
        return _node(self, depth=3) >> other


Linkable = Node | StepFunction | _Done


def _node(item: Linkable, depth: int) -> Node:
    """The step an item stands for in the workflow being declared; created once, where it is first linked."""
    if isinstance(item, Node):
        return item
    builder = _building()
    if item.name not in builder.implicit:
        if isinstance(item, _Done):
            builder.implicit[item.name] = Node("done", "SUCCESS", {}, linkable=False, depth=depth + 1)
        else:
            fields = {"label": item.description, "worker": item.name, "sla_seconds": item.sla_seconds}
            builder.implicit[item.name] = Node(item.name, "TASK", fields, depth=depth + 1)
    return builder.implicit[item.name]


def step(description: str, *, sla_seconds: int = STEP_SLA_SECONDS) -> Callable[[Callable[..., Any]], StepFunction]:
    """`@step("Create subscription")`: the function becomes step (and worker) `create-subscription`."""

    def declare(fn: Callable[..., Any]) -> StepFunction:
        return StepFunction(description, fn, sla_seconds)

    return declare


def slug(description: str) -> str:
    """"Create product subscription" -> "create-product-subscription": a step or definition id."""
    return re.sub(r"[^a-z0-9]+", "-", description.casefold()).strip("-")


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.problems: list[Problem] = []
        self.start_at: str | None = None
        self.implicit: dict[str, Node] = {}  # @step functions and `done`, by name, once linked

    def add(self, node: Node) -> None:
        self.nodes.append(node)


_BUILDING: ContextVar[_Builder | None] = ContextVar("journeys_dsl_building", default=None)


def _building() -> _Builder:
    builder = _BUILDING.get()
    if builder is None:
        raise RuntimeError("steps are declared inside a @workflow function")
    return builder


def _name(target: Node | str) -> str:
    return target if isinstance(target, str) else target.name


def task(
    name: str, *, worker: str, sla_seconds: int, label: str | None = None, retry: dict[str, Any] | None = None
) -> Node:
    return Node(name, "TASK", {"label": label, "worker": worker, "sla_seconds": sla_seconds, "retry": retry})


def input_step(
    name: str,
    *,
    sla_seconds: int,
    input_schema: dict[str, Any],
    label: str | None = None,
    store_as: str | None = None,
    on_expiry: Node | str | None = None,
) -> Node:
    expiry = _name(on_expiry) if on_expiry is not None else None
    fields = {"label": label, "sla_seconds": sla_seconds, "input_schema": input_schema, "store_as": store_as}
    return Node(name, "INPUT", {**fields, "on_expiry": expiry})


def wait(name: str, *, seconds: int, label: str | None = None) -> Node:
    return Node(name, "WAIT", {"label": label, "seconds": seconds})


def parallel(name: str, *, branches: list[dict[str, Any]], label: str | None = None) -> Node:
    return Node(name, "PARALLEL", {"label": label, "branches": branches})


def approval(
    name: str, *, sla_seconds: int, levels: list[dict[str, Any]], label: str | None = None, **more: Any
) -> Node:
    return Node(name, "APPROVAL", {"label": label, "sla_seconds": sla_seconds, "levels": levels, **more})


def decision(
    name: str, *, branches: list[tuple[str, Node | str]], default: Node | str, label: str | None = None
) -> Node:
    """`branches`: (JMESPath condition, step) pairs, the first truthy one taken."""
    fields = {
        "label": label,
        "branches": [{"when": w, "goto": _name(t)} for w, t in branches],
        "default": _name(default),
    }
    return Node(name, "DECISION", fields, linkable=False)


def success(name: str, *, label: str | None = None, emit: str | None = None) -> Node:
    return Node(name, "SUCCESS", {"label": label, "emit": emit}, linkable=False)


def fail(
    name: str, *, error: str | None = None, cause: str | None = None, label: str | None = None, emit: str | None = None
) -> Node:
    return Node(name, "FAIL", {"label": label, "error": error, "cause": cause, "emit": emit}, linkable=False)


class Workflow:
    """A declared journey; `definition()` runs the declaration and validates it."""

    def __init__(self, declare: Callable[[], Any], header: dict[str, Any]) -> None:
        self.declare, self.header = declare, header
        self.file = declare.__code__.co_filename
        self.line = declare.__code__.co_firstlineno

    def definition(self, known_workers: set[str] | None = None) -> Definition:
        builder = _Builder()
        token = _BUILDING.set(builder)
        try:
            self.declare()
        finally:
            _BUILDING.reset(token)
        raw = located({**self.header, "steps": [n.mapping() for n in builder.nodes]}, self.line)
        if builder.start_at is not None:
            raw["start_at"] = builder.start_at
        try:
            definition = from_mapping(raw, self.file, known_workers)
        except DefinitionError as exc:
            raise DefinitionError(builder.problems + exc.problems) from None
        if builder.problems:
            raise DefinitionError(builder.problems)
        return definition


Target = Kind  # the workflow-engine page's name for a workflow's kind


DEFAULT_DOMAIN = "bank-core"  # where a workflow that names no owning_domain publishes its transitions


def workflow(
    description: str | None = None,
    initial_input_form: type[BaseModel] | dict[str, Any] | None = None,
    target: Kind | str | None = None,
    **header: Any,
) -> Callable[[Callable[[], Any]], Workflow]:
    """Declare a journey: keyword arguments are the definition's header (id, version, owning_domain, ...).

    Or as the workflow-engine page writes it: a description (the title; the id is its slug), an initial
    input form (a pydantic model or a JSON Schema: the input_schema) and a target (the kind).
    """
    if description is not None:
        header = {"id": slug(description), "version": "1.0.0", "owning_domain": DEFAULT_DOMAIN, **header}
        header.setdefault("title", description)
    if initial_input_form is not None:
        form = initial_input_form
        header["input_schema"] = form if isinstance(form, dict) else form.model_json_schema()
    if target is not None:
        header["kind"] = Kind(target)

    def declare(function: Callable[[], Any]) -> Workflow:
        return Workflow(function, header)

    return declare


def steps_of(path: Path) -> list[StepFunction]:
    """The @step functions a Python definition file declares (for registering them as workers)."""
    return [v for v in vars(_execute(path)).values() if isinstance(v, StepFunction)]


def _line_of(exc: Exception, path: Path) -> int:
    """The line of `path` the exception was raised at: a SyntaxError's own, else the file's last traceback frame."""
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        return exc.lineno or 1
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(path)]
    return (frames[-1].lineno or 1) if frames else 1


def _execute(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"journeys_definition_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise DefinitionError([Problem(str(path), 1, "not an importable Python module")])
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except DefinitionError:
        raise
    except Exception as exc:  # a broken definition file is a load problem at its line, not a consumer's traceback
        raise DefinitionError([Problem(str(path), _line_of(exc, path), f"{type(exc).__name__}: {exc}")]) from exc
    return module


def load_module(path: Path, known_workers: set[str] | None = None) -> list[Definition]:
    """Every @workflow a Python file declares, validated; its own @step functions count as known workers."""
    module = _execute(path)
    workflows = [value for value in vars(module).values() if isinstance(value, Workflow)]
    if not workflows:
        raise DefinitionError([Problem(str(path), 1, "declares no @workflow")])
    if known_workers is not None:
        known_workers = known_workers | {v.name for v in vars(module).values() if isinstance(v, StepFunction)}
    return [w.definition(known_workers) for w in workflows]
