"""The web console: `/` redirects to `/console/`, which serves the static page shipped in
`robo_os.brain.api.console` (index.html, console.js, console.css).

The files need no token: they hold no data. The page asks for the API token, keeps it in
the tab's sessionStorage and sends it as `Authorization: Bearer` on every API call, so the
API behind it stays exactly as protected as without a console. A strict
Content-Security-Policy (same-origin scripts, styles and connections only; no inline
code; no framing) keeps injected text from ever running as code.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ....errors import NotFoundError

__all__ = ["CONSOLE_FILES", "CONSOLE_PACKAGE", "router"]

CONSOLE_PACKAGE = "robo_os.brain.api.console"
"""The package whose data files are the console."""

CONSOLE_FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
"""Every file the console route serves, with its content type. Nothing else under the
package (Python sources, caches) is reachable, whatever the request path says."""

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
        " img-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (cheap: ETag), so a restarted brain never runs an old page
    # against a newer API.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def root() -> RedirectResponse:
    # Relative, so the redirect also works behind a proxy that mounts the brain under a prefix.
    return RedirectResponse("console/", status_code=307)


@router.api_route("/console", methods=["GET", "HEAD"])
async def console_no_slash() -> RedirectResponse:
    # The page's own references (console.js, console.css) are relative to /console/.
    return RedirectResponse("console/", status_code=307)


@router.api_route("/console/", methods=["GET", "HEAD"])
async def console_index(request: Request) -> Response:
    return _serve("index.html", request)


@router.api_route("/console/{name}", methods=["GET", "HEAD"])
async def console_file(name: str, request: Request) -> Response:
    return _serve(name, request)


def _serve(name: str, request: Request) -> Response:
    media_type = CONSOLE_FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"no console file {name!r}")
    # importlib.resources reads the file wherever the package is installed (a wheel in
    # site-packages, an editable checkout, a zip).
    body = resources.files(CONSOLE_PACKAGE).joinpath(name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**_HEADERS, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
