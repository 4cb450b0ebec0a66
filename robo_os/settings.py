"""robo-os settings: one pydantic-settings root, read from `ROBO_OS_*` environment
variables (nested with `__`, e.g. `ROBO_OS_LLM__BASE_URL`) and built once, at the entry
point (CLI or app factory). Nothing reads the environment anywhere else.

The fleet and scene (robots, places, objects) live in a YAML file: see `robo_os.fleet`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

__all__ = [
    "APISettings",
    "AgentSettings",
    "FaultSettings",
    "HASettings",
    "LLMEndpointSettings",
    "LLMSettings",
    "MemorySettings",
    "RaySettings",
    "RedisSettings",
    "SchedulerSettings",
    "Settings",
    "SimSettings",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedisSettings(_Section):
    url: str | None = None
    """Redis URL (redis://, rediss://, with user:password@ for ACLs). None: `robo-os up`
    starts an embedded redis-server on a free port and stops it on exit."""
    key_prefix: str = "robo-os"
    """Every key starts with this; isolates tenants and test runs."""
    max_connections: int = Field(default=64, ge=1)
    """Connections of each of the brain's Redis pools (memory, task store). A pool
    that is all in use makes a caller wait for a connection, never fail."""
    pool_timeout_s: float = Field(default=20.0, gt=0)
    """How long a call waits for a pooled connection before it fails (the wait is not
    part of a memory call's 5 s deadline for Redis to answer)."""


class RaySettings(_Section):
    address: str | None = None
    """Ray cluster to join (e.g. `ray://head:10001` or `auto`). None: a local runtime."""
    namespace: str = "robo-os"


class LLMEndpointSettings(_Section):
    base_url: str
    api_key: SecretStr | None = None
    model: str | None = None


class LLMSettings(_Section):
    base_url: str | None = None
    """OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp, hosted). None: the embedded
    deterministic planner plans alone."""
    model: str | None = None
    api_key: SecretStr | None = None
    replicas: list[LLMEndpointSettings] = Field(default_factory=list)
    """More endpoints serving the same model; calls fail over between all of them."""
    vision: bool = False
    """Send the robots' camera images with the planning request."""
    tool_calling: bool = True
    """Ask for a forced tool call; False: ask for JSON text (models without tool calling)."""
    mode: Literal["plan", "goal"] = "plan"
    """What the model is asked for (a task may choose its own): `plan` — the goal and a
    plan, which the checker verifies against that goal and its constraints; `goal` —
    only the goal, which the embedded planner plans (best for small models; only what
    the goal language can say). docs/planning.md."""
    constrained_output: bool = True
    """Send the answer's JSON schema with the live robot, object, place and skill names
    (`response_format` in text mode, the tool's parameters in tool mode); a server that
    refuses it gets requests without it from then on."""
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    max_concurrency: int = Field(default=4, ge=1)
    repair_attempts: int = Field(default=2, ge=0)
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=2048, ge=16)

    @property
    def enabled(self) -> bool:
        return self.base_url is not None or bool(self.replicas)


class APISettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token: SecretStr | None = None
    """Bearer token every /v1 request must carry. None: `robo-os up` generates one and
    writes it to `<state_dir>/api-token`, where the CLI finds it."""
    auth: bool = True
    """False disables auth entirely (only for a closed network)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest request body accepted (413 above it, refused while reading)."""
    audit_maxlen: int = Field(default=100_000, ge=100)
    """Approximate cap on the audit stream (XADD MAXLEN ~): the oldest entries go first."""


class MemorySettings(_Section):
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    history_maxlen: int = Field(default=100_000, ge=100)
    history_max_age_s: float | None = None


class FaultSettings(_Section):
    """Faults the simulator injects, each a probability per motion (docs/reliability.md).
    Deterministic: the same seed, robot and n-th motion of a kind draw the same faults."""

    grasp_slip: float = Field(default=0.0, ge=0, le=1)
    """A pick's grasp slips while lifting: the object falls where it falls."""
    drop_carrying: float = Field(default=0.0, ge=0, le=1)
    """A drive while holding something drops it on the way (the drive itself goes on)."""
    blocked_path: float = Field(default=0.0, ge=0, le=1)
    """A drive stops part-way, blocked (`collision`)."""
    slow: float = Field(default=0.0, ge=0, le=1)
    """Any motion runs `slow_factor` times slower."""
    stuck: float = Field(default=0.0, ge=0, le=1)
    """Any motion never progresses (until cancelled or its deadline)."""
    slow_factor: float = Field(default=4.0, ge=1)
    seed: int | None = None
    """None: the simulator's seed."""
    robots: list[str] = Field(default_factory=list)
    """Only these robots' motions (empty: every robot's)."""

    @property
    def active(self) -> bool:
        return any(
            (self.grasp_slip, self.drop_carrying, self.blocked_path, self.slow, self.stuck)
        )


class SimSettings(_Section):
    engine: Literal["physics", "kinematic"] = "physics"
    """`physics`: the pybullet world (small fleets); `kinematic`: no physics, motions
    interpolated at the robots' speeds and grasps as state changes (robo_os/sim/kinematic.py),
    for fleets of hundreds of robots."""
    timestep_s: float = Field(default=1.0 / 240.0, gt=0)
    seed: int = 0
    real_time: bool = False
    """True: pace the simulation to the wall clock (for watching); False: as fast as it goes."""
    camera_width: int = Field(default=320, ge=16)
    camera_height: int = Field(default=240, ge=16)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    """Injected faults (`ROBO_OS_SIM__FAULTS='{"grasp_slip": 0.05}'` or the fleet file's
    settings section); none by default."""
    max_restarts: int = Field(default=20, ge=-1)
    """How many times Ray restarts the world actor whose process died (-1: always; 0:
    never); the restarted world is rebuilt from the shared memory (docs/reliability.md,
    "Supervised world"), as `agent.max_restarts` is for agents."""


class AgentSettings(_Section):
    llm_subtasks: bool = False
    """Let a robot turn a natural-language subtask into skill calls with its own model
    (RoboOS's robot-side mode); uses `llm` unless `agent_llm` is set."""
    max_llm_steps: int = Field(default=8, ge=1)
    cancel_grace_s: float = Field(default=2.0, gt=0)
    reconcile: Literal["off", "failures", "always"] = "failures"
    """When the agent corrects memory from what the robot observes (drivers that observe
    only; docs/memory.md): after failed or cancelled skills, after every skill, or never."""
    reconcile_interval_s: float | None = Field(default=None, gt=0)
    """Also reconcile this often while idle; None: only after failures."""
    max_restarts: int = Field(default=20, ge=-1)
    """How many times Ray restarts an agent whose process died (-1: always; 0: never);
    the restarted agent registers its robot again (docs/reliability.md, "Supervised
    agents")."""
    start_timeout_s: float = Field(default=120.0, gt=0)
    """How long an agent (re)start may take before it counts as failed."""
    hosting: Literal["process", "shared"] = "process"
    """Where robots' agents run: each in its own Ray actor process (`process`), or up to
    `robots_per_host` of them in one agent host process (`shared`: ~100 MB and a process
    start saved per robot; a host that dies takes its robots with it, and Ray restarts
    it). A robot with `on_robot_node` always gets its own process on its node."""
    robots_per_host: int = Field(default=25, ge=1)
    """How many robots' agents one agent host process runs (`hosting: shared`)."""


class TracingSettings(_Section):
    """OpenTelemetry traces (robo_os/tracing.py): off unless an endpoint is set."""

    otlp_endpoint: str | None = None
    """OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces` (needs the `otel` extra)."""
    service_name: str = "robo-os"


class HASettings(_Section):
    """Several brains on one Redis and one Ray cluster (docs/deployment.md, "Several
    brains"): one leads and runs every task, the others serve the same API by
    forwarding to it and take over when its lease lapses."""

    enabled: bool = False
    """Campaign for the lead instead of assuming it (off: this is the only brain)."""
    lease_ttl_s: float = Field(default=3.0, gt=0.2, le=600.0)
    """How long the leader's lease lives unrenewed: a dead leader's tasks are taken over
    within about this (renewed every third of it)."""
    brain_id: str | None = None
    """This brain's name in the lease and in the logs (default: host name and pid)."""
    advertise_url: str | None = None
    """Where the other brains reach this one's API (default `http://api.host:api.port`;
    for a wildcard host, the address the host's name resolves to)."""


class SchedulerSettings(_Section):
    max_attempts: int = Field(default=3, ge=1)
    """Tries of one subtask (first run + retries + reassignments) before replanning."""
    max_replans: int = Field(default=2, ge=0)
    default_timeout_s: float | None = Field(default=None, gt=0)
    """Overrides every skill's declared timeout when set."""
    retry_backoff_s: float = Field(default=0.2, ge=0)
    """Delay before retrying a subtask after a transient error, times the attempt number."""
    rebalance: bool = True
    """Move a ready subtask whose robot is busy to an idle equivalent robot (Planner.reassign)."""
    terminal_ttl_s: float = Field(default=7 * 86400.0, gt=0)
    """How long a finished task's record and events stay in Redis."""
    events_maxlen: int = Field(default=10_000, ge=100)
    """Approximate cap on one task's event stream (XADD MAXLEN ~)."""
    claim_wait_s: float | None = Field(default=600.0, gt=0)
    """How long a task waits for objects another task claims before it fails naming the
    holder; None: no limit."""
    store_outage_s: float = Field(default=60.0, gt=0)
    """How long a task's runner waits for an unreachable Redis before it stops and leaves
    the task to the reconciler (which adopts it once Redis answers again)."""
    reconcile_interval_s: float = Field(default=5.0, gt=0)
    """How often the brain looks for active tasks that no runner of it owns (and adopts them)."""
    infrastructure_retries: int = Field(default=3, ge=0)
    """Extra attempts a subtask gets, on the same robot, after failures the infrastructure
    caused (Redis or Ray gone), beyond `max_attempts`."""
    approval_skills: list[str] = Field(default_factory=list)
    """Skills whose subtasks wait for a person's approval before they are dispatched, on
    top of those declared `@skill(requires_approval=True)` (docs/operations.md)."""
    max_identical_failures: int = Field(default=3, ge=1)
    """The same call (skill and arguments) failing with the same error this many times,
    on any robots, fails the task naming it (replans avoid each failed call anyway)."""
    offline_wait_s: float = Field(default=60.0, ge=0)
    """When a replan finds no plan while robots of the fleet are offline (an agent host
    or a robot's computer restarting), wait this long for one to come back online,
    replanning each time one does, before the task fails (0: fail at once)."""
    held_on_end: Literal["put_back", "put_down", "keep"] = "put_back"
    """What a failed or cancelled task does with objects its robots still hold: put each
    back where it was picked up (else on the nearest place that works), put it down on
    the nearest place that works, or keep it in hand (docs/execution.md, "Recovery")."""
    verify_goal: bool = True
    """After every subtask succeeded, a task with a goal succeeds only if the goal holds
    in memory (else it replans once, then fails naming the unmet facts); False: it
    succeeds when its subtasks do (robots whose skills do not write the world to memory)."""
    max_active_tasks: int | None = Field(default=256, ge=1)
    """Admission limit: tasks this brain runs at once (pending, planning, queued,
    running). A submission over it waits up to `admission_wait_s` for one to end, else
    is refused with 429 and `Retry-After`; None: no limit (docs/reliability.md)."""
    admission_wait_s: float = Field(default=0.0, ge=0)
    """How long a submission over the limit waits for a slot (0: refused at once)."""
    admission_queue: int = Field(default=64, ge=0)
    """How many submissions may wait for a slot at once; the next one is refused."""
    retry_after_s: int = Field(default=2, ge=1)
    """The `Retry-After` a refused submission is given."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROBO_OS_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    redis: RedisSettings = Field(default_factory=RedisSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    agent_llm: LLMSettings | None = None
    api: APISettings = Field(default_factory=APISettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    ha: HASettings = Field(default_factory=HASettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    fleet_file: Path | None = None
    """YAML file with the fleet and scene; None: the embedded household demo."""
    state_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "state" / "robo-os")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per log line (ts, level, logger, message, and task/robot
    fields where the record carries them), for log shippers."""

    @model_validator(mode="after")
    def _llm_needs_model(self) -> Settings:
        if self.llm.base_url is not None and not self.llm.model:
            from .errors import ConfigError

            raise ConfigError("ROBO_OS_LLM__MODEL must be set when ROBO_OS_LLM__BASE_URL is")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments beat the environment, which beats the YAML file's `settings:`.
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings, dotenv_settings)
        if settings_cls.model_config.get("yaml_file"):
            sources += (YamlConfigSettingsSource(settings_cls),)
        return (*sources, file_secret_settings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once, at an entry point.

    `config_file` is the fleet YAML (`robo-os up --config FILE`); its optional
    `settings:` section holds the same keys as the environment (`llm: {base_url: ...}`),
    and `ROBO_OS_*` variables override it. The file also becomes `fleet_file`.
    """
    from .errors import ConfigError

    cls: type[Settings] = Settings
    if config_file is not None:
        try:
            data = yaml.safe_load(Path(config_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config file {config_file}: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: expected a mapping at the top level")
        if data.get("settings"):
            config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": str(config_file), "yaml_config_section": "settings"})
            cls = type("Settings", (Settings,), {"model_config": config, "__module__": __name__})
        overrides.setdefault("fleet_file", Path(config_file))
    try:
        return cls(**overrides)
    except ValidationError as e:
        raise ConfigError(f"invalid settings:\n{e}") from e
