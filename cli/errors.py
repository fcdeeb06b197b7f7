"""Every failure of a command as one line: what went wrong and what to do, never a traceback unless --debug.

The exception's type decides the message (never its text): a stack that is not running, AWS refusing a call,
a file that is not there, an argument the models refuse, a definition with problems (one line per problem,
each at file:line). Anything else is a bug: one line naming it, and --debug for the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from pydantic import ValidationError

from router.language.loader import DefinitionError
from router.language.registry import UnknownDefinition

EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PIPE = 1, 130, 141  # 130 and 141: how a shell reports SIGINT and SIGPIPE

# A model field -> the command-line option that fills it, so a refusal names what the person typed.
OPTIONS = {"reason": "--reason", "actor": "--as", "output": "--output", "step": "--step", "patch": "--patch"}


def run_safely(command: Callable[[], int], debug: bool = False, stack: str | None = None) -> int:
    try:
        code = command()
        sys.stdout.flush()  # a closed pipe shows here, inside the try, rather than at interpreter exit
        return code
    except BrokenPipeError:
        # `journeys asl x | head`: the reader has all it wanted. Quiet, as cat is; stdout goes nowhere from here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("journeys: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        for line in describe(exc, stack):
            print(line, file=sys.stderr)
        return EXIT_ERROR


def describe(exc: Exception, stack: str | None = None) -> list[str]:
    """The lines to print for `exc`: one, or one per problem for a definition file."""
    where = f"stack {stack}" if stack else "the local stack"
    if isinstance(exc, DefinitionError):
        count = len(exc.problems)
        return [str(p) for p in exc.problems] + [f"journeys: {count} problem{'s' * (count != 1)}; fix them and rerun"]
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        again = "check your network and the --region" if stack else "start it with `journeys up` (or `make run`)"
        return [f"journeys: cannot reach {where}{f' at {url}' if url else ''}: {again}, then try again"]
    if isinstance(exc, NoCredentialsError | NoRegionError):
        return [
            f"journeys: no AWS {'credentials' if isinstance(exc, NoCredentialsError) else 'region'} "
            "for --stack: configure them (aws configure, or AWS_PROFILE) and try again"
        ]
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return [
            f"journeys: AWS refused {exc.operation_name} ({error.get('Code', 'error')}: {error.get('Message', '')}): "
            f"is {where} the one you meant? `journeys up` restarts the local one"
        ]
    if isinstance(exc, ValidationError):
        return [f"journeys: {_fields(exc)}"]
    if isinstance(exc, UnknownDefinition):
        return [f"journeys: {_text(exc)}: `journeys definitions` lists the ones there are"]
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError) and exc.filename:
        return [f"journeys: cannot read {exc.filename}: {exc.strerror or exc}"]
    if isinstance(exc, LookupError | ValueError | RuntimeError | OSError):
        return [f"journeys: {_text(exc)}"]
    return [f"journeys: unexpected {type(exc).__name__}: {_text(exc)} (rerun with --debug for the traceback)"]


def _fields(exc: ValidationError) -> str:
    """ "--reason: String should have at least 3 characters; --as: ..." rather than pydantic's dump."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        name = OPTIONS.get(loc[0], loc[0]) if loc else ""
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems) + " (see --help)"


def _text(exc: BaseException) -> str:
    # a KeyError's str() is its key in quotes ('kyc'); its argument reads better
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__
