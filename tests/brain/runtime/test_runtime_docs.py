"""The API reference pages work with no internet: every script and stylesheet /docs and
/redoc load is served by the brain itself."""

from __future__ import annotations

import re

from .runtime_fakes import ScriptedPlanner


async def test_docs_and_redoc_load_only_local_assets(fleet, make_api) -> None:
    api = await make_api(ScriptedPlanner(), await fleet("r1"), token=None)
    for page, needed in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = await api.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert any(a.endswith(needed) for a in assets), assets
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            got = await api.client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset
        assert "SwaggerUIBundle" in r.text or "Redoc" in r.text or "redoc" in r.text
    spec = (await api.client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "robo-os brain"
