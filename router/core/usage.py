"""What a transition cost: the AWS usage it caused and its price. Pure: the adapters measure, this adds up.

The usage of a transition is the router's own work for it: the load (and any commit that lost a version
race, re-read included), as measured with the capacity units DynamoDB returned; then the commit and the
sends of its actions, counted from the requests about to be made, because the journey item that records
them is that very commit (its write units from the item's size, by DynamoDB's rounding rule). Step Functions
state transitions of an approval chain are counted from its fixed shape on the transition that consumes its
outcome; a retry chain's are not counted (its failed attempts commit nothing to record them on).
"""

from __future__ import annotations

import math
from collections import Counter

from router.core.prices import PRICES
from router.language.definition import Model


class Usage(Model):
    calls: dict[str, int] = {}  # "dynamodb.PutItem" -> 1
    read_units: float = 0.0
    write_units: float = 0.0
    sfn_transitions: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=dict(Counter(self.calls) + Counter(other.calls)),
            read_units=self.read_units + other.read_units,
            write_units=self.write_units + other.write_units,
            sfn_transitions=self.sfn_transitions + other.sfn_transitions,
        )


# DynamoDB operations by the capacity they consume (the meter and bench/compare.py both sort calls by these).
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


def cost_by_service(usage: Usage) -> dict[str, float]:
    """The list price of `usage`, by service. Calls billed per request; Step Functions per state transition (its
    StartExecution is free); EventBridge per event entry, approximated by one per PutEvents call."""
    by_service = Counter[str]()
    for call, n in usage.calls.items():
        by_service[call.split(".", 1)[0]] += n
    return {
        "step_functions": usage.sfn_transitions * PRICES["states_transition"],
        "sqs": by_service["sqs"] * PRICES["sqs_request"],
        "sns": by_service["sns"] * PRICES["sns_request"],
        "dynamodb": usage.write_units * PRICES["dynamodb_wru"] + usage.read_units * PRICES["dynamodb_rru"],
        "eventbridge": by_service["events"] * PRICES["eventbridge_event"],
    }


def cost_usd(usage: Usage) -> float:
    """The list price of `usage` (cost_by_service, summed)."""
    return sum(cost_by_service(usage).values())


def write_units(item_bytes: int) -> float:
    """On-demand write request units for a standard write: one per started KB."""
    return float(max(1, math.ceil(item_bytes / 1024)))


APPROVAL_TRANSITIONS = 2
"""State transitions of one execution of infra/statemachines/approval.asl.json, whatever its levels and
outcome: the token wait, then the state that sends the outcome on."""
