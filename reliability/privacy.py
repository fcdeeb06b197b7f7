"""Where personal data and task tokens could leak: log lines, CloudEvents, DLQ bodies and alerts."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from reliability.instruments import Hook


class LogCapture(logging.Handler):
    """Every log line any logger emits while installed, formatted as Powertools writes it to CloudWatch."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(LambdaPowertoolsFormatter())
        self.lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._seen: weakref.WeakSet[logging.LogRecord] = weakref.WeakSet()
        self._attached: list[logging.Logger] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self._lines_lock:
            if record in self._seen:  # reached through a logger and its parent
                return
            self._seen.add(record)
            self.lines.append(line)

    def loggers(self) -> list[logging.Logger]:
        """The root and every journeys logger (the consumers' Powertools loggers did not reliably reach the root)."""
        names = [n for n in logging.root.manager.loggerDict if n.startswith("journeys")]
        return [logging.getLogger(), *(logging.getLogger(n) for n in names)]

    def __enter__(self) -> LogCapture:
        self._attached = self.loggers()
        for logger in self._attached:
            logger.addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        for logger in self._attached:
            logger.removeHandler(self)


class Outbound:
    """What the stack sends where people or other systems read it: SNS alerts, and the task tokens it answers."""

    def __init__(self) -> None:
        self.alerts: list[str] = []
        self.tokens: set[str] = set()
        self._lock = threading.Lock()

    def hooks(self) -> list[Hook]:
        return [
            ("before-parameter-build.sns.Publish", self._alert),
            ("before-parameter-build.sfn.SendTaskSuccess", self._token),
            ("before-parameter-build.sfn.SendTaskFailure", self._token),
            ("before-parameter-build.sfn.SendTaskHeartbeat", self._token),
        ]

    def _alert(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.alerts.append(f"{params.get('Subject', '')}\n{params.get('Message', '')}")

    def _token(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.tokens.add(params["taskToken"])


def leaks(secrets: Iterable[str], places: dict[str, Iterable[str]]) -> dict[str, int]:
    """How many texts in each place contain any of the secrets (an empty dict: none anywhere)."""
    found = {}
    secrets = [s for s in secrets if s]
    for place, texts in places.items():
        count = sum(1 for text in texts if any(secret in text for secret in secrets))
        if count:
            found[place] = count
    return found
