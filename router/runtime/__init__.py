"""The runtime: runs a decision against the world through the ports, and nothing else decides.

Owns the router service (load, decide, commit with one conditional write, then act), the approval desk every
approval channel goes through, the migrator and the journal. Imports `router.language`, `router.core` and
`router.ports`; the adapters are handed in by the consumers.
"""
