"""The definitions in a directory, YAML files and Python modules alike, loaded with every problem at once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from router.language.definition import Definition
from router.language.dsl import load_module
from router.language.loader import DefinitionError, load_file


def definition_files(directory: Path) -> list[Path]:
    """The definitions in a directory: YAML files and Python modules declaring @workflow journeys."""
    python = [p for p in directory.glob("*.py") if not p.name.startswith("_")]
    return sorted([*directory.glob("*.yaml"), *python])


def load_all(paths: Iterable[Path], known_workers: set[str] | None = None) -> list[Definition]:
    """Load every file (YAML, or Python declaring @workflow journeys), raising one DefinitionError with all problems."""
    definitions, problems = [], []
    for path in paths:
        try:
            if path.suffix == ".py":
                definitions += load_module(path, known_workers)
            else:
                definitions.append(load_file(path, known_workers))
        except DefinitionError as exc:
            problems += exc.problems
    if problems:
        raise DefinitionError(problems)
    return definitions
