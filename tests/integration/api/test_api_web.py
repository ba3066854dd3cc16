"""The dashboard mount, path traversal, security headers, CORS and the OpenAPI document."""

from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_app
from backend.core.settings import override_settings
from tests.api_data import assert_error

pytestmark = pytest.mark.postgres


@pytest.fixture
def dashboard(tmp_path):
    out = tmp_path / "site" / "out"
    (out / "about").mkdir(parents=True)
    (out / "index.html").write_text("<html>home</html>")
    (out / "about" / "index.html").write_text("<html>about</html>")
    (out / "404.html").write_text("<html>not here</html>")
    (tmp_path / "site" / "secret.txt").write_text("TOP SECRET")
    return out


async def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_dashboard_is_served_and_traversal_is_refused(seeded, dashboard):
    with override_settings(api={"static_dir": dashboard}):
        app = create_app()
        async with await _client(app) as c:
            assert (await c.get("/")).text == "<html>home</html>"
            assert (await c.get("/about/")).text == "<html>about</html>"
            missing = await c.get("/nowhere/")
            assert missing.status_code == 404 and "not here" in missing.text
            for path in (
                "/../secret.txt",
                "/%2e%2e/secret.txt",
                "/..%2fsecret.txt",
                "/about/../../secret.txt",
            ):
                r = await c.get(path)
                assert r.status_code == 404 and "TOP SECRET" not in r.text, path
            # The API keeps its JSON 404s under the dashboard's catch-all.
            assert_error(await c.get("/api/v1/nope"), 404, "not_found")
            assert_error(await c.get("/api/other"), 404)
            home = await c.get("/")
            assert "default-src 'self'" in home.headers["content-security-policy"]


async def test_without_a_build_only_the_api_is_served(seeded, tmp_path):
    with override_settings(api={"static_dir": tmp_path / "missing"}):
        async with await _client(create_app()) as c:
            assert_error(await c.get("/"), 404)


async def test_security_headers_on_api_responses(client):
    r = await client.get("/api/v1/tickers")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in r.headers  # plain HTTP here
    https = await client.get("https://t/api/v1/tickers")
    assert https.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_allows_only_configured_origins(seeded):
    with override_settings(api={"cors_origins": ["https://dash.example"]}):
        async with await _client(create_app()) as c:
            preflight = {
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            }
            ok = await c.options("/api/v1/signals", headers={"Origin": "https://dash.example", **preflight})
            assert ok.headers["access-control-allow-origin"] == "https://dash.example"
            bad = await c.options("/api/v1/signals", headers={"Origin": "https://evil.example", **preflight})
            assert "access-control-allow-origin" not in bad.headers


async def test_openapi_documents_every_route_with_errors_and_auth(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert op.get("summary") and op.get("description"), (method, path)
            if path != "/api/v1/health":
                assert {"401", "422", "429"} <= set(op["responses"]), (method, path)
    assert (await client.get("/docs")).status_code == 200
