"""AWS size limits the emulator does not enforce, checked before any call."""

from router.ports import PayloadTooLarge

MESSAGE_BYTES = 256 * 1024  # SQS message, EventBridge entry, Step Functions payload
ITEM_BYTES = 400 * 1024  # DynamoDB item


def check_size(payload: str, limit: int, what: str) -> None:
    size = len(payload.encode())
    if size > limit:
        raise PayloadTooLarge(f"{what} is {size} bytes, over the {limit}-byte AWS limit")
