"""A definition drawn as a Mermaid flowchart, optionally with a journey's position and path."""

from __future__ import annotations

from router.language.definition import DecisionStep, Definition, ParallelStep, Step, StepType, TaskStep, successors

_SHAPES = {
    StepType.DECISION: ("{", "}"),
    StepType.SUCCESS: ("([", "])"),
    StepType.FAIL: ("([", "])"),
    StepType.INPUT: ("[/", "/]"),
    StepType.WAIT: ("((", "))"),
    StepType.APPROVAL: ("{{", "}}"),
}


def _node(name: str) -> str:
    return name.replace("-", "_")


def step_edges(step: Step) -> list[tuple[str, str]]:
    """Where a step can go next, with the edge's label: a decision's condition, "default", or none."""
    if isinstance(step, DecisionStep):
        return [(b.goto, b.when) for b in step.branches] + [(step.default, "default")]
    if isinstance(step, TaskStep):
        return [(step.next, "")] + [(c.next, f"catch {', '.join(c.errors)}") for c in step.catch]
    return [(target, "") for target in successors(step)]


def edges(definition: Definition) -> list[list[str]]:
    return [[step.name, target, label] for step in definition.steps for target, label in step_edges(step)]


def mermaid(definition: Definition, current: str | None = None, path: list[str] | None = None) -> str:
    lines = ["flowchart TD", f"  start(( )) --> {_node(definition.start_at)}"]
    for step in definition.steps:
        left, right = _SHAPES.get(step.type, ("[", "]"))
        label = f"{step.name}<br/><small>{step.type.value}</small>"
        lines.append(f'  {_node(step.name)}{left}"{label}"{right}')
        if isinstance(step, ParallelStep):
            for branch in step.branches:
                lines.append(f'  {_node(step.name)} -.-> {_node(step.name)}__{_node(branch.name)}["{branch.worker}"]')
        out = step_edges(step)
        for target, label in out:
            arrow = "-->" if not label else f'-->|"{label}"|' if label != "default" else "-->|default|"
            lines.append(f"  {_node(step.name)} {arrow} {_node(target)}")
    for name in dict.fromkeys(path or []):
        lines.append(f"  class {_node(name)} taken")
    if current:
        lines.append(f"  class {_node(current)} current")
    lines += [
        "  classDef taken fill:#dbeafe,stroke:#1d4ed8",
        "  classDef current fill:#fde68a,stroke:#b45309,stroke-width:3px",
    ]
    return "\n".join(lines)
