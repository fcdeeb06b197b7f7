"""The definitions a process knows, by id and version."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from router.definition import Definition

DEFINITIONS_DIR = Path(__file__).resolve().parent.parent / "definitions"


class UnknownDefinition(LookupError):
    pass


class Registry:
    def __init__(self, definitions: Iterable[Definition]) -> None:
        self._by_id: dict[str, dict[str, Definition]] = {}
        for definition in definitions:
            self._by_id.setdefault(definition.id, {})[definition.version] = definition

    @classmethod
    def from_directory(cls, directory: Path = DEFINITIONS_DIR, known_workers: set[str] | None = None) -> Registry:
        from router.loader import load_all  # YAML and schema checks: loaded only by processes that load definitions

        return cls(load_all(sorted(directory.glob("*.yaml")), known_workers))

    def get(self, definition_id: str, version: str | None = None) -> Definition:
        versions = self._by_id.get(definition_id)
        if not versions:
            raise UnknownDefinition(f"unknown definition {definition_id!r}")
        if version is None:
            return versions[max(versions, key=_version_key)]
        if version not in versions:
            raise UnknownDefinition(f"definition {definition_id!r} has no version {version!r}")
        return versions[version]

    def for_trigger(self, source: str, detail_type: str) -> list[Definition]:
        latest = [self.get(i) for i in self._by_id]
        return [d for d in latest if any(t.source == source and t.detail_type == detail_type for t in d.triggers)]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (self.get(i) for i in sorted(self._by_id))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))
