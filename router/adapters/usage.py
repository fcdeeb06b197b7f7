"""Measures the AWS usage of each transition from the clients' own botocore hooks. Decides nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from router.adapters.dispatch import AwsDispatcher
from router.adapters.dynamodb import item_bytes, journey_item
from router.core.model import Action, Journey, TransitionRecord, charge
from router.core.usage import DYNAMODB_READS, Usage, write_units


class _Tab:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.read_units = self.write_units = 0.0


class AwsUsageMeter:
    """Counts every call the router's clients make on this thread since begin(), with the capacity units
    DynamoDB returned (the store asks for them with ReturnConsumedCapacity=TOTAL)."""

    def __init__(self, clients: Iterable[Any], dispatcher: AwsDispatcher) -> None:
        self.dispatcher = dispatcher
        self._tab: ContextVar[_Tab | None] = ContextVar(f"usage-{id(self)}", default=None)
        for client in clients:
            client.meta.events.register("after-call", self._after)

    def begin(self) -> None:
        self._tab.set(_Tab())

    def usage(self, journey: Journey, record: TransitionRecord, actions: Sequence[Action], extra: Usage) -> Usage:
        tab = self._tab.get() or _Tab()
        calls = tab.calls + Counter({"dynamodb.PutItem": 1}) + self.dispatcher.calls(actions)
        known = Usage(calls=dict(calls), read_units=tab.read_units, write_units=tab.write_units) + extra
        units = 1.0
        for _ in range(3):  # the units depend on the item's size, which holds the usage: settles at once
            charged = charge(journey, record, known + Usage(write_units=units))
            needed = write_units(item_bytes(journey_item(*charged)))
            if needed == units:
                break
            units = needed
        return known + Usage(write_units=units)

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        tab = self._tab.get()
        if tab is None:
            return
        tab.calls[f"{model.service_model.service_name}.{model.name}"] += 1
        capacity = parsed.get("ConsumedCapacity")
        for entry in capacity if isinstance(capacity, list) else [capacity] if capacity else []:
            if model.name in DYNAMODB_READS:
                tab.read_units += float(entry.get("CapacityUnits", 0))
            else:
                tab.write_units += float(entry.get("CapacityUnits", 0))
