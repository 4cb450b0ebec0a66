"""/healthz: no auth; says whether Redis, the dispatcher (Ray), the planner and the
scheduler work. 503 with the reason while Redis cannot be reached (docs/reliability.md)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


async def _probe(obj: Any) -> dict[str, Any]:
    # `health_check` (async, asks the services) where a part has one, else its `health`
    probe = getattr(obj, "health_check", None) or getattr(obj, "health", None)
    if probe is None:
        return {"ok": True, "detail": "no health probe"}
    try:
        out = probe()
        if inspect.isawaitable(out):
            out = await out
    except Exception as e:  # a failing probe is a finding, not a crash
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    if isinstance(out, dict):
        return {"ok": bool(out.get("ok", True)), **out}
    return {"ok": bool(out)}


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "A part is not ok."}},
)
async def healthz(request: Request) -> JSONResponse:
    """200 when every part answers, 503 (same body) otherwise."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        down = {"ok": False, "error": "not started"}
        body = Health(status="starting", redis=down, dispatcher=down, planner=down, scheduler=down)
        return JSONResponse(body.model_dump(), status_code=503)
    try:
        redis: dict[str, Any] = {
            "ok": True,
            "latency_ms": round(await runtime.store.ping() * 1000, 2),
        }
    except Exception as e:
        redis = {"ok": False, "error": str(e)}
    body = Health(
        status="ok",
        redis=redis,
        dispatcher=await _probe(runtime.dispatcher),
        planner=await _probe(runtime.planner),
        scheduler=await _probe(runtime.scheduler),
        brain=None if runtime.leadership is None else runtime.leadership.describe(),
    )
    if runtime.leadership is not None and not runtime.leadership.leading:
        # a follower's idle scheduler owns no task by design: it is healthy
        body.scheduler.update(ok=True, unowned=[])
    ok = all(part.get("ok") for part in (body.redis, body.dispatcher, body.planner, body.scheduler))
    body = body.model_copy(update={"status": "ok" if ok else "degraded"})
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
