"""`robo-os up`: everything one machine needs, started in order and stopped in reverse.

1. Redis: `settings.redis.url`, or an embedded redis-server on a free port.
2. Ray: joins `settings.ray.address`, or starts a local runtime (unless this process
   already runs one, e.g. under a test session).
3. The pybullet world as one Ray actor, and its state written into the shared memory;
   on a memory an earlier run left, the world is rebuilt from memory instead, after the
   old run's leases are released (robo_os/restart.py).
4. One cerebellum agent actor per robot of the fleet file.
5. The brain: the FastAPI app (served by uvicorn in `run_stack`).

`Stack` is also what the end-to-end tests start, so the demo and the tests share one path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .fleet import FleetConfig, load_fleet
from .services import EmbeddedRedis, bind_listener
from .settings import Settings
from .tokens import ensure_token

if TYPE_CHECKING:
    from fastapi import FastAPI
    from robo_os_memory import Memory

    from .brain.planning.interface import Planner

__all__ = ["Stack", "run_brain", "run_deployment", "run_stack"]

log = logging.getLogger(__name__)


class Stack:
    """Redis, Ray, the simulated world, the agents and the brain app of one deployment."""

    def __init__(self, settings: Settings, fleet: FleetConfig | None = None, *, data_dir: Path | None = None) -> None:
        self.settings = settings
        self.fleet = fleet if fleet is not None else load_fleet(settings.fleet_file)
        self.data_dir = data_dir
        self.redis: EmbeddedRedis | None = None
        self.memory: Memory | None = None
        self.world: Any = None
        self.agents: dict[str, Any] = {}
        self.recovery: Any = None
        """`robo_os.recovery.DeadRobotRecovery`: halts, reconciles and frees a dead agent's robot."""
        self.supervisor: Any = None
        """`robo_os.supervisor.AgentSupervisor`: brings a dead agent back, restarts one on request."""
        self._agent_configs: dict[str, Any] = {}
        self._spawn_options: dict[str, dict[str, Any]] = {}
        self._hosts: list[Any] = []
        """Agent host actors (`agent.hosting: shared`); their robots are in `agents`."""
        self.agent_problems: dict[str, str] = {}
        """Robot -> why its agent did not start (left offline)."""
        self.app: FastAPI | None = None
        self._own_ray = False
        self._stops = contextlib.AsyncExitStack()
        """Each started stage pushes its stop here, so `stop` unwinds in reverse order."""

    async def start(self) -> FastAPI:
        """Start everything but the HTTP server; return the brain app to serve."""
        t0 = time.monotonic()
        await self.start_deployment()
        from .brain.app import create_app

        self.app = create_app(self.settings, memory=self.memory, planner_factory=self._planner_factory)
        if self.recovery is not None and self.world is not None:  # what `GET /v1/world/diff` compares memory with
            self.app.state.world_observers = self._world_observers()
        # `POST /v1/robots/{name}/restart` (brain/api/routes/agents.py)
        self.app.state.agent_supervisor = self.supervisor
        log.info(
            "stack ready in %.1f s: %d robots (%s), Redis %s, Ray namespace %s",
            time.monotonic() - t0, len(self.agents), ", ".join(self.agents),
            self._redacted_redis_url(), self.settings.ray.namespace,
        )
        return self.app

    async def start_deployment(self) -> None:
        """Start everything but the brain (the deployment that brains of their own,
        `robo-os brain`, serve: Redis, Ray, the world, the agents, their recovery)."""
        try:
            await self._start_redis()
            self.settings = ensure_token(self.settings)
            self._start_ray()  # in the main thread, so Ray can install its signal handlers
            await self._start_memory()
            await self._release_previous_leases()
            await self._start_world()
            await self._start_agents()
            await self._start_recovery()
        except BaseException:
            await self.stop()
            raise

    def _redacted_redis_url(self) -> str:
        url = self.settings.redis.url or ""
        if "@" in url:
            scheme, rest = url.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return url

    async def _start_redis(self) -> None:
        if self.settings.redis.url is not None:
            return
        directory = self.data_dir.expanduser() if self.data_dir else None
        # started from this (the main) thread, not a worker: the server dies with the thread
        # that started it, so it must be the one that lives as long as the stack
        self.redis = EmbeddedRedis(directory=directory, appendonly=directory is not None).start()
        self._stops.push_async_callback(self._stop_redis)
        redis = self.settings.redis.model_copy(update={"url": self.redis.url})
        self.settings = self.settings.model_copy(update={"redis": redis})
        log.info("embedded Redis on %s%s", self.redis.url, f" (data in {directory})" if directory else "")

    def _start_ray(self) -> None:
        import ray

        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            address=self.settings.ray.address or "local",
            namespace=self.settings.ray.namespace,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        self._own_ray = True
        self._stops.push_async_callback(self._stop_ray)

    async def _start_memory(self) -> None:
        from robo_os_memory import Memory

        assert self.settings.redis.url is not None
        self.memory = await Memory.connect(
            self.settings.redis.url,
            prefix=self.settings.redis.key_prefix,
            writer="robo-os",
            heartbeat_interval_s=self.settings.memory.heartbeat_interval_s,
            history_maxlen=self.settings.memory.history_maxlen,
            history_max_age_s=self.settings.memory.history_max_age_s,
            max_connections=self.settings.redis.max_connections,
            pool_timeout_s=self.settings.redis.pool_timeout_s,
        )
        self._stops.push_async_callback(self._stop_memory)

    async def _release_previous_leases(self) -> None:
        """On a memory an earlier run used: its robots' leases go (robo_os/restart.py)."""
        from .restart import release_previous_leases

        assert self.memory is not None
        await release_previous_leases(self.memory, [rc.id for rc in self.fleet.robots])

    async def _start_world(self) -> None:
        """The world, and memory seeded from it; on a memory an earlier run left, the
        world is rebuilt from memory and memory corrected where it could not be honoured
        (robo_os/restart.py)."""
        from .restart import adopt_world, remembered_world
        from .sim import RayWorldClient, seed_memory, start_world_actor
        from .sim.actor import MemorySource

        if not any(r.driver == "sim" for r in self.fleet.robots) and not self.fleet.scene.objects:
            return
        assert self.memory is not None and self.settings.redis.url is not None
        remembered = await remembered_world(self.memory)
        # supervised: Ray restarts its process, which rebuilds the world from memory
        # (robo_os/sim/actor.py); `_stop_world` kills it for good
        self.world = start_world_actor(
            self.fleet,
            self.settings.sim,
            namespace=self.settings.ray.namespace,
            memory=remembered,
            source=MemorySource(
                self.settings.redis.url,
                remember=remembered_world,
                adopt=adopt_world,
                prefix=self.settings.redis.key_prefix,
            ),
            max_restarts=self.settings.sim.max_restarts,
        )
        self._stops.push_async_callback(self._stop_world)
        if remembered is None:
            await seed_memory(self.memory, RayWorldClient(self.world), robots=False)
        else:
            # the world actor's own log does not reach this process: say it here
            for note in await self.world.restore_notes.remote():
                log.warning("world rebuilt from memory: %s (corrected in memory)", note)
            await adopt_world(self.memory, RayWorldClient(self.world))

    async def _start_agents(self) -> None:
        """Every robot's agent, started at once, each within `agent.start_timeout_s`: in its
        own actor process (`agent.hosting: process`, and always for an `on_robot_node`
        robot) or `agent.robots_per_host` to an agent host process (`shared`). A robot
        whose agent does not start in time is reported (`agent_problems`, marked offline
        in memory) and left out; the stack goes on with the others, unless none started."""
        from .cerebellum.actor import AgentConfig
        from .sim import RayWorldClient

        options = {"world": RayWorldClient(self.world)} if self.world is not None else {}
        agent = self.settings.agent
        configs = {
            rc.id: AgentConfig.from_settings(
                self.settings, rc, factory_options=options if rc.driver == "sim" else {}, supervised=True
            )
            for rc in self.fleet.robots
        }
        self._agent_configs.update(configs)
        own = [rc for rc in self.fleet.robots if agent.hosting == "process" or rc.on_robot_node]
        shared = [rc.id for rc in self.fleet.robots if rc not in own]
        per = agent.robots_per_host
        groups = [shared[i : i + per] for i in range(0, len(shared), per)]
        self._stops.push_async_callback(self._stop_agents)  # also those started before a failure
        t0 = time.monotonic()
        outs = await asyncio.gather(
            *(self._start_own_agent(configs[rc.id], rc.on_robot_node) for rc in own),
            *(self._start_host(i, [configs[r] for r in group]) for i, group in enumerate(groups)),
            return_exceptions=True,
        )
        problems: dict[str, str] = {}
        for robots, out in zip([[rc.id] for rc in own] + groups, outs, strict=True):
            if isinstance(out, BaseException):
                problems.update((r, f"{type(out).__name__}: {out}" if str(out) else type(out).__name__) for r in robots)
            else:
                problems.update(out)
        self.agent_problems = problems
        for robot, why in problems.items():
            log.error("robot=%s: its agent did not start, left offline: %s", robot, why)
            self.agents.pop(robot, None)
            await self._mark_offline(robot)
        if self.fleet.robots and not self.agents:
            raise ConfigError(f"no robot's agent started: {problems}")
        log.info(
            "%d agents started in %.1f s (%s%s)", len(self.agents), time.monotonic() - t0,
            f"{len(own)} own processes" if own else "", f", {len(groups)} agent hosts" if groups else "",
        )

    async def _start_own_agent(self, config: Any, on_robot_node: bool) -> dict[str, str]:
        from .cerebellum.actor import start_agent

        robot = config.robot.id
        # Ray restarts a dead agent's process; the supervisor then starts its agent
        spawn = {"on_robot_node": on_robot_node, "max_restarts": self.settings.agent.max_restarts}
        self._spawn_options[robot] = spawn
        try:
            handle = await start_agent(
                config, namespace=self.settings.ray.namespace, timeout_s=self.settings.agent.start_timeout_s, **spawn
            )
        except TimeoutError:
            return {robot: f"no agent after {self.settings.agent.start_timeout_s:.0f} s"}
        self.agents[robot] = handle
        return {}

    async def _start_host(self, index: int, configs: list[Any]) -> dict[str, str]:
        from .agent_protocol import HostedAgent
        from .cerebellum.host import start_host

        host, problems = await start_host(
            configs, index=index, namespace=self.settings.ray.namespace,
            timeout_s=self.settings.agent.start_timeout_s, max_restarts=self.settings.agent.max_restarts,
        )
        self._hosts.append(host)
        for config in configs:
            self.agents[config.robot.id] = HostedAgent(host, config.robot.id)
        return problems

    async def _mark_offline(self, robot: str) -> None:
        from robo_os_memory.models import RobotStatusValue

        if self.memory is None:
            return
        try:
            if await self.memory.get_robot(robot) is not None:
                await self.memory.update_robot(robot, status=RobotStatusValue.offline)
        except Exception as e:  # reported already; memory keeps what it had
            log.warning("robot=%s: not marked offline: %s", robot, e)

    def _world_observers(self) -> Any:
        from .recovery import WorldObservers

        assert self.recovery is not None
        return WorldObservers(self.recovery.observers, ask_all=True)

    async def _start_recovery(self) -> None:
        """Follow robot liveness: a robot whose agent is declared dead is halted in the
        world, reconciled from it and its leases released (robo_os/recovery.py); then the
        agent Ray restarted is started again (robo_os/supervisor.py)."""
        if self.memory is None:
            return
        from .recovery import DeadRobotRecovery
        from .sim import RayWorldClient
        from .supervisor import AgentSupervisor

        self.supervisor = AgentSupervisor(
            self.memory,
            self.agents,
            self._agent_configs,
            namespace=self.settings.ray.namespace,
            spawn_options=self._spawn_options,
            start_timeout_s=self.settings.agent.start_timeout_s,
            world=RayWorldClient(self.world) if self.world is not None else None,
        )
        client = RayWorldClient(self.world) if self.world is not None else None
        observers = sim_observers(self.fleet, client) if client is not None else {}
        self.recovery = DeadRobotRecovery(self.memory, client, observers, after=self.supervisor.revive)
        self.recovery.start()
        self._stops.push_async_callback(self.recovery.close)

    def _planner_factory(self, settings: Settings, memory: Memory) -> Planner:
        from .brain.app import default_planner_factory

        return default_planner_factory(settings, memory, images=self.camera_images)

    async def camera_images(self) -> dict[str, bytes]:
        """Every camera-carrying robot's current view (PNG), for vision planning."""
        names = list(self.agents)
        replies = await asyncio.gather(*(self.agents[n].camera_image.remote() for n in names), return_exceptions=True)
        return {n: r for n, r in zip(names, replies, strict=True) if isinstance(r, bytes) and r}

    async def stop(self) -> None:
        """Stop what `start` started, in reverse order; safe after a partial start."""
        await self._stops.aclose()

    async def _stop_agents(self) -> None:
        import ray

        from .agent_protocol import HostedAgent

        if self.agents:
            stops = [h.stop.remote() for h in self.agents.values()]
            done = await asyncio.gather(*(asyncio.wait_for(asyncio.wrap_future(s.future()), 10) for s in stops), return_exceptions=True)
            for name, out in zip(self.agents, done, strict=True):
                if isinstance(out, BaseException):
                    log.warning("agent %s did not stop cleanly: %s", name, out)
        for h in [h for h in self.agents.values() if not isinstance(h, HostedAgent)] + self._hosts:
            ray.kill(h, no_restart=True)
        self.agents.clear()
        self._hosts.clear()

    async def _stop_world(self) -> None:
        import ray

        try:
            await asyncio.wait_for(asyncio.wrap_future(self.world.close.remote().future()), 10)
        except Exception as e:  # the actor is killed next either way
            log.warning("world did not stop cleanly: %s", e)
        ray.kill(self.world, no_restart=True)
        self.world = None

    async def _stop_memory(self) -> None:
        assert self.memory is not None
        await self.memory.close()
        self.memory = None

    async def _stop_ray(self) -> None:
        import ray

        await asyncio.to_thread(ray.shutdown)
        self._own_ray = False

    async def _stop_redis(self) -> None:
        assert self.redis is not None
        await asyncio.to_thread(self.redis.stop)
        self.redis = None


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _server(config: Any) -> Any:
    """uvicorn's server, except that the SIGINT or SIGTERM that stopped it is not raised
    again when `serve` returns (uvicorn does, to run the process's earlier handler): that
    cancelled the stack's stop half-way (SIGINT) or killed the process before it (SIGTERM,
    what systemd sends). The stack stops first; `run_stack` then exits as the signal
    asks. A second signal while stopping is the force-quit."""
    import uvicorn

    class StackServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            before = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

    return StackServer(config)


def run_deployment(settings: Settings, *, data_dir: Path | None = None) -> None:
    """Run Redis, Ray, the world and the agents, no brain, until SIGINT/SIGTERM (what
    `robo-os up --no-brain` does): brains of their own (`robo-os brain`) serve the API,
    and come and go while the robots keep their agents."""

    async def main() -> None:
        stack = Stack(settings, data_dir=data_dir)
        await stack.start_deployment()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, stopping.set)
        try:
            import ray

            # a local Ray checks a token (~/.ray/auth_token; RAY_AUTH_TOKEN elsewhere)
            # unless told not to: a brain must then ask for token auth too
            auth = "" if os.environ.get("RAY_AUTH_MODE") == "disabled" else "RAY_AUTH_MODE=token "
            log.info(
                "robo-os deployment is up (no brain). Start brains with: %sROBO_OS_REDIS__URL=%s"
                " ROBO_OS_RAY__ADDRESS=%s ROBO_OS_RAY__NAMESPACE=%s robo-os brain --port PORT",
                auth, stack._redacted_redis_url(), ray.get_runtime_context().gcs_address,
                stack.settings.ray.namespace,
            )
            await stopping.wait()
        finally:
            for sig in _STOP_SIGNALS:
                loop.remove_signal_handler(sig)
            await stack.stop()
            log.info("robo-os deployment stopped")

    asyncio.run(main())


def run_brain(settings: Settings) -> None:
    """Run one brain (API and scheduler) against a deployment another process runs
    (`robo-os up --no-brain`, or a cluster's): its Redis (`redis.url`) and Ray cluster
    (`ray.address`), where it finds the agents and the world by name. With `ha.enabled`
    it is one of several brains (brain/runtime/leadership.py)."""
    import ray
    import uvicorn

    if settings.redis.url is None:
        raise ConfigError("robo-os brain needs the deployment's Redis: set ROBO_OS_REDIS__URL")
    if settings.ray.address is None:
        raise ConfigError(
            "robo-os brain needs the deployment's Ray cluster: set ROBO_OS_RAY__ADDRESS"
            " (host:port of its head, or `auto` on one of its nodes)"
        )
    settings = ensure_token(settings)
    listener = bind_listener(settings.api.host, settings.api.port)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        # here, in the main thread (Ray installs signal handlers); the app's dispatcher
        # then uses this connection
        ray.init(
            address=settings.ray.address,
            namespace=settings.ray.namespace,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as e:
        listener.close()
        raise ConfigError(f"cannot join the Ray cluster at {settings.ray.address}: {e}") from e

    async def main() -> None:
        from .brain.app import create_app

        app = create_app(settings)
        observers = _world_observers(settings)
        if observers is not None:  # what `GET /v1/world/diff` compares memory with
            app.state.world_observers = observers
        server = _server(uvicorn.Config(app, log_config=None, lifespan="on"))
        log.info("robo-os brain is up: http://%s:%d", settings.api.host, settings.api.port)
        await server.serve(sockets=[listener])
        log.info("robo-os brain stopped")

    try:
        asyncio.run(main())
    finally:
        listener.close()
        ray.shutdown()


def sim_observers(fleet: FleetConfig, client: Any) -> dict[str, Any]:
    """robot -> its observer (`SimRobot`) for every simulated robot of the fleet, through
    the world actor's client: what reconciliation and `GET /v1/world/diff` ask."""
    from .sim import SimRobot

    return {rc.id: SimRobot(rc, client) for rc in fleet.robots if rc.driver == "sim"}


def _world_observers(settings: Settings) -> Any:
    """The simulated robots' observers, through the deployment's world actor (None when
    it runs none)."""
    import ray

    from .recovery import WorldObservers
    from .sim import RayWorldClient
    from .sim.actor import WORLD_ACTOR_NAME

    try:
        world = ray.get_actor(WORLD_ACTOR_NAME, namespace=settings.ray.namespace)
    except ValueError:
        return None
    observers = sim_observers(load_fleet(settings.fleet_file), RayWorldClient(world))
    return WorldObservers(observers, ask_all=True) if observers else None


def run_stack(settings: Settings, *, data_dir: Path | None = None) -> None:
    """Run the whole stack until SIGINT/SIGTERM (what `robo-os up` does)."""
    import uvicorn

    # the API's port first: a busy one is a clear error in a moment, not after Redis, Ray
    # and every agent have started
    listener = bind_listener(settings.api.host, settings.api.port)

    stopped_by: list[Any] = []

    async def main() -> None:
        stack = Stack(settings, data_dir=data_dir)
        app = await stack.start()
        try:
            config = uvicorn.Config(app, log_config=None, lifespan="on")
            server = _server(config)
            stopped_by.append(server)
            log.info(
                "robo-os is up: http://%s:%d  (console at /console/, API docs at /docs; try `robo-os submit \"bring the apple to the dining table\" --wait`)",
                stack.settings.api.host, stack.settings.api.port,
            )
            await server.serve(sockets=[listener])
        finally:
            await stack.stop()
            log.info("robo-os stopped")

    try:
        asyncio.run(main())
    finally:
        listener.close()
    if stopped_by and signal.SIGINT in stopped_by[0]._captured_signals:
        raise SystemExit(130)  # the shell's code for "interrupted"; SIGTERM: 0
