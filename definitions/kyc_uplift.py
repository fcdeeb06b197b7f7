"""kyc-uplift declared in Python: the twin of kyc-uplift.yaml, loading to the identical definition."""

from router.language.dsl import decision, init, input_step, success, task, workflow
from router.language.dsl import fail as fail_step

DETAILS = {
    "type": "object",
    "required": ["full_name", "date_of_birth", "address", "documents"],
    "additionalProperties": False,
    "properties": {
        "full_name": {"type": "string", "minLength": 2, "maxLength": 100},
        "date_of_birth": {"type": "string", "format": "date"},
        "address": {
            "type": "object",
            "required": ["line1", "postcode", "country"],
            "properties": {
                "line1": {"type": "string", "minLength": 1},
                "postcode": {"type": "string", "minLength": 2},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
            },
        },
        "documents": {
            "type": "object",
            "required": ["document_type", "document_number"],
            "properties": {
                "document_type": {"type": "string", "enum": ["passport", "driving_licence", "national_identity_card"]},
                "document_number": {"type": "string", "pattern": "^[A-Z0-9]{6,12}$"},
            },
        },
    },
}


@workflow(
    id="kyc-uplift",
    version="1.0.0",
    title="Refresh a customer's identity details",
    owning_domain="bank-core",
    triggers=[{"source": "bank.kyc", "detail_type": "kyc_refresh_due"}],
    input_schema={
        "type": "object",
        "required": ["customer_id", "full_name", "email"],
        "properties": {
            "customer_id": {"type": "string", "pattern": "^CUST-[0-9]{6}$"},
            "full_name": {"type": "string", "minLength": 2, "maxLength": 100},
            "email": {"type": "string", "format": "email"},
        },
    },
)
def kyc_uplift() -> None:
    details = input_step(
        "request-details",
        label="Please confirm your details and upload a photo ID",
        sla_seconds=1209600,  # two weeks before the refresh is chased
        input_schema=DETAILS,
    )
    verify = task(
        "verify-identity",
        label="Verifying your details",
        worker="kyc",
        sla_seconds=120,
        retry={"max_attempts": 3, "backoff_seconds": 2, "backoff_rate": 2},
    )
    outcome = decision(
        "identity-outcome", branches=[("kyc.result == 'CLEAR'", "confirm")], default="identity-not-verified"
    )
    confirm = task("confirm", label="Confirming your update", worker="notify-customer", sla_seconds=60)
    updated = success("details-updated", label="Your details are up to date")
    fail_step(
        "identity-not-verified",
        label="We could not verify your details; we will be in touch",
        error="IdentityNotVerified",
        cause="KYC refresh failed",
    )
    init >> details >> verify >> outcome
    confirm >> updated
