"""Trigger and schedule rules, generated from definitions/ into infra/template.yaml.

`sam deploy` deploys the template, so the rules that start journeys live in it, written by
`journeys triggers` from the definitions rather than by hand;
tests/test_lifecycle_emulator.py::test_the_template_rules_are_in_step_with_the_definitions fails when
the template is out of step with definitions/. Each rule targets the start queue through an
InputTransformer that names the definition and carries the event's id and detail: the start
consumer derives the journey id from them, so a duplicated event starts one journey.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from router.language.definition import Definition

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "template.yaml"
BEGIN = "  # BEGIN GENERATED TRIGGERS: `journeys triggers` writes this block from definitions/; do not edit it.\n"
END = "  # END GENERATED TRIGGERS\n"
_BUS = re.compile(r'"([a-z0-9-]+)": "\$\{(\w+)\}"')


def domain_buses(template: str) -> dict[str, str]:
    """Owning domain -> bus logical id, from the DOMAIN_BUSES the consumers are given (one list, not two)."""
    return dict(_BUS.findall(template.split("DOMAIN_BUSES:", 1)[1].split("\n\n", 1)[0]))


def _bus(logical_id: str) -> str:
    """The domain's bus: this stack's own when standalone, MOD-104's (parameter Shared<Bus>) otherwise."""
    return f"!If [IsStandalone, !GetAtt {logical_id}.Name, !Ref Shared{logical_id}]"


def _logical(definition: Definition, kind: str, index: int) -> str:
    camel = "".join(part.capitalize() for part in definition.id.split("-"))
    return f"{camel}{kind}{index + 1 if index else ''}Rule"


def _target(definition: Definition, paths: dict[str, str], event_id: str, source: str, detail: str) -> str:
    fields = f'"definition_id": "{definition.id}", "event_id": "{event_id}", "source": "{source}", "detail": {detail}'
    template = json.dumps("{" + fields + "}")
    return (
        "      Targets:\n"
        "        - Id: start-queue\n"
        "          Arn: !GetAtt StartQueue.Arn\n"
        "          DeadLetterConfig: {Arn: !GetAtt StartDLQ.Arn}\n"
        "          InputTransformer:\n"
        f"            InputPathsMap: {{{', '.join(f'{k}: {v}' for k, v in paths.items())}}}\n"
        f"            InputTemplate: {template}\n"
        "      Tags:\n"
        "        - {Key: Application, Value: journeys}\n"
        "        - {Key: Stage, Value: !Ref Stage}\n"
        "        - {Key: module_id, Value: MOD-062}\n"
        "        - {Key: system_id, Value: SD07}\n"
        "        - {Key: cost_center, Value: sd07-bank-platform}\n"
    )


def _rules(definition: Definition, buses: dict[str, str]) -> list[tuple[str, str]]:
    rules = []
    for index, trigger in enumerate(definition.triggers):
        name = _logical(definition, "Trigger", index)
        rules.append(
            (
                name,
                f"  {name}:\n"
                "    Type: AWS::Events::Rule\n"
                "    Properties:\n"
                f"      Description: Starts {definition.id} journeys.\n"
                f"      EventBusName: {_bus(buses[definition.owning_domain])}\n"
                "      EventPattern:\n"
                f"        source: [{trigger.source}]\n"
                f"        detail-type: [{trigger.detail_type}]\n"
                + _target(
                    definition,
                    {"event_id": "$.id", "source": "$.source", "detail": "$.detail"},
                    "<event_id>",
                    "<source>",
                    "<detail>",
                ),
            )
        )
    if definition.schedule:  # the tick's time names the run: a repeated delivery of one tick starts one journey
        name = _logical(definition, "Schedule", 0)
        rules.append(
            (
                name,
                f"  {name}:\n"
                "    Type: AWS::Events::Rule\n"
                "    Properties:\n"
                f"      Description: Runs the {definition.id} SYSTEM journey on its schedule.\n"
                f"      ScheduleExpression: {definition.schedule}\n"
                + _target(definition, {"time": "$.time"}, "schedule/<time>", "schedule", "{}"),
            )
        )
    return rules


def block(definitions: Iterable[Definition], buses: dict[str, str]) -> str:
    """The generated part of the template: the start queue's policy and one rule per trigger or schedule."""
    rules = [rule for d in sorted(definitions, key=lambda d: d.id) for rule in _rules(d, buses)]
    arns = "".join(f"                  - !GetAtt {name}.Arn\n" for name, _ in rules)
    policy = (
        "  # EventBridge delivers triggers to StartQueue, and parks undeliverable ones in StartDLQ,\n"
        "  # only from this stack's trigger and schedule rules.\n"
        "  StartQueuePolicy:\n"
        "    Type: AWS::SQS::QueuePolicy\n"
        "    Properties:\n"
        "      Queues:\n"
        "        - !Ref StartQueue\n"
        "        - !Ref StartDLQ\n"
        "      PolicyDocument:\n"
        '        Version: "2012-10-17"\n'
        "        Statement:\n"
        "          - Sid: TriggerRulesSend\n"
        "            Effect: Allow\n"
        "            Principal:\n"
        "              Service: events.amazonaws.com\n"
        "            Action: sqs:SendMessage\n"
        "            Resource:\n"
        "              - !GetAtt StartQueue.Arn\n"
        "              - !GetAtt StartDLQ.Arn\n"
        "            Condition:\n"
        "              ArnEquals:\n"
        "                aws:SourceArn:\n"
        + arns
        + "          # Nothing else starts a journey: not any principal of the account with sqs:SendMessage\n"
        "          # (a Deny no identity policy outweighs), only the API (POST /api/journeys, which validates\n"
        "          # first) and the roles named in JourneyStarterRoleArns.\n"
        "          - Sid: OnlyTriggerRulesAndStartersStartJourneys\n"
        "            Effect: Deny\n"
        '            Principal: "*"\n'
        "            Action: sqs:SendMessage\n"
        "            Resource: !GetAtt StartQueue.Arn\n"
        "            Condition:\n"
        "              ArnNotEquals:\n"
        "                aws:SourceArn:\n"
        + arns
        + "                aws:PrincipalArn:\n"
        "                  - !GetAtt ApiFunctionRole.Arn\n"
        "              ArnNotLike: !If\n"
        "                - HasJourneyStarterRoles\n"
        "                - aws:PrincipalArn: !Ref JourneyStarterRoleArns\n"
        "                - !Ref AWS::NoValue\n"
    )
    header = (
        "  # ---------------------------------------------------------------- trigger rules\n"
        "  # One rule per journey trigger (source + detail-type), so a rule never matches a\n"
        "  # pairing that no definition declares, and one per SYSTEM journey's schedule. Targets are SQS only.\n"
    )
    return BEGIN + policy + "\n" + header + "\n".join(text for _, text in rules) + END


def synced(template: str, definitions: Iterable[Definition]) -> str:
    """The template with its generated block rewritten from `definitions`."""
    before, rest = template.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return before + block(definitions, domain_buses(template)) + after
