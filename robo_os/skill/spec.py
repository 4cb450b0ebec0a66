"""SkillSpec: what the brain, the planner's prompt, the REST API and MCP know of a skill.

A spec is data (it crosses Ray and Redis); the callable stays with the agent that runs it.
`build_spec(fn)` derives it from a decorated function's type hints and docstring.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..symbolic.facts import Fact

__all__ = ["SkillSpec"]


class SkillSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    capabilities: tuple[str, ...] = ()
    """Capabilities a robot must offer to run it (sorted)."""
    args_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON schema of the arguments (context parameters excluded)."""
    timeout_s: float = 60.0
    duration_s: float | None = None
    """Expected duration of one call, when the author knows it (the planner's timing;
    None: estimated, see robo_os.brain.planning.timing)."""
    preconditions: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    """Facts of its own the skill declares for its conditions (robo_os.symbolic.facts);
    the brain's catalogue learns them from the published specs."""
    concurrent: bool = False
    requires_approval: bool = False
    """A person must approve each subtask of it before the brain dispatches it."""
    source: str = ""
    """Where it came from: an entry point (`robo_os_skills`), `mcp:<server>`, ..."""
