"""GET /metrics in Prometheus's text format, read back with the Prometheus client's own
parser after real tasks ran."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from robo_os.contracts import ErrorCode, SkillResult

from .runtime_fakes import ScriptedPlanner


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


async def test_metrics_count_tasks_robots_and_skill_durations(fleet, make_api) -> None:
    f = await fleet("r1", "r2")
    f["r1"].auto = lambda call: SkillResult.success("done")
    f["r2"].auto = lambda call: SkillResult.failure(ErrorCode.not_found, "no apple")
    api = await make_api(ScriptedPlanner(robots={"r1", "r2"}), f, max_replans=0)
    for robot in ("r1", "r2"):
        plan = {"subtasks": [{"id": "a", "robot": robot, "skill": "pick", "args": {}}]}
        task = (await api.client.post("/v1/tasks", json={"plan": plan})).json()
        await api.client.get(f"/v1/tasks/{task['id']}/wait", params={"timeout": 20})

    unauthorised = await api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert unauthorised.status_code == 401
    r = await api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    assert got["robo_os_tasks", (("status", "succeeded"),)] == 1
    assert got["robo_os_tasks", (("status", "failed"),)] == 1
    assert got["robo_os_tasks", (("status", "queued"),)] == 0
    assert got["robo_os_queue_depth", ()] == 0
    assert got["robo_os_robots", (("status", "idle"),)] == 2
    # nothing was refused, and each reason has its series (0) from the start
    assert got["robo_os_admissions_refused_total", (("reason", "full"),)] == 0
    assert got["robo_os_admissions_refused_total", (("reason", "wait_timeout"),)] == 0
    assert got["robo_os_skill_duration_seconds_count", (("skill", "pick"),)] == 1
    assert got["robo_os_subtask_duration_seconds_count", (("status", "failed"),)] >= 1
    inf = got["robo_os_skill_duration_seconds_bucket", (("le", "+Inf"), ("skill", "pick"))]
    assert inf == 1
