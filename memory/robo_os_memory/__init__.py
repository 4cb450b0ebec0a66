"""robo-os shared spatio-temporal memory (Redis)."""

from __future__ import annotations

from .errors import (
    ConflictError,
    InvalidUpdateError,
    LeaseHeldError,
    LeaseLostError,
    MemoryStoreError,
    NotFoundError,
    SchemaMismatchError,
    StoreUnavailableError,
    VersionConflictError,
)
from .keys import SCHEMA_VERSION, Keys
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
    "SCHEMA_VERSION",
    "AttrValue",
    "Change",
    "ConflictError",
    "EntityKind",
    "InvalidUpdateError",
    "Keys",
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
    "VersionConflictError",
]
