"""A local stack whose template routes extra worker names to the sample work queue (tests' own workers)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from devstack.provision import DEFAULT_TEMPLATE

_ANCHOR = '{"validate-application": "${SampleWorkQueue}",'
_BREAKERS = """CIRCUIT_BREAKERS: '{"release-payment": {}}'"""


def template_with_workers(
    directory: Path, names: Iterable[str], breakers: dict[str, dict[str, float]] | None = None
) -> Path:
    """A copy of infra/ whose WORKER_QUEUES also sends `names` to SampleWorkQueue, as a new worker's entry would;
    `breakers` replaces CIRCUIT_BREAKERS."""
    target = directory / "infra"
    shutil.copytree(DEFAULT_TEMPLATE.parent, target)
    path = target / "template.yaml"
    text = path.read_text()
    assert _ANCHOR in text, "WORKER_QUEUES changed shape: update tests/routing.py"
    extra = "".join(f' "{name}": "${{SampleWorkQueue}}",' for name in names)
    text = text.replace(_ANCHOR, _ANCHOR + extra, 1)
    if breakers is not None:
        assert _BREAKERS in text, "CIRCUIT_BREAKERS changed shape: update tests/routing.py"
        text = text.replace(_BREAKERS, f"CIRCUIT_BREAKERS: '{json.dumps(breakers)}'", 1)
    path.write_text(text)
    return path
