"""A small synchronous client of the brain's REST API (used by the CLI; fine for apps)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from httpx_sse import connect_sse

from .errors import NotFoundError, RoboOSError, ServiceUnavailableError, UserError
from .settings import Settings
from .tokens import read_token, token_path

__all__ = ["APIError", "RoboOSClient"]


class APIError(RoboOSError):
    """The API answered with an error; `status` and `body` say what."""

    def __init__(self, status: int, body: Any) -> None:
        err = body.get("error") if isinstance(body, dict) else None
        message = err.get("message") if isinstance(err, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {message or detail or body}")
        self.status = status
        self.body = body


class RoboOSClient:
    def __init__(self, base_url: str, token: str | None = None, *, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.token_hint = ""
        """Said with a 401 when no token was found (where the client looked)."""
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None) -> RoboOSClient:
        token = read_token(settings)
        host = "127.0.0.1" if settings.api.host in ("0.0.0.0", "::") else settings.api.host
        client = cls(url or f"http://{host}:{settings.api.port}", token)
        if token is None:
            client.token_hint = (
                f"no API token found: looked in ROBO_OS_API__TOKEN and {token_path(settings)}"
                " (`robo-os up` writes one there)"
            )
        return client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RoboOSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise ServiceUnavailableError(f"cannot reach the robo-os API at {self.base_url}: {e}") from e
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = r.text
            if r.status_code == 404:
                raise NotFoundError(str(APIError(r.status_code, body))) from APIError(r.status_code, body)
            if r.status_code == 401 and self.token_hint:
                raise UserError(f"{APIError(r.status_code, body)}; {self.token_hint}")
            if 400 <= r.status_code < 500:
                raise UserError(str(APIError(r.status_code, body))) from APIError(r.status_code, body)
            raise APIError(r.status_code, body)
        return r.json() if r.content else None

    # -- tasks ----------------------------------------------------------------------
    def submit(
        self, instruction: str | None = None, plan: dict[str, Any] | None = None, *, priority: int = 0
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"priority": priority} if priority else {}
        if instruction is not None:
            body["instruction"] = instruction
        if plan is not None:
            body["plan"] = plan
        return dict(self._request("POST", "/v1/tasks", json=body))

    def task(self, task_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/v1/tasks/{task_id}"))

    def tasks(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        out = self._request("GET", "/v1/tasks", params=params)
        return list(out["tasks"] if isinstance(out, dict) else out)

    def cancel(self, task_id: str) -> dict[str, Any]:
        return dict(self._request("POST", f"/v1/tasks/{task_id}/cancel"))

    def wait(self, task_id: str, timeout_s: float = 300.0) -> dict[str, Any]:
        """Block until the task ends (long-polls the server; no client-side polling loop
        beyond re-issuing the long poll when the server's own wait window ends)."""
        deadline = time.monotonic() + timeout_s
        while True:
            window = max(1.0, min(30.0, deadline - time.monotonic()))
            task = dict(self._request("GET", f"/v1/tasks/{task_id}/wait", params={"timeout": window}, timeout=window + 10))
            if task.get("status") in ("succeeded", "failed", "cancelled") or time.monotonic() >= deadline:
                return task

    def events(self, task_id: str, cursor: str | None = None) -> Iterator[dict[str, Any]]:
        """The task's events as they happen (Server-Sent Events), until it ends."""
        headers = {"Last-Event-ID": cursor} if cursor else {}
        path = f"/v1/tasks/{task_id}/events"
        with connect_sse(self._http, "GET", path, headers=headers, timeout=None) as source:
            r = source.response
            if r.status_code >= 400:
                r.read()
                raise APIError(r.status_code, r.json() if r.content else None)
            for sse in source.iter_sse():
                # httpx-sse keeps the last event id across events (as the spec says), so a
                # keep-alive comment after an event comes out as an event with no data: skip it
                if sse.data:
                    yield dict(sse.json())

    # -- fleet and memory ---------------------------------------------------------
    def robots(self) -> list[dict[str, Any]]:
        out = self._request("GET", "/v1/robots")
        return list(out["robots"] if isinstance(out, dict) else out)

    def restart_robot(self, robot: str, *, force: bool = False) -> dict[str, Any]:
        """Restart the robot's agent (409 while it runs a skill unless `force`)."""
        params = {"force": "true"} if force else {}
        return dict(self._request("POST", f"/v1/robots/{robot}/restart", params=params))

    def skills(self) -> list[dict[str, Any]]:
        out = self._request("GET", "/v1/skills")
        return list(out["skills"] if isinstance(out, dict) else out)

    def objects(self) -> list[dict[str, Any]]:
        out = self._request("GET", "/v1/memory/objects")
        return list(out["objects"] if isinstance(out, dict) else out)

    def object(self, name: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/v1/memory/objects/{name}"))

    def world_diff(self) -> dict[str, Any]:
        """`GET /v1/world/diff`: where memory and the robots' observations disagree."""
        return dict(self._request("GET", "/v1/world/diff"))

    def places(self) -> list[dict[str, Any]]:
        out = self._request("GET", "/v1/memory/places")
        return list(out["places"] if isinstance(out, dict) else out)

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/healthz"))

    # -- safety and access (docs/operations.md) ------------------------------------
    def estop(self, reason: str = "", robots: Sequence[str] = ()) -> dict[str, Any]:
        """Engage the emergency stop (operator scope): every robot, or only `robots`."""
        body = {"reason": reason, "robots": list(robots)}
        return dict(self._request("POST", "/v1/estop", json=body))

    def release_estop(self, reason: str = "", robots: Sequence[str] = ()) -> dict[str, Any]:
        """Release the emergency stop (admin scope): the global one, or `robots`' own."""
        body = {"reason": reason, "robots": list(robots)}
        return dict(self._request("POST", "/v1/estop/release", json=body))

    def estop_state(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/estop"))

    def approve(self, task_id: str, subtask_id: str, reason: str = "") -> dict[str, Any]:
        path = f"/v1/tasks/{task_id}/subtasks/{subtask_id}/approve"
        return dict(self._request("POST", path, json={"reason": reason}))

    def reject(self, task_id: str, subtask_id: str, reason: str = "") -> dict[str, Any]:
        path = f"/v1/tasks/{task_id}/subtasks/{subtask_id}/reject"
        return dict(self._request("POST", path, json={"reason": reason}))

    def create_token(self, name: str, scope: str) -> dict[str, Any]:
        """A new named token; the answer's `token` is the secret, shown once (admin)."""
        return dict(self._request("POST", "/v1/tokens", json={"name": name, "scope": scope}))

    def tokens(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/tokens")["tokens"])

    def revoke_token(self, name: str) -> None:
        self._request("DELETE", f"/v1/tokens/{name}")

    def audit(self, cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return dict(self._request("GET", "/v1/audit", params=params))
