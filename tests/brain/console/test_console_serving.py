"""The console's files: where they come from, how they are served, and that serving them
opens nothing else."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from robo_os.brain.api.routes.console import CONSOLE_FILES, CONSOLE_PACKAGE

from .console_support import TOKEN, Brain, console_text

TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


def test_package_data_is_found_through_importlib_resources() -> None:
    package = resources.files(CONSOLE_PACKAGE)
    shipped = {
        p.name for p in package.iterdir() if p.is_file() and not p.name.endswith((".py", ".pyc"))
    }
    # Every data file in the package is served, and everything served is shipped.
    assert shipped == set(CONSOLE_FILES) == set(TYPES)
    for name in TYPES:
        assert package.joinpath(name).read_bytes().strip(), name


async def test_root_redirects_to_the_console(brain: Brain) -> None:
    for path in ("/", "/console"):
        r = await brain.client.get(path)
        assert r.status_code == 307, path
        assert r.headers["location"] == "console/"
    r = await brain.client.get("/", follow_redirects=True)
    assert r.status_code == 200
    assert str(r.url) == "http://brain/console/"
    assert r.text == console_text("index.html")


@pytest.mark.parametrize("name", sorted(TYPES))
async def test_files_are_served_without_a_token(brain: Brain, name: str) -> None:
    r = await brain.client.get(f"/console/{name}")
    assert "authorization" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 200
    assert r.headers["content-type"] == TYPES[name]
    assert r.content == resources.files(CONSOLE_PACKAGE).joinpath(name).read_bytes()
    csp = r.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'"):
        assert directive in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_index_is_the_directory_page(brain: Brain) -> None:
    r = await brain.client.get("/console/")
    assert r.status_code == 200
    assert r.headers["content-type"] == TYPES["index.html"]
    assert r.text == console_text("index.html")


async def test_revalidation_answers_304(brain: Brain) -> None:
    first = await brain.client.get("/console/console.js")
    etag = first.headers["etag"]
    again = await brain.client.get("/console/console.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await brain.client.get("/console/console.js", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/console/__init__.py",
        "/console/missing.js",
        "/console/..%2Fapp.py",
        "/console/%2e%2e/routes/console.py",
        "/console/../app.py",
        "/console/sub/index.html",
    ],
)
async def test_nothing_else_is_reachable(brain: Brain, path: str) -> None:
    r = await brain.client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "import" not in r.text


async def test_index_refers_only_to_shipped_files(brain: Brain) -> None:
    html = console_text("index.html")
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "console.js" in refs and "console.css" in refs
    for ref in refs:
        # relative to /console/; nothing from another origin
        assert not re.match(r"^(?:[a-z]+:)?//", ref), ref
        r = await brain.client.get(f"/console/{ref}", follow_redirects=True)
        assert r.status_code == 200, ref


@pytest.mark.parametrize("name", sorted(TYPES))
def test_no_third_party_or_network_resources(name: str) -> None:
    # the SVG namespace is a name, never fetched
    text = console_text(name).replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), name
    assert "@import" not in text
    assert "<script>" not in text and "style=" not in text  # the CSP forbids inline code


async def test_the_console_does_not_open_the_api(brain: Brain) -> None:
    await brain.client.get("/console/")
    r = await brain.client.get("/v1/robots")
    assert r.status_code == 401
    ok = await brain.client.get("/v1/robots", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert "/" not in brain.app.openapi()["paths"]  # the static routes stay out of the API docs


async def test_head_is_answered_like_get(brain: Brain) -> None:
    for path, status in (("/", 307), ("/console/", 200), ("/console/console.css", 200)):
        r = await brain.client.head(path)
        assert r.status_code == status, path
    r = await brain.client.head("/console/console.css")
    assert r.headers["content-type"] == TYPES["console.css"]
    assert (await brain.client.head("/console/nope.css")).status_code == 404
