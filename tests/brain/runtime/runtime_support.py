"""Helpers of the brain runtime tests (kept out of conftest.py: test modules import
them, and several test folders have a conftest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from robo_os_memory import Memory
from robo_os_memory.models import Pose, RobotState

from robo_os.brain.runtime.dispatch import LocalDispatcher
from robo_os.brain.runtime.scheduler import Scheduler
from robo_os.brain.runtime.store import TaskStore

from .runtime_fakes import ScriptedAgent


async def add_robots(memory: Memory, *ids: str, ttl_s: float = 600.0) -> None:
    for i, rid in enumerate(ids):
        await memory.register_robot(
            RobotState(
                id=rid,
                embodiment="test",
                capabilities=("manipulate", "navigate"),
                pose=Pose(x=float(i), y=0.0),
            )
        )
        await memory.heartbeat(rid, ttl_s=ttl_s)


@dataclass
class Brain:
    scheduler: Scheduler
    store: TaskStore
    dispatcher: LocalDispatcher
    closed: bool = False

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.scheduler.close()
            await self.dispatcher.close()
            await self.store.close()


@dataclass
class Fleet:
    agents: dict[str, ScriptedAgent]
    log: list[tuple[str, str, str]] = field(default_factory=list)

    def __getitem__(self, robot: str) -> ScriptedAgent:
        return self.agents[robot]

    def release_all(self) -> None:
        for agent in self.agents.values():
            for call_id in list(agent.running):
                agent.finish(call_id)


MakeBrain = Callable[..., Awaitable[Brain]]


TOKEN = "test-token-0123456789"


@dataclass
class Api:
    app: Any
    client: Any
    lifespan: Any

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


def brain_settings(redis_url: str, key_prefix: str, *, auth: bool = True, **scheduler: Any) -> Any:
    from robo_os.settings import Settings

    return Settings(
        redis={"url": redis_url, "key_prefix": key_prefix},
        api={"token": TOKEN, "auth": auth},
        scheduler={"retry_backoff_s": 0.0, "rebalance": False, **scheduler},
        agent={"cancel_grace_s": 1.0},
    )
