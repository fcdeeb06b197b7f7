"""The ports on AWS: DynamoDB, SQS, Step Functions, EventBridge, S3 and Secrets Manager. Adapters decide nothing.

May import every layer of the router; nothing in `router.language`, `router.core`, `router.ports` or
`router.runtime` imports an adapter. AWS size limits the emulator does not enforce are checked here
(`router.adapters.limits`) before any call.
"""
