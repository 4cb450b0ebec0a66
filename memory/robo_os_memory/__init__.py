"""robo-os shared spatio-temporal memory (Redis)."""

from __future__ import annotations

from .errors import (
    LeaseHeldError,
    LeaseLostError,
    MemoryStoreError,
    NotFoundError,
    SchemaMismatchError,
    StoreUnavailableError,
)
from .models import (
    AttrValue,
    Change,
    EntityKind,
    Lease,
    ObjectState,
    PlaceState,
    Pose,
    RobotState,
    RobotStatusValue,
)
from .store import Memory

__all__ = [
    "AttrValue",
    "Change",
    "EntityKind",
    "Lease",
    "LeaseHeldError",
    "LeaseLostError",
    "Memory",
    "MemoryStoreError",
    "NotFoundError",
    "ObjectState",
    "PlaceState",
    "Pose",
    "RobotState",
    "RobotStatusValue",
    "SchemaMismatchError",
    "StoreUnavailableError",
]
