"""The workflow-engine page's minimal workflow and step, written as the page writes them."""

from uuid import UUID

from router.language.dsl import State, UUIDstr, done, init, step, workflow


def build_subscription(product: UUID, user_input: str) -> dict[str, str]:
    """What the page leaves to the reader: here, a subscription record for the product."""
    return {"product": str(product), "description": user_input, "status": "INITIAL"}


@workflow("Create product subscription")
def create_product_subscription():
    return init >> create_subscription >> done


@step("Create subscription")
def create_subscription(
    product: UUIDstr,
    user_input: str,
) -> State:
    subscription = build_subscription(product, user_input)
    return {"subscription": subscription}
