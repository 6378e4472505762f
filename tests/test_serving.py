"""Production behaviour of the server (Flask test client, small real cache): security headers,
compression, cache headers and the server-side cache, size and rate limits, French errors
without traceback, refused traversal."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace

import brotli
import pytest

from dashboard.app import create_app
from dashboard.server.http_cache import builds_stamp, cache_config
from dashboard.server.limits import storage_uri
from dashboard.vendor import package_version, vendor_url
from layers.config import ConfigError, Settings

DATA_URL = "/api/v1/data?indicator=allocataires&level=commune"


@pytest.fixture(scope="module")
def client(settings: Settings):
    return create_app(settings).server.test_client()


def test_pages_carry_a_csp_whose_nonce_is_on_every_inline_script(client) -> None:
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "worker-src 'self' blob:" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = resp.get_data(as_text=True)
    inline = [tag for tag in html.split("<script")[1:] if "src=" not in tag.split(">", 1)[0]]
    assert inline, "Dash's inline config and renderer scripts are expected"
    assert all(f'nonce="{nonce}"' in tag.split(">", 1)[0] for tag in inline)
    assert client.get("/").headers["Content-Security-Policy"] != csp  # one nonce per request


def test_only_the_embed_page_may_be_framed(client) -> None:
    embed = client.get("/embed?niveau=departement")
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers
    profile = client.get("/territoire/departement/69")
    assert "frame-ancestors 'none'" in profile.headers["Content-Security-Policy"]


def test_compression_is_negotiated(client) -> None:
    plain = client.get(DATA_URL, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    br = client.get(DATA_URL, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert brotli.decompress(br.data) == plain.data
    gz = client.get(DATA_URL, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.data) == plain.data
    assert len(br.data) < len(plain.data) / 4
    assert "Accept-Encoding" in br.headers["Vary"]
    # Dash's own bundles are compressed too; precompressed geometry is not compressed twice.
    page = client.get("/", headers={"Accept-Encoding": "br"})
    assert page.headers["Content-Encoding"] == "br"
    geo = client.get("/geo/departement.geojson", headers={"Accept-Encoding": "gzip, br"})
    assert geo.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(geo.data))["type"] == "FeatureCollection"


def test_cache_headers_by_kind_of_url(client, settings: Settings) -> None:
    data = client.get(DATA_URL)
    assert data.headers["Cache-Control"] == f"public, max-age={settings.data_max_age}"
    etag = data.headers["ETag"]
    again = client.get(DATA_URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    carte = client.get("/api/carte/commune?indicateur=allocataires")
    assert carte.headers["Cache-Control"].startswith("public, max-age=")
    bundle = next(
        part.split('"', 1)[0]
        for part in client.get("/").get_data(as_text=True).split('src="')[1:]
        if part.startswith("/_dash-component-suites/dash/dash-renderer")
    )
    assert "immutable" in client.get(bundle).headers["Cache-Control"]
    assert "immutable" in client.get("/assets/style.css?m=1").headers["Cache-Control"]
    assert client.get("/assets/style.css").headers["Cache-Control"] == "no-cache"
    css = vendor_url(settings.vendor, "bootstrap.min.css")
    assert "?v=" in css and "immutable" in client.get(css).headers["Cache-Control"]
    assert client.get("/vendor/bootstrap.min.css").headers["Cache-Control"] == "no-cache"
    assert client.get("/vendor/bootstrap.min.css?v=old").headers["Cache-Control"] == "no-cache"
    version = package_version(settings.vendor, "maplibre-gl-worker.mjs")
    worker = f"/vendor/maplibre-gl-worker.mjs?v={version}"
    assert "immutable" in client.get(worker).headers["Cache-Control"]
    assert '<script type="importmap"' not in client.get("/").get_data(as_text=True)  # has a nonce
    # Revalidation works with the ETag of the compressed variant the browser holds.
    mjs = client.get("/vendor/maplibre-gl.mjs", headers={"Accept-Encoding": "br"})
    assert mjs.headers["Content-Encoding"] == "br" and mjs.headers["ETag"].endswith('-br"')
    again = client.get(
        "/vendor/maplibre-gl.mjs",
        headers={"Accept-Encoding": "br", "If-None-Match": mjs.headers["ETag"]},
    )
    assert again.status_code == 304 and again.headers["ETag"] == mjs.headers["ETag"]
    assert client.get("/healthz").headers["Cache-Control"] == "no-store"
    error = client.get("/api/v1/data?indicator=inconnu")
    assert error.status_code == 400 and error.headers["Cache-Control"] == "no-store"


def test_data_answers_are_cached_per_build(settings: Settings, monkeypatch) -> None:
    import dashboard.api.v1 as api

    client = create_app(settings).server.test_client()
    calls = []
    payload = api.catalog_payload

    def counting(*args, **kwargs):
        calls.append(1)
        return payload(*args, **kwargs)

    monkeypatch.setattr(api, "catalog_payload", counting)
    first = client.get("/api/v1/catalog")
    second = client.get("/api/v1/catalog")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and len(calls) == 1
    assert client.get("/api/v1/catalog?x=1").status_code == 200 and len(calls) == 2
    # The key names the builds in service: a new build (new link target) is a new key.
    assert builds_stamp(settings) != builds_stamp(replace(settings, cache=settings.cache / "x"))


def test_redis_is_used_only_when_configured(settings: Settings) -> None:
    assert cache_config(settings)["CACHE_TYPE"] == "SimpleCache"
    assert storage_uri(settings) == "memory://"
    shared = replace(settings, redis_url="redis://cache.interne:6379/0")
    config = cache_config(shared)
    assert config["CACHE_TYPE"] == "RedisCache"
    assert config["CACHE_REDIS_URL"] == "redis://cache.interne:6379/0"
    assert storage_uri(shared) == "redis://cache.interne:6379/0"


def test_settings_from_environment_are_checked_in_french() -> None:
    env = {"CAFCARTO_RATE_LIMIT": "0", "CAFCARTO_MAX_REQUEST_BYTES": "5000"}
    settings = Settings.from_env(env)
    assert settings.rate_limit is None and settings.max_request_bytes == 5000
    assert Settings.from_env({}).rate_limit == "300/minute"
    with pytest.raises(ConfigError, match="CAFCARTO_RATE_LIMIT invalide"):
        Settings.from_env({"CAFCARTO_RATE_LIMIT": "beaucoup"})
    with pytest.raises(ConfigError, match="entier"):
        Settings.from_env({"CAFCARTO_MAX_REQUEST_BYTES": "-3"})


def test_oversized_post_is_refused_with_413(client) -> None:
    body = b'{"output": "' + b"x" * 2_100_000 + b'"}'
    resp = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert resp.status_code == 413
    assert "trop volumineuse" in resp.get_json()["erreur"]


def test_rate_limit_answers_429_in_french_with_retry_after(settings: Settings) -> None:
    client = create_app(replace(settings, rate_limit="3/minute")).server.test_client()
    statuses = [client.get("/api/v1/catalog").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    resp = client.get("/api/v1/territories?q=lyon")  # one counter for the whole API
    assert resp.status_code == 429
    assert "Trop de requêtes depuis votre adresse (3 par minute)" in resp.get_json()["erreur"]
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    assert client.get("/").status_code == 200  # pages are not limited
    # Behind one proxy, each client address (X-Forwarded-For) has its own counter.
    proxied = create_app(replace(settings, rate_limit="2/minute", proxies=1)).server.test_client()
    for client_ip, expected in (("203.0.113.1", [200, 200, 429]), ("203.0.113.2", [200])):
        headers = {"X-Forwarded-For": client_ip}
        got = [proxied.get("/api/v1/catalog", headers=headers).status_code for _ in expected]
        assert got == expected
    unlimited = create_app(replace(settings, rate_limit=None)).server.test_client()
    assert all(unlimited.get("/api/v1/catalog").status_code == 200 for _ in range(5))


def test_only_the_limited_routes_count_and_name_their_limits(settings: Settings) -> None:
    # The limiter runs only under /api/ and /export/: other answers neither count against a
    # client's budget nor carry X-RateLimit headers; each scope keeps its own counter.
    limited = replace(settings, rate_limit="3/minute", export_rate_limit="1/minute")
    client = create_app(limited).server.test_client()
    for url in ("/", "/healthz", "/_dash-layout", "/api/v1/openapi.json", "/nexiste") * 3:
        assert not any(name.startswith("X-RateLimit") for name, _ in client.get(url).headers)
    remaining = [client.get("/api/v1/catalog").headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = client.get("/api/carte-choix")
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Limit"] == "3"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    pdf = "/export/fiche/commune/00000.pdf"
    assert client.get(pdf).headers["X-RateLimit-Remaining"] == "0"  # its own counter
    assert client.get(pdf).status_code == 429


def test_unhandled_errors_answer_in_french_without_traceback(settings: Settings) -> None:
    app = create_app(settings)

    def boom():
        raise RuntimeError("détail interne secret")

    app.server.add_url_rule("/export/boom", "boom_json", boom)
    app.server.add_url_rule("/boom-page", "boom_page", boom)
    client = app.server.test_client()
    resp = client.get("/export/boom")
    assert resp.status_code == 500
    assert resp.get_json() == {
        "erreur": "Erreur interne du serveur. Réessayez plus tard ou signalez le problème.",
        "statut": 500,
    }
    page = client.get("/boom-page")
    assert page.status_code == 500 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Erreur interne du serveur" in text
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    # A forged Dash callback request is the client's error (French JSON 400), never a traceback.
    bad = client.post("/_dash-update-component", json={"output": "x", "inputs": []})
    assert bad.status_code == 400 and "Traceback" not in bad.get_data(as_text=True)
    assert bad.get_json()["erreur"].startswith("Requête de mise à jour refusée")


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/../../etc/passwd",
        "/vendor/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2fpyproject.toml",
        "/assets/%252e%252e/pyproject.toml",
        "/geo/..%5c..%5cmanifest.json",
        "/export/fiche/commune/..%2f..%2fmanifest.pdf",
        "/tuiles/../manifest.json",
    ],
)
def test_traversal_attempts_are_refused(client, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code in (400, 404)
    body = resp.get_data(as_text=True)
    assert "root:" not in body and "[project]" not in body and '"fingerprint"' not in body


def test_export_names_come_from_checked_codes_only(client) -> None:
    resp = client.get('/export/fiche/commune/69123".pdf')
    assert resp.status_code == 404
    ok = client.get("/export/fiche/departement/69.pdf")
    assert ok.status_code == 200
    assert ok.headers["Content-Disposition"] == 'attachment; filename="fiche_departement_69.pdf"'
