"""Approval tickets on DynamoDB, task tokens on Step Functions, and the hand-off to the approvals queue.

The token is written with its ticket and read back only by `token()`: every other read projects
the ticket's own attributes, so neither a listing nor a conditional-write conflict carries it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from router.adapters import fanout
from router.adapters.fanout import FanOut, Read
from router.adapters.limits import ITEM_BYTES, check_size
from router.adapters.tokens import close_token
from router.core.approvals import AuditEntry, Ticket, TicketStatus
from router.core.shards import open_ticket_key, open_ticket_keys
from router.ports import TicketConflict

OPEN_INDEX = "open-by-deadline"  # sparse and sharded: open_shard (open#NN) only while OPEN; keys only
_FIELDS = [name for name in Ticket.model_fields]
_NAMES = {f"#f{i}": name for i, name in enumerate(_FIELDS)}
_PROJECTION = ", ".join(_NAMES)
_SERIALIZE, _DESERIALIZE = TypeSerializer(), TypeDeserializer()
_NOW = ":now"


def _attribute(value: Any) -> dict[str, Any]:
    """One DynamoDB attribute; floats go through Decimal as DynamoDB numbers must."""
    # cast: the stubs type it as their AttributeValue TypedDict; our requests are plain dicts
    return cast(dict[str, Any], _SERIALIZE.serialize(json.loads(json.dumps(value), parse_float=Decimal)))


def ticket_item(ticket: Ticket, token: str) -> dict[str, Any]:
    fields = ticket.model_dump(mode="json", exclude_none=True)
    item = {name: _attribute(value) for name, value in fields.items()}
    item["task_token"] = {"S": token}
    if ticket.status is TicketStatus.OPEN:
        item["open_shard"] = {"S": open_ticket_key(ticket.ticket_id)}
    check_size(json.dumps(item), ITEM_BYTES, f"ticket {ticket.ticket_id}")
    return item


def ticket_from_item(item: dict[str, Any]) -> Ticket:
    fields = {name: _DESERIALIZE.deserialize(value) for name, value in item.items() if name in Ticket.model_fields}
    return Ticket.model_validate(fields)


class DynamoTicketStore:
    def __init__(self, client: Any, table: str, reader: FanOut = fanout.read) -> None:
        self.client, self.table, self.reader = client, table, reader

    def put(self, ticket: Ticket, token: str) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=ticket_item(ticket, token),
                ConditionExpression="attribute_not_exists(ticket_id)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, ticket_id: str) -> Ticket | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=self._key(ticket_id),
            ConsistentRead=True,
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_NAMES,
        )
        return ticket_from_item(response["Item"]) if "Item" in response else None

    def token(self, ticket_id: str) -> str | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(ticket_id), ConsistentRead=True, ProjectionExpression="task_token"
        )
        return cast(str | None, response.get("Item", {}).get("task_token", {}).get("S"))  # a string attribute

    def audit(self, ticket_id: str, entry: AuditEntry) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(ticket_id),
                UpdateExpression="SET audit = list_append(audit, :entry)",
                ConditionExpression="attribute_exists(ticket_id)",
                ExpressionAttributeValues={":entry": _attribute([entry.model_dump(mode="json")])},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise TicketConflict(None) from None

    def decide(self, ticket: Ticket, entry: AuditEntry) -> Ticket:
        """OPEN -> DECIDED in one conditional update; the loser of a race gets the winner's ticket."""
        values = {
            ":decided": {"S": TicketStatus.DECIDED.value},
            ":decision": _attribute(ticket.decision),
            ":by": _attribute(ticket.decided_by),
            ":at": _attribute(ticket.decided_at),
        }
        names = {"#decision": "decision"}
        update = "SET #status = :decided, #decision = :decision, decided_by = :by, decided_at = :at"
        if ticket.reason is not None:
            update += ", #reason = :reason"
            values[":reason"], names["#reason"] = {"S": ticket.reason}, "reason"
        return self._while_open(ticket.ticket_id, update, entry, values, names)

    def expire(self, ticket_id: str, entry: AuditEntry) -> Ticket:
        """OPEN -> EXPIRED in one conditional update; if a decision won the race, TicketConflict carries it."""
        values = {":expired": {"S": TicketStatus.EXPIRED.value}}
        return self._while_open(ticket_id, "SET #status = :expired", entry, values, {})

    def _while_open(
        self, ticket_id: str, update: str, entry: AuditEntry, values: dict[str, Any], names: dict[str, str]
    ) -> Ticket:
        """`update` and an audit entry, if the ticket is still OPEN; else TicketConflict with it as it is."""
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(ticket_id),
                # leaving OPEN leaves the sparse open-ticket index
                UpdateExpression=update + ", audit = list_append(audit, :entry) REMOVE open_shard",
                ConditionExpression="#status = :open",
                ExpressionAttributeNames={"#status": "status", **names},
                ExpressionAttributeValues={
                    ":open": {"S": TicketStatus.OPEN.value},
                    ":entry": _attribute([entry.model_dump(mode="json")]),
                    **values,
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # botocore's stubs omit the Item that ReturnValuesOnConditionCheckFailure adds
            old = cast(dict[str, Any], exc.response).get("Item")
            raise TicketConflict(ticket_from_item(old) if old else None) from None
        return ticket_from_item(response["Attributes"])

    def withdraw(self, ticket_id: str, entry: AuditEntry) -> Ticket:
        """OPEN -> WITHDRAWN in one conditional update; if a decision or lapse won the race, TicketConflict."""
        values = {":withdrawn": {"S": TicketStatus.WITHDRAWN.value}}
        return self._while_open(ticket_id, "SET #status = :withdrawn", entry, values, {})

    def answered(self, ticket_id: str, status: TicketStatus, at: float, entry: AuditEntry | None = None) -> None:
        update = "SET #status = :status, answered_at = :at"
        values = {":status": {"S": status.value}, ":at": _attribute(at), ":open": {"S": TicketStatus.OPEN.value}}
        if entry is not None:
            update += ", audit = list_append(audit, :entry)"
            values[":entry"] = _attribute([entry.model_dump(mode="json")])
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(ticket_id),
                UpdateExpression=update,
                ConditionExpression="#status <> :open AND attribute_not_exists(answered_at)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # else noted already, by an earlier delivery

    def open_tickets(self, now: float, limit: int = 100) -> list[Ticket]:
        """OPEN tickets still due, soonest deadline first: every shard's soonest, merged, then read by key."""
        keys = self._due(f"deadline > {_NOW}", now, limit)
        return self._read([ticket_id for _, ticket_id in keys])

    def lapsed(self, now: float, limit: int = 100) -> list[str]:
        """OPEN tickets past their deadline (what the watchdog sweeps), oldest deadline first."""
        return [ticket_id for _, ticket_id in self._due(f"deadline <= {_NOW}", now, limit)]

    def _due(self, deadline: str, now: float, limit: int) -> list[tuple[float, str]]:
        """The first `limit` (deadline, ticket id) across the open-ticket shards: each shard's first `limit`
        holds every entry of the merged first `limit`. The shards are read at once."""
        reads = [
            Read(
                {
                    "TableName": self.table,
                    "IndexName": OPEN_INDEX,
                    "KeyConditionExpression": f"open_shard = :shard AND {deadline}",
                    "ExpressionAttributeValues": {":shard": {"S": shard}, _NOW: _attribute(now)},
                },
                enough=limit,
                page_size=min(100, limit),
            )
            for shard in open_ticket_keys()
        ]
        shards = fanout.items(self.reader(self.client, reads))
        found = [(float(item["deadline"]["N"]), item["ticket_id"]["S"]) for items in shards for item in items[:limit]]
        return sorted(found)[:limit]

    def _read(self, ticket_ids: list[str]) -> list[Ticket]:
        """Tickets by key, without their tokens, in the order asked; one gone meanwhile is left out."""
        read: dict[str, Ticket] = {}
        for at in range(0, len(ticket_ids), 100):
            keys = [self._key(t) for t in ticket_ids[at : at + 100]]
            request: dict[str, Any] = {
                self.table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": _PROJECTION,
                    "ExpressionAttributeNames": _NAMES,
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table, []):
                    ticket = ticket_from_item(item)
                    read[ticket.ticket_id] = ticket
                request = response.get("UnprocessedKeys") or {}
        return [read[t] for t in ticket_ids if t in read and read[t].status is TicketStatus.OPEN]

    @staticmethod
    def _key(ticket_id: str) -> dict[str, Any]:
        return {"ticket_id": {"S": ticket_id}}


class StepFunctionsTokens:
    """The token closer of the approvals function: SendTaskSuccess, a closed token reported as False."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def close(self, token: str, output: dict[str, Any]) -> bool:
        return close_token(self.client, token, success=True, output=output)


class QueuedAnswers:
    """For callers that may not answer tokens (command line, API): the approvals function does it for them."""

    def __init__(self, sqs: Any, approval_queue_url: str) -> None:
        self.sqs, self.queue = sqs, approval_queue_url

    def answer_later(self, ticket_id: str) -> None:
        body = json.dumps({"kind": "answer_ticket", "ticket_id": ticket_id})
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=body)

    def lapse_later(self, ticket_ids: list[str]) -> None:
        """Levels past their deadline (the watchdog's sweep), for the approvals function to lapse; ten per request."""
        for at in range(0, len(ticket_ids), 10):
            batch = ticket_ids[at : at + 10]
            entries = [
                {"Id": str(n), "MessageBody": json.dumps({"kind": "lapse_ticket", "ticket_id": t})}
                for n, t in enumerate(batch)
            ]
            failed = self.sqs.send_message_batch(QueueUrl=self.queue, Entries=entries).get("Failed", [])
            if failed:
                raise RuntimeError(f"{len(failed)} lapse messages were not sent: {failed[0].get('Message')}")
