"""Pollers that behave like Lambda's event source mappings, feeding in-process consumers.

SQS: batches, partial batch failure (failed messages come back; moto's redrive moves them to the DLQ
at maxReceiveCount), successes deleted. Streams: batches in order per shard; a failed record and
everything after it are retried, in order, until they succeed. Schedules: a tick every rate.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devstack.provision import QueueSource, RuleSchedule, ScheduleSource, StreamSource

Invoke = Callable[[dict[str, Any]], Any]
log = logging.getLogger("journeys.devstack")


class Poller(ABC):
    """A loop that sleeps when idle and wakes at once when nudged (a send was seen)."""

    idle_max = 0.5

    def __init__(self, name: str, invoke: Invoke) -> None:
        self.name, self.invoke = name, invoke
        self.wake = threading.Event()
        self.busy = False

    @abstractmethod
    def poll_once(self) -> int:
        """Deliver at most one batch; return how many records it held."""

    def run(self, stop: threading.Event) -> None:
        idle = 0.01
        while not stop.is_set():
            try:
                self.busy = True
                got = self.poll_once()
            except Exception:  # the loop must survive an emulator hiccup; the message comes back
                log.exception("poller %s failed", self.name)
                got = 0
            finally:
                self.busy = False
            if got:
                idle = 0.01
                continue
            self.wake.wait(idle)
            self.wake.clear()
            idle = min(self.idle_max, idle * 2)


class SqsPoller(Poller):
    def __init__(self, name: str, invoke: Invoke, sqs: Any, source: QueueSource, region: str, retry_after: int = 1):
        super().__init__(name, invoke)
        self.sqs, self.source, self.region, self.retry_after = sqs, source, region, retry_after

    def poll_once(self) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(10, self.source.batch_size),
            WaitTimeSeconds=0,  # long polling would hold the emulator's lock
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.invoke({"Records": [self._record(m) for m in messages]})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # Lambda treats a raising (or killed: a harness's simulated crash) handler as a
            # whole-batch failure
            log.exception("function %s failed its whole batch", self.name)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            self.sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries)
        for message in messages:
            if message["MessageId"] in failed:  # Lambda waits the visibility timeout; locally, a short backoff
                self.sqs.change_message_visibility(
                    QueueUrl=self.source.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_after,
                )
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self.source.queue_arn,
            "awsRegion": self.region,
        }


class StreamPoller(Poller):
    def __init__(self, name: str, invoke: Invoke, streams: Any, source: StreamSource, region: str) -> None:
        super().__init__(name, invoke)
        self.streams, self.source, self.region = streams, source, region
        self.iterators: dict[str, str] = {}
        self.pending: list[dict[str, Any]] = []
        self.attempts = 0

    def poll_once(self) -> int:
        if not self.pending:
            self.pending = self._fetch()
        if not self.pending:
            return 0
        batch = self.pending[: self.source.batch_size]
        result = self.invoke({"Records": batch}) or {}
        failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
        if not failures:
            self.pending, self.attempts = self.pending[len(batch) :], 0
            return len(batch)
        first = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failures)
        # Like Lambda with ReportBatchItemFailures: checkpoint before the failed record; back off only while stuck.
        self.pending, self.attempts = self.pending[first:], 1 if first else self.attempts + 1
        time.sleep(min(2.0, 0.05 * 2**self.attempts))  # retried in order until it succeeds: nothing skipped
        return 0

    def from_latest(self) -> None:
        """Start after what the stream holds now: a restored snapshot's writes were journaled in the run that
        made them, so the journal must not publish their events again."""
        shards = self.streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]

    def _fetch(self) -> list[dict[str, Any]]:
        if not self.iterators:
            shards = self.streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.source.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self.iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self.iterators[shard_id] = response["NextShardIterator"]
            for record in response["Records"]:
                records.append({**record, "eventSourceARN": self.source.stream_arn, "awsRegion": self.region})
        return records


class SchedulePoller(Poller):
    def __init__(self, name: str, invoke: Invoke, source: ScheduleSource) -> None:
        super().__init__(name, invoke)
        self.source, self.next_at = source, time.monotonic() + source.rate_seconds

    def run_now(self) -> None:
        """Tick at once rather than wait out the rate: a test's "a minute later" without the minute."""
        self.next_at = 0
        self.wake.set()

    def poll_once(self) -> int:
        if time.monotonic() < self.next_at:
            return 0
        self.next_at = time.monotonic() + self.source.rate_seconds
        self.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        return 1


class RuleSchedulePoller(Poller):
    """Puts the Scheduled Event of a rule that targets queues, every rate (a cron rule only when fired)."""

    def __init__(self, events: Any, schedule: RuleSchedule) -> None:
        super().__init__(schedule.logical_id, lambda _event: None)
        self.events, self.schedule = events, schedule
        self.next_at = time.monotonic() + (schedule.rate_seconds or 0)

    def poll_once(self) -> int:
        if self.schedule.rate_seconds is None or time.monotonic() < self.next_at:
            return 0
        self.next_at = time.monotonic() + self.schedule.rate_seconds
        self.fire()
        return 1

    def fire(self, at: datetime | None = None) -> None:
        """One tick, as EventBridge would deliver it at `at` (now by default); the same `at` twice is a duplicate."""
        entry = {
            "Source": "aws.events",
            "DetailType": "Scheduled Event",
            "Resources": [self.schedule.rule_arn],
            "Detail": "{}",
            "Time": at or datetime.now(UTC).replace(microsecond=0),
        }
        response = self.events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"the emulator refused the scheduled event of {self.schedule.logical_id}: {response}")
