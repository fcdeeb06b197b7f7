"""A consumer's metrics and traces: Powertools Metrics (embedded metric format) and Tracer. Emits; decides nothing.

Cheap to import: Powertools' metrics and tracing modules load on first use, and the tracer (with the X-Ray
SDK, a quarter of a second to import) is built only on Lambda, unless POWERTOOLS_TRACE_DISABLED is set.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from router.core.metrics import NAMESPACE, Point, for_outcome
from router.core.outcomes import Absorb, Commit

if TYPE_CHECKING:
    from router.runtime.service import Router

Emit = Callable[[str], None]


class Telemetry:
    """The metrics of one invocation, flushed as one EMF document per set of dimension values."""

    def __init__(self, service: str, emit: Emit, tracer: Any = None) -> None:
        self.service, self.emit, self.tracer = service, emit, tracer
        self.points: list[Point] = []
        self._spans: list[Any] = []

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        self.points.append(Point(name, value, tuple(dimensions.items())))

    def add(self, points: Iterable[Point]) -> None:
        self.points.extend(points)

    def route(self, router: Router, event: Any, redelivered: bool = False) -> Commit | Absorb:
        """router.handle, timed and counted, in a trace span annotated with the journey and its definition."""
        with self.span("## route", journey_id=event.journey_id) as span:
            conflicts, began = router.counts["conflicts"], time.perf_counter()
            outcome = router.handle(event, redelivered=redelivered)
            self.add(for_outcome(outcome, time.perf_counter() - began, router.counts["conflicts"] - conflicts))
            if span is not None and isinstance(outcome, Commit):
                span.put_annotation("definition", outcome.journey.definition_id)
        return outcome

    def annotate(self, **annotations: str) -> None:
        """Annotate the innermost open span (X-Ray indexes annotations: `annotation.journey_id = "..."`)."""
        for key, value in annotations.items():
            if self._spans:
                self._spans[-1].put_annotation(key, value)

    @contextmanager
    def span(self, name: str, **annotations: str) -> Iterator[Any]:
        """An X-Ray subsegment on Lambda (the AWS calls inside nest under it); nothing locally."""
        if self.tracer is None:
            yield None
            return
        with self.tracer.provider.in_subsegment(name) as subsegment:
            self._spans.append(subsegment)
            try:
                self.annotate(**annotations)
                yield subsegment
            finally:
                self._spans.pop()

    def flush(self) -> None:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        groups: dict[tuple[tuple[str, str], ...], list[Point]] = defaultdict(list)
        for point in self.points:
            groups[point.dimensions].append(point)
        self.points = []
        for dimensions, points in groups.items():
            metrics = EphemeralMetrics(namespace=NAMESPACE, service=self.service)
            for key, value in dimensions:
                metrics.add_dimension(key, value)
            for point in points:
                metrics.add_metric(point.name, point.unit, point.value)
            self.emit(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")))


def tracer_for(service: str, environ: Mapping[str, str]) -> Any:
    """A Powertools Tracer that patches botocore (a subsegment per AWS call), on Lambda only."""
    on_lambda = bool(environ.get("LAMBDA_TASK_ROOT"))
    disabled = environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on")
    if not on_lambda or disabled:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=service, patch_modules=["botocore"])
