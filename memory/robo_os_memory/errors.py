"""Errors raised by the shared memory. Kept apart from robo-os's own tree because this
package depends on nothing from robo-os; robo-os maps them at its boundaries."""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "InvalidUpdateError",
    "LeaseHeldError",
    "LeaseLostError",
    "MemoryStoreError",
    "NotFoundError",
    "SchemaMismatchError",
    "StoreUnavailableError",
    "VersionConflictError",
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


class ConflictError(MemoryStoreError):
    """The world is not as the write expects (the object is held by another robot, the
    robot already holds something): the loser of a race learns it lost; nothing changed."""


class VersionConflictError(ConflictError):
    """A write made with `expected_version=` found another version: re-read and retry."""

    def __init__(self, kind: str, name: str, expected: int, actual: int) -> None:
        super().__init__(f"{kind} {name!r} is at version {actual}, not {expected}")
        self.kind = kind
        self.name = name
        self.expected = expected
        self.actual = actual


class InvalidUpdateError(MemoryStoreError, ValueError):
    """The caller asked for something the memory cannot hold (unknown field, bad value,
    a relation changed outside pick/place/transfer); nothing changed."""
