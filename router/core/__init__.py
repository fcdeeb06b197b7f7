"""The pure decision core: (definition, journey, event, now) -> what to commit and what to do next.

Owns journeys and their transitions, decisions, failures and deadlines, approvals, approval gates and proofs,
the identity rule, interventions, migration plans, progress and reasons, subscription locks, circuit policies,
index shards, usage and prices. Imports only `router.language`; no I/O, no clock, no environment.
"""
