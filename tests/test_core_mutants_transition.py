"""router/core/transition.py under mutation: the hop limit, the approval chain's input, backoff, timers, schemas.

Each test here was written for mutants that survived the behaviour tests: an off-by-one in the hop limit, an
amount or maker read wrongly from the state, backoff jitter outside its range, a timer over SQS's limit, a
schema error that loses where it happened.
"""

from __future__ import annotations

import pytest

from router.core.decide import decide
from router.core.gates import digest
from router.core.model import Activation, ActivationKind, ArmTimer, Journey, JourneyStatus, StartJourney
from router.core.outcomes import Commit, Rejected
from router.core.transition import MAX_HOPS, MAX_TIMER_DELAY, approval_for, backoff, open_step, schema_errors, timer_for
from router.language.definition import RetryPolicy
from router.language.expressions import ExpressionError
from router.language.loader import parse


def chain(decisions: int) -> str:
    """A definition that enters `decisions` DECISION steps, then its SUCCESS, in one transition."""
    steps = [
        f"  - {{name: d{n}, type: DECISION, branches: [{{when: 'never', goto: done}}], default: d{n + 1}}}"
        for n in range(decisions)
    ]
    steps[-1] = steps[-1].replace(f"default: d{decisions}", "default: done")
    return "\n".join(
        [
            "id: hops",
            'version: "1"',
            "owning_domain: x",
            "start_at: d0",
            "steps:",
            *steps,
            "  - {name: done, type: SUCCESS}",
        ]
    )


def test_a_transition_may_enter_exactly_max_hops_steps_and_no_more() -> None:
    """MAX_HOPS steps entered in one transition is allowed; one more is called a loop, and refused."""
    start = StartJourney(journey_id="j", definition_id="hops")
    at_limit = decide(parse(chain(MAX_HOPS - 1)), None, start, 0.0)
    assert isinstance(at_limit, Commit) and len(at_limit.record.entered) == MAX_HOPS
    assert at_limit.journey.status is JourneyStatus.SUCCEEDED
    with pytest.raises(Rejected, match=f"hops: more than {MAX_HOPS} steps entered in one transition"):
        decide(parse(chain(MAX_HOPS)), None, start, 0.0)


APPROVAL = """
id: chain-input
version: "1"
owning_domain: x
start_at: approve
steps:
  - name: approve
    type: APPROVAL
    amount: {amount}
    initiator: payment.maker
    sla_seconds: 7500
    levels: [{{role: officer, limit: 10, timeout_seconds: 3600}}]
    next: done
  - {{name: done, type: SUCCESS}}
"""


def journey(definition_id: str, state: dict, initiator: str = "channel") -> Journey:
    return Journey(
        id="j",
        definition_id=definition_id,
        definition_version="1",
        definition_hash="h",
        status=JourneyStatus.RUNNING,
        version=1,
        step="approve",
        state=state,
        initiator=initiator,
        created_at=0.0,
        updated_at=0.0,
    )


@pytest.mark.parametrize(
    ("payment", "amount", "maker"),
    [
        ({"amount": 12, "maker": "mo"}, 12.0, "mo"),
        ({"amount": True, "maker": ""}, None, "channel"),
        ({"amount": "12", "maker": 7}, None, "channel"),
        ({}, None, "channel"),
    ],
    ids=["number-and-maker", "bool-and-empty-maker", "text-and-number-maker", "missing"],
)
def test_the_chain_gets_the_amount_only_if_it_is_a_number_and_the_maker_only_if_named(payment, amount, maker) -> None:
    """A boolean or text amount is no amount (the limits then refuse); a missing or blank maker is the initiator."""
    definition = parse(APPROVAL.format(amount="payment.amount"))
    state = {"payment": payment}
    activation = Activation(id="j.1", step="approve", kind=ActivationKind.APPROVAL, opened_seq=1, deadline=1.0)
    start = approval_for(definition, journey("chain-input", state), activation)
    assert start.amount == amount and start.initiator == maker
    assert start.digest == digest(["payment"], state)  # no digest on the activation: the covered fields' now


def test_an_amount_expression_that_fails_names_the_step_and_never_the_value() -> None:
    """The error says which step's amount failed; it never quotes the state."""
    definition = parse(APPROVAL.format(amount="abs(payment.amount)"))
    activation = Activation(id="j.1", step="approve", kind=ActivationKind.APPROVAL, opened_seq=1, deadline=1.0)
    with pytest.raises(ExpressionError, match=r"^step 'approve''s amount failed") as failure:
        approval_for(definition, journey("chain-input", {"payment": {"amount": "SECRET-42"}}), activation)
    assert "SECRET-42" not in str(failure.value)


def test_backoff_is_exponential_with_equal_jitter_within_each_ceiling() -> None:
    """Attempt n waits between half and all of backoff * rate^(n-1) seconds, the same each time it is computed."""
    policy = RetryPolicy(max_attempts=4, backoff_seconds=10, backoff_rate=3)
    for activation_id in (f"j{n}.{m}" for n in range(40) for m in range(5)):
        delays = backoff(policy, activation_id)
        assert delays == backoff(policy, activation_id) and len(delays) == 3
        for attempt, delay in enumerate(delays, 1):
            ceiling = 10 * 3 ** (attempt - 1)
            assert ceiling / 2 - 0.5 <= delay <= ceiling + 0.5, (activation_id, attempt, delay)


def test_backoff_jitter_spreads_over_the_whole_upper_half_of_the_ceiling() -> None:
    """Over many activations the first wait (ceiling 100 s) takes values from near 50 s to near 100 s."""
    policy = RetryPolicy(max_attempts=2, backoff_seconds=100)
    firsts = [backoff(policy, f"j{n}.1")[0] for n in range(400)]
    assert min(firsts) <= 55 and max(firsts) >= 95


def test_a_sub_second_backoff_still_waits_one_second() -> None:
    """A ceiling under a second rounds to no wait at all: each attempt waits at least a second, and not more."""
    assert backoff(RetryPolicy(max_attempts=3, backoff_seconds=0.4, backoff_rate=1), "j.1") == [1, 1]


def test_a_timer_longer_than_sqs_allows_is_armed_for_the_limit_and_rounds_up() -> None:
    """A wake-up beyond MAX_TIMER_DELAY is armed for the limit (and re-armed later); a fraction rounds up."""
    far = Activation(id="j.1", step="pause", kind=ActivationKind.TIMER, opened_seq=1, deadline=0.0, wake_at=5_000.0)
    assert timer_for("j", far, 1_000.0) == ArmTimer(activation_id="j.1", journey_id="j", delay_seconds=MAX_TIMER_DELAY)
    near = far.model_copy(update={"wake_at": 1_010.2})
    assert timer_for("j", near, 1_000.0).delay_seconds == 11
    assert timer_for("j", near, 2_000.0).delay_seconds == 0


def test_a_step_that_does_not_wait_opens_nothing_and_says_so() -> None:
    """Opening a SUCCESS step is a programming error, named with the step."""
    done = parse(APPROVAL.format(amount="payment.amount")).step("done")
    with pytest.raises(TypeError, match="step done does not wait"):
        open_step("j", 1, done, 0.0, {})


def test_schema_errors_name_where_and_which_rule_without_the_value() -> None:
    """The root, a nested path joined with '/', a required field's own message, a format (checked, not ignored)."""
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "contact": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert schema_errors(schema, []) == ["(root): must satisfy type='object'"]
    errors = schema_errors(schema, {"contact": {"email": "SECRET"}, "tags": ["a", 7]})
    assert sorted(errors) == [
        "(root): 'name' is a required property",
        "contact/email: must satisfy format='email'",
        "tags/1: must satisfy type='string'",
    ]
    assert not any("SECRET" in e for e in errors)


BAD_MAKER = """
id: bad-maker
version: "1"
owning_domain: x
start_at: approve
steps:
  - name: approve
    type: APPROVAL
    initiator: abs(payment.maker)
    sla_seconds: 7500
    levels: [{role: officer, timeout_seconds: 3600}]
    next: done
  - {name: done, type: SUCCESS}
"""


def test_an_initiator_expression_that_cannot_be_evaluated_names_the_step_in_its_error() -> None:
    """The approval's maker is read when its chain starts; an expression that fails on the state says which
    step's initiator failed, so the definition's author can find it."""
    definition = parse(BAD_MAKER)
    start = StartJourney(journey_id="j", definition_id="bad-maker", input={"payment": {"maker": "mo"}}, actor="c")
    with pytest.raises(ExpressionError, match=r"^step 'approve''s initiator failed: abs\(\) takes number"):
        decide(definition, None, start, 1_000.0)
