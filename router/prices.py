"""The one price table: AWS list prices, USD, US East (N. Virginia), on-demand, free tiers ignored.

Sources (read 2025): https://aws.amazon.com/step-functions/pricing/ (Standard workflows),
https://aws.amazon.com/sqs/pricing/ (standard queues, per 64 KB request),
https://aws.amazon.com/dynamodb/pricing/on-demand/ (write and read request units),
https://aws.amazon.com/eventbridge/pricing/ (custom events), https://aws.amazon.com/sns/pricing/
(standard topic requests), https://aws.amazon.com/lambda/pricing/ (arm64).
"""

from __future__ import annotations

PRICES = {
    "states_transition": 0.025 / 1000,
    "sqs_request": 0.40 / 1e6,
    "dynamodb_wru": 1.25 / 1e6,
    "dynamodb_rru": 0.25 / 1e6,
    "eventbridge_event": 1.00 / 1e6,
    "sns_request": 0.50 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
}
PRICE_SOURCE = "AWS list prices, us-east-1 (pricing pages: Step Functions, SQS, DynamoDB, EventBridge, SNS, Lambda)"
