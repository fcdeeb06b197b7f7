"""The router: derives each journey's next transition from its definition and commits it.

Four layers, each importing only those before it (tests/test_import_contract.py keeps it so):

- `router.language`: the definition language (YAML, the Python DSL, expressions), its validation, drawings,
  compiled state machines and customer wording. Imports nothing else of the router.
- `router.core`: the pure decision core: journeys, decisions, transitions, approvals and their gates,
  interventions, failures, migrations, costs. No I/O, no clock, no environment.
- `router.ports`: the protocols the runtime talks through, with in-memory implementations (`router.ports.memory`).
- `router.runtime`: load, decide, commit with one conditional write, then act; the approval desk, the migrator
  and the journal. Talks to the world only through ports.

`router.adapters` implements the ports on AWS (DynamoDB, SQS, Step Functions, EventBridge, S3); it may import
any layer, and nothing in the layers imports it.
"""
