"""Where the command line finds the engine: the running local stack by default, or a deployed stack."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from consumers.runtime import Runtime, Settings, with_published_definitions
from router.language.registry import Registry
from workers.samples import SAMPLES

LOCAL_FILE = Path(os.environ.get("JOURNEYS_LOCAL_FILE", ".journeys/local.json"))

# Stack outputs -> the settings the consumers read from their environment.
OUTPUT_SETTINGS = {
    "JourneysTableName": "JOURNEYS_TABLE",
    "TransitionLogTableName": "TRANSITION_LOG_TABLE",
    "StartQueueUrl": "START_QUEUE_URL",
    "AdvanceQueueUrl": "ADVANCE_QUEUE_URL",
}


# Needed only by some commands (approvals): absent outputs leave those commands unconfigured.
OPTIONAL_OUTPUT_SETTINGS = {
    "ApprovalQueueUrl": "APPROVAL_QUEUE_URL",
    "ApprovalTicketsTableName": "TICKETS_TABLE",
}


class NotRunning(RuntimeError):
    pass


def write_local(settings: Settings, path: Path = LOCAL_FILE, **extra: str) -> None:
    """The stack's settings, and `extra` (the API's URL and token secret) for commands that need them."""
    write_private(path, json.dumps(settings.model_dump(by_alias=True) | extra, indent=2))


def write_private(path: Path, text: str) -> None:
    """`text` in a file only its owner can read (0600), in a directory only its owner can enter (0700).
    The token secret signs operator and approver tokens: anyone who reads it can act as anyone. The mode is set
    when the file is created, never after (no moment when it is readable), and forced on a file left by an
    older version; the umask cannot widen it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def local_value(key: str, path: Path | None = None) -> str:
    """One value `journeys up` wrote besides the settings (API_URL, TOKEN_SECRET)."""
    path = path or LOCAL_FILE
    if not path.exists():
        raise NotRunning(f"no local stack found ({path} is missing): start one with `journeys up` or `make run`")
    value = json.loads(path.read_text()).get(key)
    if not value:
        raise NotRunning(f"the local stack at {path} has no {key}: restart it with this version of journeys")
    return str(value)


def local_runtime(path: Path = LOCAL_FILE) -> Runtime:
    if not path.exists():
        raise NotRunning(f"no local stack found ({path} is missing): start one with `journeys up` or `make run`")
    data: dict[str, Any] = json.loads(path.read_text())
    listening(data.get("AWS_ENDPOINT_URL"))
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=data["AWS_REGION"])
    return with_published_definitions(Runtime(Settings.model_validate(data), session, Registry([])), SAMPLES.names())


def listening(endpoint: str | None) -> None:
    """A local stack that is down is said at once: nothing listening on its port is final, where the clients'
    retries (made for AWS, where a refused connection passes) would take ten seconds or more to give up."""
    if not endpoint:
        return
    where = urlsplit(endpoint)
    try:
        socket.create_connection((where.hostname or "127.0.0.1", where.port or 80), timeout=2).close()
    except OSError as exc:
        raise NotRunning(
            f"cannot reach the local stack at {endpoint} ({exc.strerror or exc}): "
            "start it with `journeys up` (or `make run`), then try again"
        ) from exc


def aws_runtime(stack: str, region: str) -> Runtime:
    session = boto3.Session(region_name=region)
    described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [key for key in OUTPUT_SETTINGS if key not in outputs]
    if missing:
        raise NotRunning(f"stack {stack} has no outputs {', '.join(missing)}: is it a Journeys stack?")
    environment = {name: outputs[key] for key, name in OUTPUT_SETTINGS.items()} | {"AWS_REGION": region}
    environment |= {name: outputs[key] for key, name in OPTIONAL_OUTPUT_SETTINGS.items() if key in outputs}
    return with_published_definitions(Runtime(Settings.from_env(environment), session, Registry([])), SAMPLES.names())
