"""What a customer is told about a step, in their language.

A step's `label` in its definition is the source text. Translations live in one catalogue per
locale (definitions/labels/<locale>.yaml), keyed `definition-id.step-name`; a step a catalogue
does not translate falls back to the source text, so a new step never shows blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from router.language.definition import Definition

LABELS_DIR = Path(__file__).resolve().parents[2] / "definitions" / "labels"

Catalogues = Mapping[str, Mapping[str, str]]  # locale -> key -> text


def load_catalogues(directory: Path = LABELS_DIR) -> dict[str, dict[str, str]]:
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) or {} for path in sorted(directory.glob("*.yaml"))
    }


def key(definition: Definition, step: str) -> str:
    return f"{definition.id}.{step}"


def label(
    definition: Definition, step: str, locale: str | None = None, catalogues: Catalogues | None = None
) -> str | None:
    """The step's label in `locale` (a language such as "fr", or a regional "fr-BE" falling back to "fr")."""
    for candidate in (locale, locale.split("-")[0]) if locale else ():
        text = (catalogues or {}).get(candidate, {}).get(key(definition, step))
        if text:
            return text
    return definition.step(step).label


def orphans(definitions: Iterable[Definition], catalogues: Catalogues) -> list[str]:
    """Catalogue entries that name no labelled step: a renamed step would otherwise lose its translation silently."""
    known = {key(d, s.name) for d in definitions for s in d.steps if s.label}
    return [f"{locale}: {k}" for locale, texts in catalogues.items() for k in texts if k not in known]
