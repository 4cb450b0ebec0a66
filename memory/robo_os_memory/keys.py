"""Every Redis key the memory uses, built in one place.

All keys live under `{prefix}:` so tenants and tests are isolated and nothing outside
the prefix is ever touched. docs/memory.md has the table (type, TTL, writer, readers);
keep the two in sync. The Lua scripts build a few keys themselves (the contents set of
an object's old place, a holder's record) with the same patterns: see `lua/common.lua`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import EntityKind

__all__ = ["SCHEMA_VERSION", "Keys", "slot_resource"]

SCHEMA_VERSION = 1
"""Bumped whenever the layout of any key below changes incompatibly."""


def slot_resource(place: str, index: int) -> str:
    """The lease resource of one docking slot of a place: a robot holds it from before it
    drives there until it has docked (then its record's `place`/`slot` say it is there)."""
    if not place or index < 0:
        raise ValueError(f"invalid slot {index!r} of place {place!r}")
    return f"slot:{place}:{index}"


@dataclass(frozen=True)
class Keys:
    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in " \t\r\n{}*?[]"):
            raise ValueError(f"invalid memory key prefix {self.prefix!r}")

    # -- lifetime: forever (the memory itself) --------------------------------
    @property
    def schema(self) -> str:
        return f"{self.prefix}:schema"

    def record(self, kind: EntityKind | str, name: str) -> str:
        """Hash: one robot, object or place."""
        return f"{self.prefix}:{kind}:{name}"

    def index(self, kind: EntityKind | str) -> str:
        """Set: names of every record of a kind."""
        return f"{self.prefix}:{kind}s"

    def contents(self, on: str) -> str:
        """Set: objects whose `on` is this place/receptacle/robot (deleted by Redis when empty)."""
        return f"{self.prefix}:contents:{on}"

    def geo(self, kind: EntityKind | str) -> str:
        """Geo set (sorted set): spatial index of a kind, on a local metric projection."""
        return f"{self.prefix}:geo:{kind}"

    def skills(self, robot_id: str) -> str:
        """String: JSON of the skill specs a robot offers."""
        return f"{self.prefix}:skills:{robot_id}"

    # -- history -------------------------------------------------------------
    @property
    def changes(self) -> str:
        """Stream: every change, in order (trimmed by MAXLEN ~ / MINID ~)."""
        return f"{self.prefix}:changes"

    def entity_history(self, kind: EntityKind | str, name: str) -> str:
        """Stream: the changes of one entity, same ids as in `changes`."""
        return f"{self.prefix}:hist:{kind}:{name}"

    # -- leases --------------------------------------------------------------
    def lease(self, resource: str) -> str:
        """String with PX TTL: the current lease of a resource."""
        return f"{self.prefix}:lease:{resource}"

    def slot_lease(self, place: str, index: int) -> str:
        """String with PX TTL: the reservation of one docking slot (see `slot_resource`)."""
        return self.lease(slot_resource(place, index))

    def fence(self, resource: str) -> str:
        """String counter: the last fencing token handed out for a resource (never reset)."""
        return f"{self.prefix}:fence:{resource}"

    @property
    def lease_deadlines(self) -> str:
        """Sorted set: resource -> lease expiry (ms), so expiries become `expire` changes."""
        return f"{self.prefix}:lease-deadlines"

    # -- liveness ------------------------------------------------------------
    def alive(self, robot_id: str) -> str:
        """String with PX TTL: present while the robot heartbeats."""
        return f"{self.prefix}:alive:{robot_id}"

    @property
    def deadlines(self) -> str:
        """Sorted set: robot -> heartbeat deadline (ms)."""
        return f"{self.prefix}:deadlines"

    @property
    def wake(self) -> str:
        """Stream: nudges the liveness watchers when a new deadline appears."""
        return f"{self.prefix}:wake"
