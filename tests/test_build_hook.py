"""FR-293: the build refuses a bad definition, naming every problem (`make definitions-check`, run by sam-build)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from router.language.loader import DefinitionError, parse
from workers.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[1]

# A TASK without its SLA whose `next` names no step: two problems in one step.
BAD = """\
id: bad-journey
version: "1.0.0"
owning_domain: bank-core
start_at: check
steps:
  - name: check
    type: TASK
    worker: kyc
    next: nowhere
  - name: done
    type: SUCCESS
"""
MISSING_SLA = "bad.yaml:6: steps.0.sla_seconds: Field required"
UNDEFINED_NEXT = "bad.yaml:6: step 'check': next/goto names undefined step 'nowhere'"


def test_a_step_missing_its_sla_still_has_its_links_checked() -> None:
    """A step that fails validation (no SLA) is still checked for an undefined `next`: both are reported."""
    with pytest.raises(DefinitionError) as raised:
        parse(BAD, "bad.yaml", SAMPLES.names())
    reported = [str(p) for p in raised.value.problems]
    assert MISSING_SLA in reported
    assert UNDEFINED_NEXT in reported


def test_an_invalid_step_with_good_links_reports_only_its_own_problem() -> None:
    """The link check on an invalid step adds nothing when its `next` exists (no invented problems)."""
    with pytest.raises(DefinitionError) as raised:
        parse(BAD.replace("next: nowhere", "next: done"), "bad.yaml", SAMPLES.names())
    assert [str(p) for p in raised.value.problems] == [MISSING_SLA]


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607


def test_the_build_hook_fails_on_a_bad_definition_naming_both_problems(tmp_path: Path) -> None:
    """`make definitions-check` (sam-build's first step) exits non-zero and prints both problems with their line."""
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = _make("definitions-check", f"DEFINITIONS={tmp_path}")
    assert result.returncode != 0
    assert f"{tmp_path}/{MISSING_SLA}" in result.stdout + result.stderr
    assert f"{tmp_path}/{UNDEFINED_NEXT}" in result.stdout + result.stderr


def test_the_build_hook_passes_the_shipped_definitions() -> None:
    """The definitions in the repository build: the hook does not refuse good input."""
    result = _make("definitions-check")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert rows["payment-approval"] == "ok" and set(rows.values()) == {"ok"}


def test_sam_build_checks_the_definitions_before_anything_else() -> None:
    """sam-build's first command is the definitions check, so a bad definition stops the build before sam runs."""
    result = _make("-n", "sam-build", "PYTHON312=python3")
    commands = [line for line in result.stdout.splitlines() if line.strip()]
    assert commands, result.stderr
    assert "journeys validate definitions" in commands[0]
