"""Published definitions: each (id, version) holds one content hash, forever."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from router.language.definition import Definition
from router.language.files import definition_files, load_all
from router.language.registry import DEFINITIONS_DIR, Registry, UnknownDefinition


class DefinitionConflict(ValueError):
    """Different content was published under a version that already exists."""

    def __init__(self, published: Definition, offered: Definition) -> None:
        self.published, self.offered = published, offered
        super().__init__(
            f"{offered.id} {offered.version} is already published with hash {published.content_hash}; "
            f"this content hashes to {offered.content_hash}: publish it under a new version"
        )


class Published(StrEnum):
    PUBLISHED = "published"
    UNCHANGED = "unchanged"  # the same content was there already


class DefinitionStore(Protocol):
    def put(self, definition: Definition) -> Published:
        """Store the definition unless its (id, version) exists; DefinitionConflict if that one differs."""
        ...

    def get(self, definition_id: str, version: str) -> Definition | None: ...


def publish(store: DefinitionStore, definitions: Iterable[Definition]) -> list[tuple[Definition, Published]]:
    """Publish each definition; the first conflict stops the run (earlier ones stay published: each is final)."""
    return [(definition, store.put(definition)) for definition in definitions]


class PublishedRegistry(Registry):
    """The deployed files first; a journey pinned to a version they no longer hold is run from its published copy.

    A version found nowhere is an explicit UnknownDefinition, never the newest one instead. A published copy,
    once read, is kept: an (id, version)'s content never changes. A miss is asked again (it may be published later).
    """

    def __init__(self, deployed: Iterable[Definition], store: DefinitionStore) -> None:
        super().__init__(deployed)
        self.store = store
        self._published: dict[tuple[str, str], Definition] = {}

    @classmethod
    def deployed_and_published(
        cls, store: DefinitionStore, directory: Path = DEFINITIONS_DIR, known_workers: set[str] | None = None
    ) -> PublishedRegistry:
        return cls(load_all(definition_files(directory), known_workers), store)

    def get(self, definition_id: str, version: str | None = None) -> Definition:
        try:
            return super().get(definition_id, version)
        except UnknownDefinition:
            if version is None:
                raise
        if (definition_id, version) in self._published:
            return self._published[definition_id, version]
        published = self.store.get(definition_id, version)
        if published is None:
            raise UnknownDefinition(f"definition {definition_id!r} {version} is neither deployed nor published")
        self._published[definition_id, version] = published
        return published
