"""The symbolic model: predicates (vocabulary), the condition language (conditions),
the state read off the world (state), plan simulation (simulate) and search (search).

Imports neither the brain nor the skill SDK; the world and the fleet come in through
the protocols of `domain` (docs/planning.md, "The symbolic model")."""
