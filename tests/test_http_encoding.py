"""The one Accept-Encoding parser and the bodies prepared once (dashboard.server.encoding), and
the routes that answer with them, through the Flask test client on the small real cache."""

from __future__ import annotations

import gzip
import hashlib
import json

import flask
import pytest

from dashboard.app import create_app
from dashboard.server.encoding import (
    COMPRESSIONS,
    LONG_CACHE,
    REVALIDATE,
    Encoded,
    accepted_codings,
    encoded_response,
    negotiate,
)
from geodata.cache import active_dir
from layers.appdata import AppData
from layers.config import Settings
from layers.territory_index import TerritoryIndex

# --------------------------------------------------------------------------------------------
# Negotiation


@pytest.mark.parametrize(
    ("header", "offered", "expected"),
    [
        ("gzip, deflate, br", COMPRESSIONS, "br"),  # a tie: brotli, offered first
        ("gzip, deflate, br, zstd", COMPRESSIONS, "br"),
        ("gzip;q=1.0, br;q=0.5", COMPRESSIONS, "gzip"),
        ("br;q=0.2, gzip;q=0.8", COMPRESSIONS, "gzip"),
        ("gzip;q=0.5, br;q=0.8", ("gzip",), "gzip"),  # only what is offered counts
        ("*", COMPRESSIONS, "br"),
        ("*;q=0", COMPRESSIONS, None),
        ("br;q=0, *", COMPRESSIONS, "gzip"),  # named with q=0: refused whatever `*` says
        ("*;q=0, gzip", ("gzip",), "gzip"),
        ("gzip;q=0", ("gzip",), None),
        ("GZIP ; Q=0.5", ("gzip",), "gzip"),
        ("gzip;level=1;q=0.3", ("gzip",), "gzip"),
        ("gzip;q=abc, br;q=nan", COMPRESSIONS, None),  # unreadable q-values refuse
        ("identity", COMPRESSIONS, None),
        ("deflate, zstd", COMPRESSIONS, None),
        ("", COMPRESSIONS, None),
        (None, COMPRESSIONS, None),
    ],
)
def test_negotiate(header: str | None, offered: tuple[str, ...], expected: str | None) -> None:
    assert negotiate(header, offered) == expected


def test_accepted_codings_reads_q_values() -> None:
    assert accepted_codings("gzip;q=0.5, BR, , identity;q=0") == {
        "gzip": 0.5,
        "br": 1.0,
        "identity": 0.0,
    }


# --------------------------------------------------------------------------------------------
# Bodies prepared once


def test_encoded_json_is_compact_utf8_with_a_stable_gzip_copy() -> None:
    body = Encoded.of_json({"nom": "Orléans", "valeurs": [1, None]})
    assert body.raw == '{"nom":"Orléans","valeurs":[1,null]}'.encode()
    assert gzip.decompress(body.gz) == body.raw
    assert body.digest == hashlib.sha256(body.raw).hexdigest()[:20]
    assert Encoded.of(body.raw).gz == body.gz  # no timestamp in the gzip header


@pytest.mark.parametrize(
    ("accept", "min_bytes", "gzipped"),
    [
        ("gzip, deflate, br", 0, True),
        ("br", 0, False),  # the prepared copy is gzip: a brotli-only client gets the plain one
        ("gzip;q=0", 0, False),
        (None, 0, False),
        ("gzip", 10_000, False),  # too small to be worth a gzip frame
    ],
)
def test_encoded_response_answers_the_variant_the_client_takes(
    accept: str | None, min_bytes: int, gzipped: bool
) -> None:
    body = Encoded.of_json({"x": "y" * 600})
    headers = {} if accept is None else {"Accept-Encoding": accept}
    with flask.Flask(__name__).test_request_context(headers=headers):
        resp = encoded_response(
            body, "application/json", {"Cache-Control": REVALIDATE}, etag="abc", min_bytes=min_bytes
        )
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Cache-Control"] == REVALIDATE
    assert resp.mimetype == "application/json"
    if gzipped:
        assert resp.headers["Content-Encoding"] == "gzip" and resp.data == body.gz
        assert resp.headers["ETag"] == '"abc-gz"'
    else:
        assert "Content-Encoding" not in resp.headers and resp.data == body.raw
        assert resp.headers["ETag"] == '"abc"'


# --------------------------------------------------------------------------------------------
# Routes


@pytest.fixture(scope="module")
def client(settings: Settings):
    return create_app(settings).server.test_client()


def test_label_points_are_the_index_label_points_in_row_order(client, settings) -> None:
    gz = client.get("/geo/commune-points.json", headers={"Accept-Encoding": "gzip"})
    plain = client.get("/geo/commune-points.json", headers={"Accept-Encoding": "identity"})
    assert gz.status_code == plain.status_code == 200 and plain.mimetype == "application/json"
    assert gz.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert gzip.decompress(gz.data) == plain.data
    # feature id = row of the level's table, as in the polygons the circles stand for
    table = TerritoryIndex(active_dir(settings.cache)).table("commune")
    lon, lat = table["label_lon"].tolist(), table["label_lat"].tolist()
    expected = [round(v, 5) for xy in zip(lon, lat, strict=True) for v in xy]
    assert json.loads(plain.data) == expected and len(expected) == 2 * len(table)
    assert plain.headers["Cache-Control"] == REVALIDATE
    versioned = client.get("/geo/commune-points.json?v=1")
    assert versioned.headers["Cache-Control"] == LONG_CACHE
    missing = client.get("/geo/pays-points.json")
    assert missing.status_code == 404 and "pays" in missing.get_json()["erreur"]


def test_facility_layer_has_one_validator_per_variant(client, settings: Settings) -> None:
    version = AppData(settings).facilities().version
    url = f"/geo/equipements.geojson?v={version}"
    gz = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gz.headers["ETag"] == f'"{version}-gz"'
    assert gz.headers["Cache-Control"] == LONG_CACHE
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.headers["ETag"] == f'"{version}"'
    assert gzip.decompress(gz.data) == plain.data
    assert json.loads(plain.data)["type"] == "FeatureCollection"
    for accept, etag in (("gzip", gz.headers["ETag"]), ("identity", plain.headers["ETag"])):
        again = client.get(url, headers={"Accept-Encoding": accept, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    assert client.get("/geo/equipements.geojson").headers["Cache-Control"] == REVALIDATE


@pytest.mark.parametrize(
    "url",
    [
        "/api/carte/commune?indicateur=population",  # the geometry's own indicator
        "/api/carte/commune?indicateur=allocataires",  # a store indicator
    ],
)
def test_map_payload_never_reaches_a_client_in_a_coding_it_refused(client, url: str) -> None:
    # The gzip answer is stored server-side first: a later client must not be handed it
    # unless it takes gzip.
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gz.headers["ETag"].endswith('-gz"')
    plain = gzip.decompress(gz.data)
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain
    assert not refused.headers["ETag"].endswith('-gz"')
    brotli_only = client.get(url, headers={"Accept-Encoding": "br"})
    assert brotli_only.headers.get("Content-Encoding") in (None, "br")


def test_large_bodies_compressed_at_the_cheaper_levels() -> None:
    """An answer of LARGE_BODY bytes or more (the all-commune CSV, built for each request) is
    compressed at the cheaper levels, and reads back to the same bytes; smaller ones are not."""
    import brotli

    from dashboard.server import encoding

    row = "69123;Lyon;commune;rsa;Foyers allocataires du RSA;2024-12;12 345;published\r\n"
    large = (row * (encoding.LARGE_BODY // len(row) + 1)).encode()
    small = large[: encoding.LARGE_BODY - 1]
    br, gz = encoding.compress(large, "br"), encoding.compress(large, "gzip")
    assert brotli.decompress(br) == large and gzip.decompress(gz) == large
    assert br == brotli.compress(large, quality=encoding.LARGE_BROTLI_QUALITY)
    assert gz == gzip.compress(large, encoding.LARGE_GZIP_LEVEL, mtime=0)
    assert encoding.compress(small, "br") == brotli.compress(small, quality=encoding.BROTLI_QUALITY)
    assert encoding.compress(small, "gzip") == gzip.compress(small, encoding.GZIP_LEVEL, mtime=0)
