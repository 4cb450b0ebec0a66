"""The shared spatio-temporal memory: the API every robot agent and the brain use.

THIS FILE IS THE AGREED API SURFACE. Method names, parameters and return types are
what the rest of robo-os codes against; bodies are filled in by the memory work
(issue 3). Add methods freely; change these only with everyone's agreement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from .models import Change, EntityKind, Lease, ObjectState, PlaceState, Pose, RobotState

__all__ = ["Memory"]


class Memory:
    """Async client of the shared memory. One instance per process (per event loop);
    `connect` opens it, `close` closes it. All writes are atomic per call; multi-entity
    moves (`pick`, `place`, `transfer`) are atomic as a whole."""

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        prefix: str = "robo-os",
        writer: str = "brain",
        heartbeat_interval_s: float = 1.0,
        history_maxlen: int = 100_000,
        history_max_age_s: float | None = None,
    ) -> Memory:
        """Connect, check or store the schema version (never FLUSH anything) and return
        a ready client. `writer` is recorded as `updated_by` on every write this client
        makes unless a call passes `by=`."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    # -- robots ----------------------------------------------------------------
    async def register_robot(self, robot: RobotState, *, by: str | None = None) -> RobotState:
        """Create or replace a robot record (status from `robot`, heartbeat now)."""
        raise NotImplementedError

    async def get_robot(self, robot_id: str) -> RobotState | None:
        raise NotImplementedError

    async def list_robots(self) -> list[RobotState]:
        raise NotImplementedError

    async def update_robot(self, robot_id: str, *, by: str | None = None, **fields: Any) -> RobotState:
        """Update some fields (pose, place, status, current_subtask, ...); raises
        NotFoundError for an unknown robot."""
        raise NotImplementedError

    async def heartbeat(self, robot_id: str) -> None:
        """Refresh the robot's liveness; brings an offline robot back online."""
        raise NotImplementedError

    async def set_robot_skills(self, robot_id: str, specs: dict[str, dict[str, Any]]) -> None:
        """Publish the full skill specs (SkillSpec JSON by name) the robot's agent offers."""
        raise NotImplementedError

    async def robot_skills(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every registered robot's skill specs: {robot_id: {skill_name: spec_json}}."""
        raise NotImplementedError

    # -- objects and places ------------------------------------------------------
    async def upsert_object(self, obj: ObjectState, *, by: str | None = None) -> ObjectState:
        raise NotImplementedError

    async def get_object(self, name: str) -> ObjectState | None:
        raise NotImplementedError

    async def list_objects(self) -> list[ObjectState]:
        raise NotImplementedError

    async def update_object(self, name: str, *, by: str | None = None, **fields: Any) -> ObjectState:
        """Update pose, on, attrs (merged), ...; raises NotFoundError."""
        raise NotImplementedError

    async def upsert_place(self, place: PlaceState, *, by: str | None = None) -> PlaceState:
        raise NotImplementedError

    async def get_place(self, name: str) -> PlaceState | None:
        raise NotImplementedError

    async def list_places(self) -> list[PlaceState]:
        raise NotImplementedError

    async def place_contents(self, place: str) -> list[str]:
        """Names of the objects whose `on` is this place (or robot tray)."""
        raise NotImplementedError

    # -- atomic multi-entity moves -----------------------------------------------
    async def pick(self, robot_id: str, obj: str, *, pose: Pose | None = None, by: str | None = None) -> ObjectState:
        """Atomically: object.held_by = robot, object.on = None, robot.holding = obj,
        object leaves its place's contents. Fails (no change) if the robot already
        holds something or another robot holds the object."""
        raise NotImplementedError

    async def place(self, robot_id: str, obj: str, on: str, *, pose: Pose | None = None, by: str | None = None) -> ObjectState:
        """Atomically: the robot's held object is released onto `on` (a place,
        receptacle or robot tray) at `pose`. Fails (no change) if the robot does not
        hold `obj`."""
        raise NotImplementedError

    async def transfer(self, obj: str, *, to_on: str | None, to_holder: str | None, pose: Pose | None = None, by: str | None = None) -> ObjectState:
        """Atomically move an object to rest on `to_on` or be held by `to_holder`,
        undoing whatever held or carried it before (hand-overs, trays, corrections
        from perception)."""
        raise NotImplementedError

    # -- temporal ----------------------------------------------------------------
    async def changes_since(
        self,
        cursor: str = "0",
        *,
        kinds: Iterable[EntityKind] | None = None,
        names: Iterable[str] | None = None,
        count: int = 1000,
    ) -> tuple[list[Change], str]:
        """Everything that changed after `cursor` (oldest first) and the cursor to
        resume from. Resumable across reconnects."""
        raise NotImplementedError

    async def history(self, kind: EntityKind, name: str, t0: float | None = None, t1: float | None = None) -> list[Change]:
        """What happened to one entity between t0 and t1 (unix seconds)."""
        raise NotImplementedError

    async def object_at(self, name: str, t: float) -> ObjectState | None:
        """The object's record as it was at time t (None if it did not exist yet)."""
        raise NotImplementedError

    # -- spatial -----------------------------------------------------------------
    async def within(self, x: float, y: float, radius_m: float, *, kind: EntityKind | None = None) -> list[tuple[EntityKind, str, float]]:
        """Entities within radius of (x, y), nearest first, answered by a server-side index."""
        raise NotImplementedError

    async def nearest_place(self, pose: Pose) -> tuple[str, float] | None:
        raise NotImplementedError

    # -- real time ---------------------------------------------------------------
    def subscribe(
        self,
        *,
        kinds: Iterable[EntityKind] | None = None,
        names: Iterable[str] | None = None,
        cursor: str = "$",
    ) -> AsyncIterator[Change]:
        """Changes as they happen (blocking reads, no polling), optionally from a cursor."""
        raise NotImplementedError

    # -- leases ------------------------------------------------------------------
    async def acquire(self, resource: str, holder: str, ttl_s: float) -> Lease:
        """Reserve an object or place; raises LeaseHeldError naming holder and expiry."""
        raise NotImplementedError

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        raise NotImplementedError

    async def release(self, lease: Lease) -> None:
        """Only the holder's current lease releases; a stale one raises LeaseLostError."""
        raise NotImplementedError

    async def lease_of(self, resource: str) -> Lease | None:
        raise NotImplementedError

    # -- liveness ----------------------------------------------------------------
    async def watch_liveness(self) -> None:
        """Run forever (cancel to stop): mark robots whose heartbeat expired offline and
        emit an `offline` change within two heartbeat intervals."""
        raise NotImplementedError

    # -- planner view --------------------------------------------------------------
    async def world_summary(self, max_chars: int = 4000) -> str:
        """A compact, size-bounded text of places, objects and robots for a prompt."""
        raise NotImplementedError

    async def snapshot(self) -> tuple[Sequence[RobotState], Sequence[ObjectState], Sequence[PlaceState]]:
        """A consistent view of all robots, objects and places (one round trip)."""
        raise NotImplementedError
