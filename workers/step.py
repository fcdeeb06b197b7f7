"""The step-worker SDK: plain functions whose arguments come from the journey state by name.

A worker is registered with ``@workers.step("kyc")``. The router sends the whole journey state;
the SDK picks the parameters the function names, validates them against its type hints, and
returns the dict the function produced, which the router merges into the state.

What happens after a failure is decided by the exception's type, never its message:
``TerminalError`` fails the step; anything else is retryable, so the message comes back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

Fn = TypeVar("Fn", bound=Callable[..., Any])


class StepError(Exception):
    """A failure a worker reports on purpose."""


class RetryableError(StepError):
    """Transient (a timeout, a busy downstream): running the step again may succeed."""


class TerminalError(StepError):
    """Running the step again cannot succeed (bad input, a business rule): fail it now."""


class UnknownWorker(KeyError):
    """No worker of that name in this registry. Retryable: a redeploy may bring it."""


class _Arguments(BaseModel):
    # The state holds every step's output, so keys a worker does not name are expected.
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


@dataclass(frozen=True)
class _Worker:
    fn: Callable[..., Any]
    arguments: type[_Arguments]
    retry_on: tuple[type[BaseException], ...]


class Workers:
    """A registry of step workers, looked up by the `worker:` name a definition uses."""

    def __init__(self) -> None:
        self._workers: dict[str, _Worker] = {}

    def step(self, name: str, *, retry_on: tuple[type[BaseException], ...] = ()) -> Callable[[Fn], Fn]:
        """Register a function as worker `name`; `retry_on` names exceptions it expects to be transient."""

        def register(fn: Fn) -> Fn:
            if name in self._workers:
                raise ValueError(f"worker {name!r} is already registered")
            self._workers[name] = _Worker(fn, _arguments_model(name, fn), tuple(retry_on))
            return fn

        return register

    def names(self) -> set[str]:
        """What a definition may name as `worker:`; the loader checks definitions against it."""
        return set(self._workers)

    def registered(self) -> dict[str, tuple[Callable[..., Any], tuple[type[BaseException], ...]]]:
        """Each worker's function and `retry_on`, by name: enough to register it again, wrapped (tests do)."""
        return {name: (worker.fn, worker.retry_on) for name, worker in self._workers.items()}

    def problems(self, name: str, state: dict[str, Any]) -> list[str]:
        """Why worker `name` could not run on `state` (missing or invalid arguments); empty when it could."""
        worker = self._workers.get(name)
        if worker is None:
            return []
        try:
            worker.arguments.model_validate(state)
        except ValidationError as exc:
            return [f"worker {name!r}: {_describe(exc)}"]
        return []

    def run(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        """Run worker `name` on the journey state and return the dict to merge into it."""
        worker = self._workers.get(name)
        if worker is None:
            raise UnknownWorker(name)
        try:
            arguments = worker.arguments.model_validate(state)
        except ValidationError as exc:
            raise TerminalError(f"worker {name!r}: {_describe(exc)}") from exc
        try:
            output = worker.fn(**{field: getattr(arguments, field) for field in type(arguments).model_fields})
        except StepError:
            raise
        except worker.retry_on as exc:
            raise RetryableError(f"worker {name!r}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(output, dict):
            raise TerminalError(f"worker {name!r} returned {type(output).__name__}, not a dict to merge into the state")
        return output

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """Only a TerminalError is final; an unexpected exception is an infrastructure hiccup until proven not."""
        return not isinstance(exc, TerminalError)


def with_steps(base: Workers, steps: Iterable[Any]) -> Workers:
    """`base`'s workers plus the @step functions of a Python definition (router.language.dsl.steps_of), each the worker
    named like its step, so the step's body runs as a worker does."""
    workers = Workers()
    for name, (fn, retry_on) in base.registered().items():
        workers.step(name, retry_on=retry_on)(fn)
    for declared in steps:
        workers.step(declared.name)(declared.fn)
    return workers


def _arguments_model(name: str, fn: Callable[..., Any]) -> type[_Arguments]:
    """A pydantic model of fn's parameters, so the state is checked before the worker runs."""
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(fn, eval_str=True).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            raise TypeError(f"worker {name!r}: parameter {parameter.name!r} cannot be filled from the state by name")
        annotation = Any if parameter.annotation is parameter.empty else parameter.annotation
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    model_name = "Arguments_" + "".join(c if c.isalnum() else "_" for c in name)
    return create_model(model_name, __base__=_Arguments, **fields)


def _describe(error: ValidationError) -> str:
    """Name every bad argument, so the failure says what to fix in the journey state."""
    missing, invalid = [], []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        if item["type"] == "missing":
            missing.append(repr(where))
        else:
            invalid.append(f"invalid argument {where!r}: {item['msg']}")
    return "; ".join(([f"missing argument {', '.join(missing)}"] if missing else []) + invalid)
