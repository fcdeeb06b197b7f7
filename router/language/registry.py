"""The definitions a process knows, by id and version."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from router.language.definition import Definition

DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "definitions"


class UnknownDefinition(LookupError):
    pass


class Registry:
    def __init__(self, definitions: Iterable[Definition]) -> None:
        self._by_id: dict[str, dict[str, Definition]] = {}
        for definition in definitions:
            known = self._by_id.setdefault(definition.id, {}).setdefault(definition.version, definition)
            if known.content_hash != definition.content_hash:  # e.g. a YAML file and its Python twin disagree
                raise ValueError(f"{definition.id} {definition.version} is declared twice with different content")

    @classmethod
    def from_directory(cls, directory: Path = DEFINITIONS_DIR, known_workers: set[str] | None = None) -> Registry:
        from router.language.files import definition_files, load_all  # YAML and schema checks: only where loaded

        return cls(load_all(definition_files(directory), known_workers))

    def get(self, definition_id: str, version: str | None = None) -> Definition:
        versions = self._by_id.get(definition_id)
        if not versions:
            raise UnknownDefinition(f"unknown definition {definition_id!r}")
        if version is None:
            return versions[max(versions, key=_version_key)]
        if version not in versions:
            raise UnknownDefinition(f"definition {definition_id!r} has no version {version!r}")
        return versions[version]

    def __iter__(self) -> Iterator[Definition]:
        return (self.get(i) for i in sorted(self._by_id))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))
