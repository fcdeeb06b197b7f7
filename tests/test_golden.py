"""tests/golden.py itself: a changed outcome fails with the place it changed, and nothing is written unasked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import golden


@pytest.fixture
def goldens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(golden, "GOLDEN", tmp_path)
    monkeypatch.setattr(golden, "UPDATE", False)
    return tmp_path


def _write(directory: Path, name: str, log: list[dict[str, object]]) -> None:
    (directory / f"{name}.json").write_text(json.dumps(log))


LOG = [{"at": 1.0, "commit": {"record": {"step_result": "started", "entered": ["a", "b"]}}}]


def test_an_unchanged_log_passes(goldens: Path) -> None:
    _write(goldens, "same", LOG)
    golden.check("same", json.loads(json.dumps(LOG)))


def test_a_changed_value_fails_naming_the_outcome_the_path_and_both_values(goldens: Path) -> None:
    _write(goldens, "changed", LOG)
    changed = [{"at": 1.0, "commit": {"record": {"step_result": "started", "entered": ["a", "c"]}}}]
    with pytest.raises(AssertionError) as failure:
        golden.check("changed", changed)
    assert "changed: outcome 0 differs from the golden file at .commit.record.entered[1]: golden 'b', now 'c'" in str(
        failure.value
    )


def test_a_missing_or_extra_field_and_a_different_number_of_outcomes_fail(goldens: Path) -> None:
    _write(goldens, "shape", LOG)
    extra = [{"at": 1.0, "commit": {"record": {"step_result": "started", "entered": ["a", "b"], "new": 1}}}]
    with pytest.raises(AssertionError, match=r"\.commit\.record\.new: golden '<absent>', now 1"):
        golden.check("shape", extra)
    with pytest.raises(AssertionError, match="shape: 2 outcomes, the golden file has 1"):
        golden.check("shape", LOG + LOG)


def test_a_missing_golden_file_fails_and_is_not_created_by_a_plain_run(goldens: Path) -> None:
    with pytest.raises(AssertionError, match="JOURNEYS_UPDATE_GOLDEN=1"):
        golden.check("absent", LOG)
    assert not (goldens / "absent.json").exists()


def test_an_update_run_rewrites_the_file_with_what_the_code_decides_now(
    goldens: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(goldens, "old", [{"at": 0.0}])
    monkeypatch.setattr(golden, "UPDATE", True)
    golden.check("old", LOG)
    assert json.loads((goldens / "old.json").read_text()) == LOG
