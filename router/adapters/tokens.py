"""Closing Step Functions task tokens; a token already closed (late, expired, answered) is not an error."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

# The emulator answers InvalidToken where AWS may say TaskTimedOut: both mean the wait is over.
CLOSED = {"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"}


def close_token(
    stepfunctions: Any,
    token: str,
    success: bool,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> bool:
    """Answer the token; False when it was already closed."""
    try:
        if success:
            stepfunctions.send_task_success(taskToken=token, output=json.dumps(output or {}))
        else:
            stepfunctions.send_task_failure(
                taskToken=token, error=(error or "Failed")[:256], cause=(cause or "")[:32768]
            )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in CLOSED:
            return False
        raise
    return True
