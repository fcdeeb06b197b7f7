"""Files the local stack writes that hold its secrets are its owner's alone: 0600, in a 0700 directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cli.connect import local_value, write_local, write_private
from consumers.runtime import Settings

SETTINGS = Settings.from_env({"JOURNEYS_TABLE": "journeys", "ADVANCE_QUEUE_URL": "http://q", "AWS_REGION": "eu-west-1"})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> object:
    """The most permissive umask: a mode that holds here holds whatever the user's umask is."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_the_token_secret_is_written_0600_in_a_0700_directory(tmp_path: Path, open_umask: object) -> None:
    local = tmp_path / ".journeys" / "local.json"
    write_local(SETTINGS, local, API_URL="http://127.0.0.1:1", TOKEN_SECRET="s3cret-of-the-stack")
    assert mode(local) == 0o600 and mode(local.parent) == 0o700
    assert local_value("TOKEN_SECRET", local) == "s3cret-of-the-stack"


def test_a_world_readable_file_left_by_an_older_version_is_made_private(tmp_path: Path, open_umask: object) -> None:
    """`journeys up` rewrites the file each run: an old 0644 file and 0755 directory are narrowed, not kept."""
    directory = tmp_path / ".journeys"
    directory.mkdir(mode=0o755)
    local = directory / "local.json"
    local.write_text(json.dumps({"TOKEN_SECRET": "old"}))
    local.chmod(0o644)
    write_local(SETTINGS, local, TOKEN_SECRET="new")
    assert mode(local) == 0o600 and mode(directory) == 0o700
    assert json.loads(local.read_text())["TOKEN_SECRET"] == "new"


def test_the_metrics_file_is_private_too(tmp_path: Path, open_umask: object) -> None:
    """metrics.jsonl (journey ids and outcomes, beside the secret) is created 0600 and emptied each run."""
    metrics = tmp_path / ".journeys" / "metrics.jsonl"
    write_private(metrics, "old line\n")
    write_private(metrics, "")
    assert mode(metrics) == 0o600 and metrics.read_text() == ""
