"""robo-os shared spatio-temporal memory (Redis)."""

from __future__ import annotations

from .corrections import ObjectCorrection, ReconcileReply
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
from .keys import SCHEMA_VERSION, Keys, slot_resource
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
    "ObjectCorrection",
    "ObjectState",
    "PlaceState",
    "Pose",
    "ReconcileReply",
    "RobotState",
    "RobotStatusValue",
    "SchemaMismatchError",
    "StoreUnavailableError",
    "VersionConflictError",
    "slot_resource",
]
