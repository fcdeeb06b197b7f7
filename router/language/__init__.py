"""The definition language: what a journey definition says and how it is read, checked and drawn.

Owns the definition model, the YAML loader and its file:line problems, the Python DSL (`@workflow`, `@step`,
`init >> step >> done`), JMESPath expressions, the registry and published versions, customer wording, the
Mermaid drawing and the Step Functions compilation kept for comparison. Imports no other part of the router.
"""
