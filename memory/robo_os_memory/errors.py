"""Errors raised by the shared memory. Kept apart from robo-os's own tree because this
package depends on nothing from robo-os; robo-os maps them at its boundaries."""

from __future__ import annotations

__all__ = [
    "LeaseHeldError",
    "LeaseLostError",
    "MemoryStoreError",
    "NotFoundError",
    "SchemaMismatchError",
    "StoreUnavailableError",
]


class MemoryStoreError(Exception):
    """Base of every error the memory raises."""


class StoreUnavailableError(MemoryStoreError):
    """Redis cannot be reached or refused us (operator must act)."""


class SchemaMismatchError(MemoryStoreError):
    """The key space holds another schema version than this code writes (operator must act)."""


class NotFoundError(MemoryStoreError):
    """A robot, object or place that the update names does not exist."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} does not exist in memory")
        self.kind = kind
        self.name = name


class LeaseHeldError(MemoryStoreError):
    """The resource is leased by someone else."""

    def __init__(self, resource: str, holder: str, until: float) -> None:
        super().__init__(f"{resource} is held by {holder} until {until:.3f}")
        self.resource = resource
        self.holder = holder
        self.until = until


class LeaseLostError(MemoryStoreError):
    """Renew/release/guarded write with a lease that is no longer the current one."""
