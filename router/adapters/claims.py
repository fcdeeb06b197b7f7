"""Claim check: a step output too large for a message or an item goes to S3; the answer carries a pointer.

A worker's output above CLAIM_BYTES is written to the payload bucket under its activation's key (so a redelivery
writes the same object) and replaced by {"$claim:<activation id>": {"bucket", "key", "bytes", "sha256"}}. The
router merges that pointer into the journey's state like any output: the journey item and every message stay
small. A worker handed state holding pointers gets the outputs back in their place (`resolve`), so workers never
see pointers. Decisions evaluate the state as stored: they cannot branch on fields of a claimed output. An output
over OUTPUT_LIMIT is not stored at all: the step fails with OutputTooLarge, through the journey's own failure
handling, never a dead-letter queue.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

CLAIM_BYTES = 64 * 1024  # well under SQS's 256 KB message and DynamoDB's 400 KB item, with room for the rest
OUTPUT_LIMIT = 10 * 1024 * 1024  # the most a step may return: beyond it the step fails, it is not stored
CLAIM = "$claim:"


class OutputTooLarge(Exception):
    """A step output over OUTPUT_LIMIT: the step fails with this name."""


def pointer_key(journey_id: str, activation_id: str) -> str:
    return f"claims/{journey_id}/{activation_id}.json"


class S3Claims:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def check_in(self, journey_id: str, activation_id: str, output: dict[str, Any]) -> dict[str, Any]:
        """The output itself when small; else a pointer to it, written to S3 first."""
        body = json.dumps(output, separators=(",", ":")).encode()
        if len(body) > OUTPUT_LIMIT:
            raise OutputTooLarge(f"the step's output is {len(body)} bytes, over the {OUTPUT_LIMIT}-byte limit")
        if len(body) <= CLAIM_BYTES:
            return output
        key = pointer_key(journey_id, activation_id)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        claim = {"bucket": self.bucket, "key": key, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        return {f"{CLAIM}{activation_id}": claim}

    def resolve(self, value: Any) -> Any:
        """`value` with every pointer replaced by the output it names, merged where the pointer sits."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        resolved: dict[str, Any] = {}
        for name, inner in value.items():
            if name.startswith(CLAIM) and isinstance(inner, dict) and "key" in inner:
                resolved.update(self._fetch(inner))
            else:
                resolved[name] = self.resolve(inner)
        return resolved

    def _fetch(self, claim: dict[str, Any]) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=claim["bucket"], Key=claim["key"])["Body"].read()
        if hashlib.sha256(body).hexdigest() != claim["sha256"]:
            raise ValueError(f"claimed output {claim['key']} does not match its checksum")
        output: dict[str, Any] = json.loads(body)
        return output
