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
    "dynamodb_wru": 0.625 / 1e6,  # on-demand, after the November 2024 cut (was 1.25)
    "dynamodb_rru": 0.125 / 1e6,  # (was 0.25)
    "eventbridge_event": 1.00 / 1e6,
    "sns_request": 0.50 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
}
PRICE_SOURCE = "AWS list prices, us-east-1 (pricing pages: Step Functions, SQS, DynamoDB, EventBridge, SNS, Lambda)"

PRICE_DATE = "2026-12-05"  # the pages below, as read on this date
# Everything the capacity model (bench/capacity.py) bills, us-east-1, on-demand, free tiers ignored. Sources:
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (request units after the November 2024 cut, storage, PITR),
# https://aws.amazon.com/cloudwatch/pricing/ (log ingestion), https://aws.amazon.com/xray/pricing/ (traces recorded),
# https://aws.amazon.com/step-functions/pricing/ (Standard transitions, Express requests and GB-seconds),
# https://aws.amazon.com/lambda/pricing/ (arm64; durable functions: operations, data written and retained).
CAPACITY_PRICES = PRICES | {
    "dynamodb_gb_month": 0.25,
    "dynamodb_ia_wru": 0.78125 / 1e6,  # Standard-Infrequent-Access table class (the transition log)
    "dynamodb_ia_rru": 0.15625 / 1e6,
    "dynamodb_ia_gb_month": 0.10,
    "dynamodb_pitr_gb_month": 0.20,
    "logs_ingest_gb": 0.50,
    "xray_trace": 5.00 / 1e6,
    "express_request": 1.00 / 1e6,
    "express_gb_second": 0.00001667,
    "durable_operation": 8.00 / 1e6,
    "durable_data_written_gb": 0.25,
    "durable_data_retained_gb_month": 0.15,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "s3_gb_month": 0.023,
}
