"""HTTP caching: Cache-Control by kind of URL, ETags on data answers, and a server-side cache
of the data routes' answers (flask-caching: per-process memory, or Redis when
CAFCARTO_REDIS_URL is set, so that several hosts share it).

- content-hashed URLs (Dash bundles, `/assets/...?m=`, `/vendor/...?v=`): one year, immutable;
- data (/api/v1/*, /api/carte/*): `public, max-age=CAFCARTO_DATA_MAX_AGE` with an ETag;
- errors, /healthz and Dash callbacks: never stored.
Revalidation (If-None-Match, answered 304) accepts the ETag in its compressed variants too.

The server-side key holds the builds in service (geometry, demonstration and imported stores):
a new `cafcarto build` or `cafcarto import` changes it, so no stale answer is ever served.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Mapping
from functools import wraps
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from flask_caching import Cache

from dashboard.server.compression import compress_response
from dashboard.server.encoding import (
    COMPRESSIONS,
    LONG_CACHE,
    REVALIDATE,
    client_accepts,
    negotiate,
)
from dashboard.server.limits import OutagePause
from dashboard.server.shared_answers import FOLDER, Answer, SharedAnswers
from layers.appdata import active_dirs, current_data
from layers.config import Settings

DATA_PREFIXES = ("/api/v1/", "/api/carte/")
NEVER_STORED = ("/healthz", "/_dash-update-component")
# A whole-France commune answer is 2.8 MB of JSON; bigger ones (GeoJSON) are rebuilt each time.
MAX_CACHED_BYTES = 4_000_000
# Per process, with SimpleCache: the small answers and those the disk refused (folder full).
CACHE_ENTRIES = 64
SKIPPED_HEADERS = {"content-length", "set-cookie", "date"}
# Named again by each answer, cached or not (the host and cache state are the server's own).
SKIPPED_HEADERS |= {"x-cafcarto-build", "x-cafcarto-instance", "x-cafcarto-cache"}
# The rate limiter adds its own to every answer, cached or not (each client its own count).
SKIPPED_HEADERS |= {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}
REVALIDATION_HEADERS = ("Cache-Control", "Vary", "Last-Modified")
# The shared cache (Redis) answers fast or not at all; after a failure, skipped for a pause.
REDIS_TIMEOUT_S = 0.5
HOSTNAME = socket.gethostname()
BUILD_HEADER = "X-Cafcarto-Build"
INSTANCE_HEADER = "X-Cafcarto-Instance"
CACHE_HEADER = "X-Cafcarto-Cache"
# One extension object; each app gets its own backend (memory or Redis) from init_app.
responses = Cache()
SHARED = "cafcarto.shared_answers"


def cache_config(settings: Settings) -> dict[str, object]:
    """flask-caching settings: Redis when CAFCARTO_REDIS_URL is set, else in-process memory."""
    common = {"CACHE_DEFAULT_TIMEOUT": max(settings.data_max_age, 1)}
    if settings.redis_url:
        return {
            **common,
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": settings.redis_url,
            "CACHE_KEY_PREFIX": "cafcarto:reponse:",
            "CACHE_OPTIONS": {
                "socket_timeout": REDIS_TIMEOUT_S,
                "socket_connect_timeout": REDIS_TIMEOUT_S,
            },
        }
    return {**common, "CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": CACHE_ENTRIES}


def builds_stamp(settings: Settings) -> str:
    """Which builds are in service (geometry|demonstration|imported store, "-" for none): the
    ones the current request pinned (layers.appdata.active_dir), cheap either way."""
    return "|".join(folder.name if folder else "-" for folder in active_dirs(_roots(settings)))


_known_roots: dict[int, tuple[Settings, tuple[Path, Path, Path]]] = {}


def _roots(settings: Settings) -> tuple[Path, Path, Path]:
    """The three build roots of `settings`, joined once per Settings object (not per request)."""
    known = _known_roots.get(id(settings))
    if known is None or known[0] is not settings:
        roots = (settings.cache, settings.store_demo, settings.store_import)
        known = _known_roots[id(settings)] = (settings, roots)
    return known[1]


def _request_stamp(settings: Settings) -> str:
    """builds_stamp, once per request (the response key and the header both need it)."""
    stamp = g.get("cafcarto_stamp")
    if stamp is None:
        stamp = g.cafcarto_stamp = builds_stamp(settings)
    return stamp


def instance_name(settings: Settings) -> str:
    """This server's host and port, named in every answer (which host of a balanced pool
    answered: for the operator and the topology tests)."""
    return f"{HOSTNAME}:{settings.port}"


def is_data_path(path: str) -> bool:
    return path.startswith(DATA_PREFIXES)


def matching_etag(etag: str, header: str | None) -> str | None:
    """The If-None-Match tag that names our ETag, also in its compressed variants (`-br`,
    `-gzip`, added by dashboard.server.compression), or None."""
    for tag in (header or "").split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == "*" or tag == etag or tag.rsplit("-", 1)[0] == etag:
            return etag if tag == "*" else tag
    return None


def not_modified(etag: str, headers: Mapping[str, str]) -> Response | None:
    """A 304 carrying `headers` when the request's If-None-Match names `etag` (unquoted),
    else None. Routes call it before reading a file; every answer goes through it after."""
    tag = matching_etag(etag, request.headers.get("If-None-Match"))
    if tag is None:
        return None
    resp = Response(status=304)
    resp.headers.update(headers)
    resp.headers["ETag"] = f'"{tag}"'
    return resp


def _revalidated(resp: Response) -> Response | None:
    """A 304 for a GET whose validator the client already holds."""
    etag = resp.get_etag()[0]
    if request.method != "GET" or resp.status_code != 200 or not etag:
        return None
    kept = {name: resp.headers[name] for name in REVALIDATION_HEADERS if name in resp.headers}
    return not_modified(etag, kept)


def cache_control(path: str, query: Mapping[str, str], resp: Response, max_age: int) -> str | None:
    """The Cache-Control a response should get (None: keep what the route set)."""
    if path in NEVER_STORED or resp.status_code >= 400:
        return "no-store"
    if path.startswith("/_dash-component-suites/") and resp.cache_control.max_age:
        return LONG_CACHE  # Dash fingerprints these URLs itself
    if path.startswith("/assets/"):
        return LONG_CACHE if query.get("m") else REVALIDATE
    if is_data_path(path) and resp.status_code in (200, 304):
        return f"public, max-age={max_age}"
    if resp.mimetype == "text/html":
        return REVALIDATE
    return None


def init_app(server: Flask, settings: Settings) -> None:
    """Cache-Control on every answer and the server-side cache of the data routes registered
    so far (call after the routes are added, before the rate limits)."""
    responses.init_app(server, config=cache_config(settings))
    server.extensions[SHARED] = SharedAnswers(settings.cache / FOLDER)
    wrapped: set[str] = set()
    for rule in list(server.url_map.iter_rules()):
        if is_data_path(rule.rule) and rule.endpoint not in wrapped:
            wrapped.add(rule.endpoint)
            server.view_functions[rule.endpoint] = cached(server.view_functions[rule.endpoint])
    server.after_request(headers_and_store)


def response_key() -> str:
    """The server-side key of the current request: the builds in service, whether the client
    takes the routes' own gzip bodies, and the full path with its query."""
    coding = "gz" if client_accepts("gzip") else "id"
    raw = f"{_request_stamp(current_data().settings)}\n{coding}\n{request.full_path}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


_outage = OutagePause("cache de réponses")


def _shared_key() -> tuple[str, str]:
    """The key of the current request's answer on disk (dashboard.server.shared_answers): the
    builds in service, the codings the client takes (the answer is stored compressed) and the
    full path with its query."""
    accept = request.headers.get("Accept-Encoding")
    codings = f"{negotiate(accept, COMPRESSIONS)}|{client_accepts('gzip')}"
    shared = current_app.extensions[SHARED]
    return shared.key(_request_stamp(current_data().settings), codings, request.full_path)


def _lookup() -> tuple[int, list[tuple[str, str]], bytes] | None:
    g.shared_key = _shared_key()
    stored = current_app.extensions[SHARED].get(g.shared_key)
    if stored is not None:
        return stored.status, stored.headers, stored.body
    g.response_key = response_key()
    if _outage.active():
        return None
    try:
        return responses.get(g.response_key)
    except Exception:  # a Redis outage must slow the data routes, not break them
        _outage.failed()
        return None


def cached(view: Callable[..., object]) -> Callable[..., object]:
    """`view` answered from the server-side cache when the same GET was answered before."""

    # Around the view, not in before_request: the rate limit (wrapped around this one
    # later) counts the answers served from the cache as well.
    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        if request.method != "GET":
            return view(*args, **kwargs)
        hit = _lookup()
        if hit is None:
            return view(*args, **kwargs)
        status, headers, body = hit
        g.response_from_cache = True
        return Response(body, status=status, headers=headers)

    return wrapper


def headers_and_store(resp: Response) -> Response:
    """The after_request hook: Cache-Control, the data answer stored, 304 when revalidated;
    every answer names the builds it was made from, the host (CAFCARTO_INSTANCE_HEADER=1), and
    (data routes) whether the server-side cache answered."""
    settings = current_data().settings
    resp.headers[BUILD_HEADER] = _request_stamp(settings)
    if settings.instance_header:
        resp.headers[INSTANCE_HEADER] = instance_name(settings)
    if is_data_path(request.path):
        resp.headers[CACHE_HEADER] = "hit" if g.get("response_from_cache") else "miss"
    control = cache_control(request.path, request.args, resp, settings.data_max_age)
    if control is not None:
        resp.headers["Cache-Control"] = control
    if is_data_path(request.path) and resp.status_code == 200 and not resp.is_streamed:
        entry = _entry(resp)
        if not _share(resp) or settings.redis_url:
            _store(entry)
    return _revalidated(resp) or resp


def _share(resp: Response) -> bool:
    """The answer just made, compressed now as the client accepts (the compression hook then
    leaves it alone), written for the other workers; False when it was not written."""
    key = g.get("shared_key")
    if key is None or g.get("response_from_cache"):
        return False
    compress_response(resp)
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in SKIPPED_HEADERS]
    return current_app.extensions[SHARED].put(
        key, Answer(resp.status_code, headers, resp.get_data())
    )


Entry = tuple[str, tuple[int, list[tuple[str, str]], bytes]]


def _entry(resp: Response) -> Entry | None:
    """The raw answer with its ETag, as the per-process cache would keep it (None: not kept)."""
    body = resp.get_data()
    if not resp.get_etag()[0]:
        resp.set_etag(hashlib.sha256(body).hexdigest()[:24])
    key = g.get("response_key")
    if not key or g.get("response_from_cache") or len(body) > MAX_CACHED_BYTES:
        return None
    headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in SKIPPED_HEADERS]
    return key, (resp.status_code, headers, body)


def _store(entry: Entry | None) -> None:
    """Keep an answer in the per-process cache, only when the disk did not take it (each
    worker held up to 64 raw bodies of up to 4 MB the disk already served) or when the cache
    is Redis, shared by every host."""
    if entry is None or _outage.active():
        return
    try:
        responses.set(*entry)
    except Exception:
        _outage.failed()
