"""The command line as people use it: one-line errors with exit codes, tables and JSON, checked interventions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cli.connect
from cli.client import JourneysClient
from cli.connect import write_local
from cli.main import main
from cli.output import iso, relative, table
from cli.preflight import missing_inputs
from devstack.emulator import Emulator
from devstack.run import EUR_PAYMENT
from devstack.stack import LocalStack
from reliability.instruments import inbox_ticket, settled
from router.language.registry import Registry
from workers.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[1]
JOURNEYS = [sys.executable, "-m", "cli.main"]

BROKEN = """\
id: broken
version: "1"
owning_domain: bank-core
input_schema: {type: object}
start_at: check
steps:
  - name: check
    type: TASK
    worker: kyc
    next: nowhere
  - name: done
    type: SUCCESS
"""


def run(*args: str, local: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`journeys ARGS` in a process of its own, as a person runs it (a traceback would reach its stderr)."""
    env = {"PATH": "/usr/bin:/bin", "JOURNEYS_LOCAL_FILE": str(local or ROOT / "missing" / "local.json")}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [*JOURNEYS, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False
    )


@pytest.fixture
def stack_down(tmp_path: Path) -> Path:
    """A local.json naming a stack that is not running: nothing listens on port 1."""
    local = tmp_path / "local.json"
    endpoint = "http://127.0.0.1:1"
    settings = {"JOURNEYS_TABLE": "journeys", "ADVANCE_QUEUE_URL": f"{endpoint}/q", "AWS_ENDPOINT_URL": endpoint}
    local.write_text(
        json.dumps(settings | {"AWS_REGION": "eu-west-1", "TICKETS_TABLE": "t", "APPROVAL_QUEUE_URL": "q"})
    )
    return local


# -- errors: one line, what to do, an exit code


def test_validate_reports_a_missing_sla_and_an_undefined_next_of_one_step_each_at_file_and_line(tmp_path, capsys):
    """Both problems of the one step are reported, each at file:line, with exit code 1."""
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:7: steps.0.sla_seconds: Field required" in err
    assert f"{path}:7: step 'check': next/goto names undefined step 'nowhere'" in err
    assert "Traceback" not in err


def test_a_missing_definition_path_is_one_line_naming_it(capsys):
    """No FileNotFoundError traceback: the path, and what to give instead."""
    assert main(["validate", "no/such/definition.yaml"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file or directory: no/such/definition.yaml" in err[0]


@pytest.mark.parametrize("command", [["list"], ["show", "j-1"], ["approvals"], ["costs"], ["list", "--json"]])
def test_with_the_stack_down_every_command_says_so_in_one_line_without_a_traceback(stack_down, command):
    """botocore's connection error becomes one line saying how to start the stack; exit code 1."""
    result = run(*command, local=stack_down)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("journeys: cannot reach the local stack") and "journeys up" in line


def test_debug_shows_the_traceback(stack_down):
    """--debug is for reporting a bug: the traceback is there."""
    result = run("--debug", "list", local=stack_down)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_without_a_stack_the_cli_says_how_to_start_one():
    result = run("list")
    assert result.returncode == 1 and "start one with `journeys up`" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_closed_pipe_ends_quietly():
    """`journeys asl ... | head`: the reader gone before the writing ends is no BrokenPipeError, nothing on
    stderr, and SIGPIPE's exit code (the read end is closed before the command writes, so it always happens)."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*JOURNEYS, "asl", "payment-approval"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (141, "")


def test_a_too_short_reason_is_refused_in_one_line_before_anything_is_read(capsys):
    """Not a pydantic dump: the option, and what to write."""
    with pytest.raises(SystemExit) as exited:
        main(["retry", "j-1", "--as", "ops-olga", "--reason", "x"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--reason: say why in a few words" in err
    assert "validation error" not in err and "pydantic" not in err


def test_skip_asks_for_the_output_the_step_would_have_produced(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["skip", "j-1", "--as", "ops-olga", "--reason", "done by hand"])
    assert exited.value.code == 2
    assert "--output" in capsys.readouterr().err


# -- what the checks find, without a stack


def test_a_step_whose_worker_arguments_are_not_in_the_state_is_named_with_what_is_missing():
    """goto open-account with no kyc in the state: the missing argument, by name."""
    definition = Registry.from_directory().get("account-opening")
    state = {"full_name": "Clara Clear", "email": "clara@example.com"}
    missing = missing_inputs(definition, "open-account", state, SAMPLES)
    assert missing and "kyc" in missing[0]
    assert missing_inputs(definition, "open-account", {**state, "kyc": {"result": "CLEAR"}}, SAMPLES) == []


def test_a_decision_none_of_whose_inputs_exist_is_refused():
    """A decision reading kyc.result when no kyc was ever produced would only fall through to its default."""
    definition = Registry.from_directory().get("kyc-uplift")
    assert missing_inputs(definition, "identity-outcome", {}, SAMPLES) == ["kyc.result (read by the decision)"]
    assert missing_inputs(definition, "identity-outcome", {"kyc": {"result": "REFER"}}, SAMPLES) == []


def test_tables_align_and_times_carry_their_zone():
    assert table(["id", "status"], [("a", "RUNNING"), ("bbbb", "SUCCEEDED")]).splitlines() == [
        "ID    STATUS",
        "a     RUNNING",
        "bbbb  SUCCEEDED",
    ]
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert relative(100 + 3 * 3600 + 5, 100) == "in 3 h"
    assert relative(100, 100 + 12 * 60) == "12 min ago"


# -- against a running stack


@pytest.fixture
def local(fresh_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JourneysClient]:
    """A running local stack, and the local.json `journeys up` would have written for it."""
    with LocalStack(fresh_emulator) as stack:
        path = tmp_path / "local.json"
        write_local(stack.settings(), path)
        monkeypatch.setattr(cli.connect, "LOCAL_FILE", path)
        yield JourneysClient(next(iter(stack.runtimes.values())))


def test_list_says_when_there_is_nothing_and_prints_a_table_or_json_when_there_is(local, capsys):
    """Empty: a sentence on stderr, no rows; --json: []; then a header and one row per journey."""
    assert main(["list"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "no journeys yet" in out.err
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    journey_id = local.start("kyc-uplift", {"customer_id": "CUST-000042", "full_name": "Kim", "email": "k@e.com"})
    settled(local, journey_id, lambda j: j.step == "request-details")
    assert main(["list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "DEFINITION", "VERSION", "STATUS", "STEP", "UPDATED"]
    assert row.split()[:5] == [journey_id, "kyc-uplift", "1.0.0", "RUNNING", "request-details"]
    assert main(["list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == journey_id and listed["created_at"].endswith("Z")

    assert main(["show", journey_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "RUNNING" and shown["timeline"] and shown["timeline"][0]["at"].endswith("Z")
    assert main(["show", "no-such-journey"]) == 1
    assert "there is no journey no-such-journey" in capsys.readouterr().err


def test_goto_a_step_whose_inputs_were_never_produced_is_refused_and_changes_nothing(local, capsys):
    """Not `TerminalError: 'kyc'` later: refused now, naming what is missing; the journey stays where it was."""
    journey_id = local.start("kyc-uplift", {"customer_id": "CUST-000042", "full_name": "Kim", "email": "k@e.com"})
    before = settled(local, journey_id, lambda j: j.step == "request-details")
    code = main(["goto", journey_id, "--step", "identity-outcome", "--as", "ops-olga", "--reason", "try the end"])
    err = capsys.readouterr().err
    assert (
        code == 1
        and "'identity-outcome' needs what the journey never produced: kyc.result" in err
        and "Traceback" not in err
    )
    assert local.get(journey_id).version == before.version
    assert main(["goto", journey_id, "--step", "nowhere", "--as", "ops-olga", "--reason", "typo"]) == 1
    assert "has no step 'nowhere'; its steps are" in capsys.readouterr().err


def test_the_approvals_inbox_shows_the_payments_currency_and_only_what_the_approver_may_decide(local, capsys):
    """EUR stays EUR with beneficiary and reference; a ticket over the officer's limit is not theirs to decide."""
    eur = local.start("payment-approval", EUR_PAYMENT)
    over = local.start("payment-approval", EUR_PAYMENT | {"payment_id": "PAY-BIG", "amount": 60000})
    for journey_id in (eur, over):
        inbox_ticket(local, journey_id, 1, timeout=30)

    assert main(["approvals", "--json"]) == 0
    everything = {t["journey_id"]: t for t in json.loads(capsys.readouterr().out)}
    assert everything.keys() == {eur, over}
    assert everything[eur]["currency"] == "EUR" and everything[eur]["reference"] == EUR_PAYMENT["reference"]
    assert everything[eur]["beneficiary"] == "Rheinmetall Zulieferer GmbH, DE89370400440532013000"

    assert main(["approvals", "--as", "officer-olivia", "--roles", "payments-officer"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert "AMOUNT" in header and "BENEFICIARY" in header
    assert "48,000.00 EUR" in row and "PO 2024-117, tooling" in row
    assert main(["approvals", "--as", "maker-mo", "--roles", "payments-officer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # the maker never sees their own payment to decide


def test_definitions_and_validate_print_json_for_scripts(capsys):
    """--json is parseable and names every definition, the Python twin included."""
    assert main(["definitions", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    twins = {("kyc-uplift", "kyc-uplift.yaml"), ("kyc-uplift", "kyc_uplift.py")}
    assert {(d["id"], d["file"]) for d in listed} >= twins
    assert main(["validate", "--json"]) == 0
    assert all(d["valid"] for d in json.loads(capsys.readouterr().out))


def test_an_unknown_definition_says_where_to_find_the_known_ones(capsys):
    assert main(["graph", "no-such-journey"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no-such-journey" in line and "`journeys definitions` lists the ones there are" in line
