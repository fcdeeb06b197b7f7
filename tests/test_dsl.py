"""The Python DSL and fragments: declared differently, validated the same way, run the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.core.model import ActivationKind, InputSubmitted, StartJourney, StepSucceeded
from router.language.dsl import decision, init, load_module, success, task, workflow
from router.language.files import definition_files, load_all
from router.language.loader import DefinitionError, load_file, parse
from router.language.registry import DEFINITIONS_DIR, Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from workers.samples import SAMPLES

YAML, PYTHON = DEFINITIONS_DIR / "kyc-uplift.yaml", DEFINITIONS_DIR / "kyc_uplift.py"
DETAILS = {
    "full_name": "Ada Lovelace",
    "date_of_birth": "1990-12-10",
    "address": {"line1": "1 St James's Square", "postcode": "SW1Y", "country": "GB"},
    "documents": {"document_type": "passport", "document_number": "AB123456"},
}


def test_python_twin_declares_the_identical_model() -> None:
    """kyc_uplift.py and kyc-uplift.yaml load to equal definitions with equal content hashes."""
    (from_python,) = load_module(PYTHON, SAMPLES.names())
    from_yaml = load_file(YAML, SAMPLES.names())
    assert from_python == from_yaml
    assert from_python.content_hash == from_yaml.content_hash


def _run(definition_file: Path) -> MemoryStore:
    """Drive kyc-uplift to its end on the in-memory router, answering as the sample workers would."""
    store, ticks = MemoryStore(), iter(range(1000, 2000))
    router = Router(Registry(load_all([definition_file])), store, MemoryDispatcher(), lambda: float(next(ticks)))
    start = {"customer_id": "CUST-000042", "full_name": "Ada Lovelace", "email": "ada@example.com"}
    router.handle(StartJourney(journey_id="j-1", definition_id="kyc-uplift", input=start))
    outputs = {"kyc": {"kyc": {"result": "CLEAR"}}, "notify-customer": {"notified": True}}
    while store.journeys["j-1"].open:
        (activation,) = store.journeys["j-1"].open.values()
        if activation.kind is ActivationKind.INPUT:
            router.handle(InputSubmitted(journey_id="j-1", activation_id=activation.id, data=DETAILS))
        else:
            output = outputs[activation.worker or ""]
            router.handle(StepSucceeded(journey_id="j-1", activation_id=activation.id, output=output, actor="w"))
    return store


def test_python_twin_runs_exactly_like_the_yaml() -> None:
    """The same events through either declaration commit the same transitions and end the same way."""
    from_yaml, from_python = _run(YAML), _run(PYTHON)
    assert from_python.records == from_yaml.records
    assert from_python.journeys == from_yaml.journeys
    assert from_yaml.journeys["j-1"].path[-1] == "details-updated"


def test_cli_lists_python_definitions_beside_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    """`journeys definitions` shows the Python twin with the YAML's hash."""
    from cli.main import main

    assert main(["definitions"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    kyc = {line[-1]: line[2] for line in lines if line[0] == "kyc-uplift"}
    assert kyc.keys() == {"kyc-uplift.yaml", "kyc_uplift.py"} and len(set(kyc.values())) == 1


def test_python_mistakes_are_reported_at_their_file_and_line() -> None:
    """The DSL is validated by the YAML rules: an unknown worker, a dangling goto, a decision given a next."""

    @workflow(id="broken", version="1", owning_domain="bank-core")
    def broken() -> None:
        check = task("check", worker="nobody", sla_seconds=5)  # line A
        route = decision("route", branches=[("ok", "done")], default="missing")  # line B
        done = success("done")
        init >> check >> route >> done

    with pytest.raises(DefinitionError) as caught:
        broken.definition(SAMPLES.names())
    here = Path(__file__).read_text().splitlines()
    line_a = next(i for i, text in enumerate(here, 1) if text.endswith("# line A"))
    messages = {str(p) for p in caught.value.problems}
    assert f"{__file__}:{line_a}: step 'check': unknown worker 'nobody'" in messages
    assert f"{__file__}:{line_a + 1}: step 'route': a DECISION step has no `next` to link" in messages
    assert f"{__file__}:{line_a + 1}: step 'route': next/goto names undefined step 'missing'" in messages


def test_a_python_definition_that_does_not_run_is_a_problem_at_its_line(tmp_path: Path) -> None:
    """A SyntaxError or NameError in definitions/*.py is reported like any definition mistake, not as a traceback."""
    (tmp_path / "typo.py").write_text("from router.language.dsl import workflow\n\ndef broken(:\n    pass\n")
    (tmp_path / "undefined.py").write_text("from router.language.dsl import workflow\n\n\nstep = taks('x')\n")
    with pytest.raises(DefinitionError) as caught:
        load_all(definition_files(tmp_path))
    assert [(p.file, p.line) for p in caught.value.problems] == [
        (str(tmp_path / "typo.py"), 3),
        (str(tmp_path / "undefined.py"), 4),
    ]
    assert caught.value.problems[0].message.startswith("SyntaxError: ")
    assert caught.value.problems[1].message == "NameError: name 'taks' is not defined"


FRAGMENT_USER = """id: user
version: "1"
owning_domain: bank-core
start_at: first
steps:
  - {name: first, type: TASK, worker: kyc, sla_seconds: 5, next: verify-identity}
  - include: fragments/checks.yaml
  - {name: done, type: SUCCESS}
"""


def test_fragment_steps_are_included_where_they_are_used(tmp_path: Path) -> None:
    """The samples that include fragments/identity-check.yaml load with its step in place."""
    definitions = {d.id: d for d in load_all(sorted(DEFINITIONS_DIR.glob("*.yaml")), SAMPLES.names())}
    for journey in ("account-opening", "credit-application"):
        assert "include" in (DEFINITIONS_DIR / f"{journey}.yaml").read_text()
        assert definitions[journey].step("verify-identity").worker == "kyc"  # type: ignore[union-attr]


def test_a_fragment_error_is_reported_at_its_line_and_at_the_include(tmp_path: Path) -> None:
    """A bad step in a fragment names the fragment's file:line and the including definition's file:line."""
    (tmp_path / "fragments").mkdir()
    (tmp_path / "fragments" / "checks.yaml").write_text(
        "# shared checks\n"
        "- {name: verify-identity, type: TASK, worker: kyc, sla_seconds: 5, next: after}\n"
        "- {name: after, type: TASK, worker: kyc, next: done}\n"
    )
    user = tmp_path / "user.yaml"
    user.write_text(FRAGMENT_USER)
    with pytest.raises(DefinitionError) as caught:
        load_file(user, SAMPLES.names())
    (problem,) = caught.value.problems
    assert str(problem) == (
        f"{tmp_path}/fragments/checks.yaml:3: 1.sla_seconds: Field required (included from {user}:7)"
    )


def test_a_fragment_is_validated_in_each_including_definition(tmp_path: Path) -> None:
    """A fragment's step pointing at a step the includer lacks is an error there, at the include."""
    (tmp_path / "fragments").mkdir()
    (tmp_path / "fragments" / "checks.yaml").write_text(
        "- {name: verify-identity, type: TASK, worker: kyc, sla_seconds: 5, next: outcome}\n"
    )
    with pytest.raises(DefinitionError) as caught:
        parse(FRAGMENT_USER, str(tmp_path / "user.yaml"), SAMPLES.names())
    assert (
        f"{tmp_path}/fragments/checks.yaml:1: step 'verify-identity': next/goto names undefined step 'outcome' "
        f"(included from {tmp_path}/user.yaml:7)" in {str(p) for p in caught.value.problems}
    )


def test_a_missing_fragment_is_reported_at_the_include(tmp_path: Path) -> None:
    """An include naming no file fails at the including line."""
    with pytest.raises(DefinitionError) as caught:
        parse(FRAGMENT_USER, str(tmp_path / "user.yaml"))
    assert any(str(p).startswith(f"{tmp_path}/user.yaml:7: include: cannot read") for p in caught.value.problems)


def test_labels_translate_with_a_fallback_to_the_definitions_text() -> None:
    """A catalogue translates a step's label; an untranslated locale or step shows the definition's own label."""
    from router.language.labels import label, load_catalogues, orphans

    catalogues = load_catalogues()
    kyc = load_file(YAML)
    assert label(kyc, "verify-identity", "fr", catalogues) == "Vérification de vos coordonnées"
    assert label(kyc, "verify-identity", "fr-BE", catalogues) == "Vérification de vos coordonnées"
    assert label(kyc, "verify-identity", "de", catalogues) == "Verifying your details"
    assert label(kyc, "verify-identity") == "Verifying your details"
    assert orphans(Registry.from_directory(), catalogues) == []
    assert orphans([kyc], {"fr": {"kyc-uplift.gone": "x"}}) == ["fr: kyc-uplift.gone"]


SCHEDULED = """id: nightly
version: "1"
owning_domain: bank-core
schedule: "rate(1 day)"
input_schema: {type: object, required: [customer_id]}
triggers: [{source: bank.x, detail_type: y}]
start_at: done
steps:
  - {name: done, type: SUCCESS}
"""


def test_a_scheduled_journey_takes_no_input_and_no_triggers() -> None:
    """A SYSTEM journey starts from its schedule alone: a required input or a trigger beside it is an error."""
    with pytest.raises(DefinitionError) as caught:
        parse(SCHEDULED, "nightly.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "nightly.yaml:4: schedule: a journey has a schedule or triggers, not both",
        "nightly.yaml:4: schedule: a scheduled journey starts with no input, so its input_schema must accept {}",
    ]
    with pytest.raises(DefinitionError, match=r"nightly.yaml:4: schedule: .*'every night' is not an EventBridge"):
        parse(SCHEDULED.replace("rate(1 day)", "every night"), "nightly.yaml")
    fine = parse(
        SCHEDULED.replace("required: [customer_id]", "").replace("triggers: [{source: bank.x, detail_type: y}]\n", "")
    )
    assert fine.schedule == "rate(1 day)"


def schedulable() -> str:
    """SCHEDULED made valid: no required input, no triggers."""
    without_triggers = SCHEDULED.replace("triggers: [{source: bank.x, detail_type: y}]\n", "")
    return without_triggers.replace("required: [customer_id]", "")


@pytest.mark.parametrize("schedule", ["rate(1 minutes)", "rate(5 minute)", "rate(0 days)", "rate(01 hours)"])
def test_a_schedule_eventbridge_refuses_is_refused_at_load_with_its_line(schedule: str) -> None:
    """EventBridge takes the singular unit for 1 only; the loader says so at the file and line, not the deploy."""
    text = schedulable()
    with pytest.raises(DefinitionError) as caught:
        parse(text.replace("rate(1 day)", schedule), "nightly.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"nightly.yaml:4: schedule: Value error, {schedule!r} is not an EventBridge schedule: rate(1 minute|hour|day), "
        "rate(N minutes|hours|days) with N of 2 or more, or cron(...)"
    ]


@pytest.mark.parametrize(
    "schedule", ["rate(1 minute)", "rate(1 day)", "rate(2 hours)", "rate(15 minutes)", "cron(0 3 * * ? *)"]
)
def test_a_schedule_eventbridge_takes_loads(schedule: str) -> None:
    text = schedulable()
    assert parse(text.replace("rate(1 day)", schedule)).schedule == schedule
