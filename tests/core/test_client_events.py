"""The REST client's event stream: frames in any field order, keep-alive comments between
events skipped, an error status raised before any event."""

from __future__ import annotations

import json

import httpx
import pytest

from robo_os.client import APIError, RoboOSClient


def _client(handler: httpx.MockTransport) -> RoboOSClient:
    client = RoboOSClient("http://brain.test", "t0ken")
    client._http = httpx.Client(base_url=client.base_url, transport=handler)
    return client


def test_events_skip_keepalives_and_resume_from_the_cursor() -> None:
    seen: list[httpx.Request] = []
    frames = [
        f"event: created\ndata: {json.dumps({'kind': 'created'})}\nid: 1-0\n\n",
        ": ping\n\n",  # after an event that set an id: must not come out as an empty event
        f"id: 2-0\nevent: succeeded\ndata: {json.dumps({'kind': 'succeeded'})}\n\n",
        ": ping\n\n",
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = "".join(frames).encode()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    with _client(httpx.MockTransport(handler)) as client:
        kinds = [e["kind"] for e in client.events("t1", cursor="0-5")]
    assert kinds == ["created", "succeeded"]
    assert seen[0].url.path == "/v1/tasks/t1/events"
    assert seen[0].headers["Last-Event-ID"] == "0-5"


def test_events_raise_the_api_error_before_streaming() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"message": "no task 't1'"}})

    with _client(httpx.MockTransport(handler)) as client, pytest.raises(APIError) as err:
        next(client.events("t1"))
    assert err.value.status == 404 and "no task 't1'" in str(err.value)
