"""`journeys costs` and `journeys stats`: what journeys cost, and what CloudWatch would show for the local stack."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.core.model import Journey, TransitionRecord


@dataclass
class CostLine:
    transitions: int = 0
    cost_usd: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)


def costs_by_step(timelines: Iterable[Sequence[TransitionRecord]]) -> dict[tuple[str, str], CostLine]:
    """(definition, step) -> the transitions there, their AWS calls and their cost."""
    lines: dict[tuple[str, str], CostLine] = defaultdict(CostLine)
    for records in timelines:
        for record in records:
            line = lines[(record.definition_id, record.step_name)]
            line.transitions += 1
            line.cost_usd += record.cost_usd
            line.calls.update(record.usage.calls if record.usage else {})
    return dict(lines)


def render_costs(journeys: Sequence[Journey], lines: dict[tuple[str, str], CostLine]) -> str:
    out = []
    by_definition: dict[str, list[Journey]] = defaultdict(list)
    for journey in journeys:
        by_definition[journey.definition_id].append(journey)
    for definition, group in sorted(by_definition.items()):
        total = sum(j.cost_usd for j in group)
        out.append(f"{definition}: {len(group)} journeys, ${total:.8f} in all, ${total / len(group):.8f} per journey")
        for (owner, step), line in sorted(lines.items()):
            if owner != definition:
                continue
            calls = ", ".join(f"{op} {n}" for op, n in sorted(line.calls.items()))
            out.append(f"  {step:<28} {line.transitions:>5} transitions  ${line.cost_usd:.8f}  ({calls})")
    return "\n".join(out) if out else "no journeys"


# -- stats: the EMF documents the local consumers wrote


def read_documents(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise LookupError(f"no metrics at {path}: start the local stack with `journeys up` or `make run`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("{")]


def values(documents: Iterable[dict[str, Any]], name: str, *by: str) -> dict[tuple[str, ...], list[float]]:
    """Every value of metric `name`, grouped by the named dimensions' values."""
    grouped: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for document in documents:
        if name in document:
            key = tuple(str(document.get(d, "")) for d in by)
            value = document[name]
            grouped[key] += value if isinstance(value, list) else [value]
    return dict(grouped)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest rank, as CloudWatch's pNN statistics approximate."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def render_stats(documents: Sequence[dict[str, Any]]) -> str:
    if not documents:
        return "no metrics yet: run some journeys"
    stamps = [d["_aws"]["Timestamp"] / 1000 for d in documents]
    window = max(max(stamps) - min(stamps), 1.0)
    committed = sum(sum(v) for v in values(documents, "TransitionsCommitted").values())
    out = [f"{len(documents)} metric documents over {window:.0f} s: {committed / window:.2f} transitions per second"]
    out.append("\njourneys (by definition)       started completed  failed escalated cancelled")
    counts = {
        name: values(documents, name, "definition")
        for name in ("JourneysStarted", "JourneysCompleted", "JourneysFailed", "JourneysEscalated", "JourneysCancelled")
    }
    for (definition,) in sorted({k for by in counts.values() for k in by}):
        row = [int(sum(counts[name].get((definition,), []))) for name in counts]
        out.append(f"  {definition:<28}" + "".join(f"{n:>10}" for n in row))
    out.append("\nstep latency, ms (activation to answer)     n      p50      p95      p99")
    for (definition, step), latencies in sorted(values(documents, "StepLatency", "definition", "step").items()):
        ordered = sorted(latencies)
        figures = "".join(f"{percentile(ordered, p):>9.0f}" for p in (50, 95, 99))
        out.append(f"  {definition + ' / ' + step:<40}{len(ordered):>5}{figures}")
    out.append("\ntransition latency, ms (by consumer)        n      p50      p95      p99")
    for (service,), latencies in sorted(values(documents, "TransitionLatency", "service").items()):
        ordered = sorted(latencies)
        figures = "".join(f"{percentile(ordered, p):>9.1f}" for p in (50, 95, 99))
        out.append(f"  {service:<40}{len(ordered):>5}{figures}")
    out.append("\nfailures and absorptions")
    for name in ("MessagesFailed", "MessagesRejected", "VersionConflicts", "DuplicatesAbsorbed", "ActivationsOverdue"):
        by_service = {k[0]: int(sum(v)) for k, v in values(documents, name, "service").items() if sum(v)}
        shown = ", ".join(f"{s.removeprefix('journeys-')} {n}" for s, n in sorted(by_service.items())) or "none"
        out.append(f"  {name:<20} {shown}")
    out.append("\ncost, list-price USD (by definition)")
    for (definition,), costs in sorted(values(documents, "TransitionCost", "definition").items()):
        out.append(f"  {definition:<28} ${sum(costs):.8f} over {len(costs)} transitions")
    return "\n".join(out)
