"""Step Functions state transitions and modelled cost per approval, measured on the emulator.

    python -m bench.approvals [--levels 2] [--runs 5]

Each shape runs the real ASL (infra/statemachines/approval.asl.json) with its one token answered
directly, as the approvals function answers it once the desk has the outcome: granted (every level
approved), rejected, lapsed (a level nobody decided, found by the watchdog), and the chain's own
backstop timer running out (a 1 s timeout here). The levels between are the desk's DynamoDB tickets,
not state transitions. Transitions are counted from each execution's history
(`get_execution_history`: every *StateEntered event is one billed state transition), and the latency
is from the answer to the outcome on the advance queue.

Price: router/core/prices.py's, $0.025 per 1,000 state transitions for Standard workflows (AWS Step Functions
pricing page, US East (N. Virginia); the first 4,000 a month are free and are ignored here).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import boto3

from bench.machine import stamp
from devstack.approval_chain import approval_machine, receive, states_entered
from devstack.emulator import CREDENTIALS, Emulator
from router.core.prices import PRICE_SOURCE, PRICES

PRICE_PER_TRANSITION = PRICES["states_transition"]  # USD, Standard workflows (router/core/prices.py)
RESULTS = Path(__file__).parent / "results"
OUTCOMES = {"granted": "granted", "rejected": "rejected", "lapsed": "expired", "backstop": "expired"}


class Bench:
    def __init__(self, emulator: Emulator) -> None:
        session = boto3.Session(**CREDENTIALS)
        self.sqs = session.client("sqs", endpoint_url=emulator.url)
        self.sfn = session.client("stepfunctions", endpoint_url=emulator.url)
        self.tickets = self.sqs.create_queue(QueueName="bench-approval")["QueueUrl"]
        self.advance = self.sqs.create_queue(QueueName="bench-advance")["QueueUrl"]
        self.machine = approval_machine(self.sfn, self.tickets, self.advance, name="bench-approval")
        self.runs = 0

    def run(self, levels: int, shape: str) -> tuple[int, float, str]:
        """One approval of `levels` levels; (transitions, seconds from the answer to the outcome, outcome)."""
        self.runs += 1
        chain = [{"level": n, "role": f"role-{n}", "limit": None, "timeout_seconds": 300} for n in range(1, 1 + levels)]
        document = {"journey_id": "bench", "activation_id": f"bench-{self.runs}", "step": "approve"}
        document |= {"levels": chain, "amount": 100.0, "initiator": "maker"}
        document["timeout_seconds"] = 1 if shape == "backstop" else 60
        execution = self.sfn.start_execution(
            stateMachineArn=self.machine, name=f"bench-{self.runs}", input=json.dumps(document)
        )["executionArn"]
        ticket = receive(self.sqs, self.tickets)
        assert ticket is not None, "the chain put no ticket on the queue"
        assert [level["level"] for level in ticket["levels"]] == list(range(1, 1 + levels))
        approved = [f"approver-{n}" for n in range(1, 1 + levels)]
        answers = {
            "granted": {"outcome": "granted", "approvers": approved, "rejected_by": None, "reason": None},
            "rejected": {"outcome": "rejected", "approvers": approved[:-1], "rejected_by": "checker", "reason": "x"},
            "lapsed": {"outcome": "expired", "approvers": approved[:-1], "rejected_by": None, "reason": "late"},
        }
        answered = time.perf_counter()
        if shape in answers:
            self.sfn.send_task_success(taskToken=ticket["task_token"], output=json.dumps(answers[shape]))
        outcome = receive(self.sqs, self.advance, timeout=30)
        latency = time.perf_counter() - answered
        assert outcome is not None, "no outcome"
        _wait_done(self.sfn, execution)
        return len(states_entered(self.sfn, execution)), latency, str(outcome["outcome"])


def _wait_done(sfn: Any, execution: str) -> None:
    for _ in range(100):
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    emulator = Emulator().start()
    try:
        bench = Bench(emulator)
        figures = {}
        for shape in ("granted", "rejected", "lapsed", "backstop"):
            runs = [bench.run(args.levels, shape) for _ in range(args.runs if shape != "backstop" else 1)]
            transitions = {t for t, _, _ in runs}
            if len(transitions) != 1 or {o for _, _, o in runs} != {OUTCOMES[shape]}:
                raise RuntimeError(f"{shape}: runs disagree: {runs}")
            count = transitions.pop()
            figures[shape] = {
                "transitions": count,
                "cost_usd": count * PRICE_PER_TRANSITION,
                "cost_per_million_usd": round(count * PRICE_PER_TRANSITION * 1_000_000, 2),
                # backstop: from the ticket to the outcome, the chain's 1 s timeout included
                "to_outcome_ms": round(statistics.median(r[1] for r in runs) * 1000, 1),
            }
    finally:
        emulator.stop()
    report = {
        **stamp(),
        "levels": args.levels,
        "price_per_1000_transitions_usd": PRICE_PER_TRANSITION * 1000,
        "price_source": PRICE_SOURCE,
        "shapes": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "approvals.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"approval chain of {args.levels} levels on the emulator (Standard workflow, "
        f"${PRICE_PER_TRANSITION * 1000:g} per 1,000 transitions):"
    )
    for shape, figure in figures.items():
        print(
            f"  {shape:<9} {figure['transitions']:>2} state transitions  ${figure['cost_usd']:.6f} per approval "
            f"(${figure['cost_per_million_usd']:,.2f} per million)  "
            + ("outcome after the 1 s timer" if shape == "backstop" else "answer -> outcome")
            + f" {figure['to_outcome_ms']} ms"
        )
    print("  (the same for any number of levels: the desk opens each next level in DynamoDB under the one token)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
