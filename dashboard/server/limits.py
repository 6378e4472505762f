"""Request limits: body size (413) and per-IP rates on the API and exports (429, Retry-After).

Counters live in process memory (each gunicorn worker counts apart) or in Redis when
CAFCARTO_REDIS_URL is set (one count across workers and hosts). Behind a load balancer, set
CAFCARTO_PROXIES to the number of proxies that append to X-Forwarded-For, so that the client's
address, not the balancer's, is counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard.server.errors import error_response
from layers.config import Settings

ERR_RATE = (
    "Trop de requêtes depuis votre adresse ({limit}) : patientez quelques secondes "
    "(en-tête Retry-After) avant de réessayer."
)
# URL prefix -> (setting name, shared scope): one counter per scope and client address.
LIMITED_PREFIXES = {"/api/": ("rate_limit", "api"), "/export/": ("export_rate_limit", "export")}
EXEMPT_RULES = ("/api/v1/openapi.json",)
# An unreachable Redis (no answer at all) costs half a second, then the fallback.
REDIS_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
OUTAGE_PAUSE_S = 5.0


class OutagePause:
    """After a failed Redis call, this process leaves Redis aside for OUTAGE_PAUSE_S: an
    unreachable Redis costs one timeout per pause, not one per request."""

    def __init__(self, what: str) -> None:
        self.what = what  # named in the log line
        self.until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self.until

    def failed(self) -> None:
        self.until = time.monotonic() + OUTAGE_PAUSE_S
        logging.getLogger(__name__).warning("%s : Redis indisponible", self.what, exc_info=True)


def storage_uri(settings: Settings) -> str:
    return settings.redis_url or "memory://"


PERIODS_FR = {"second": "seconde", "minute": "minute", "hour": "heure", "day": "jour"}


def limit_label(item: object) -> str:
    """The French label of a `limits` rate item, e.g. "300 par minute"."""
    amount = getattr(item, "amount", "?")
    multiples = getattr(item, "multiples", 1)
    name = getattr(getattr(item, "GRANULARITY", None), "name", "")
    period = PERIODS_FR.get(name, name)
    return f"{amount} par {period}" if multiples == 1 else f"{amount} par {multiples} {period}s"


def init_app(server: Flask, settings: Settings) -> Limiter:
    """Size limit on every request, rate limits on the routes registered so far under
    LIMITED_PREFIXES (call after the routes are added)."""
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    if settings.proxies:
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies
        )
    # One limiter per app: its counters' storage follows that app's settings.
    limiter = Limiter(
        get_remote_address,
        app=server,
        storage_uri=storage_uri(settings),
        storage_options=REDIS_TIMEOUTS if settings.redis_url else {},
        strategy="fixed-window",
        headers_enabled=True,
        # A Redis outage falls back to per-process counters instead of failing requests.
        in_memory_fallback_enabled=bool(settings.redis_url),
        key_prefix="cafcarto",
    )
    _limit_views(server, limiter, settings)
    _check_limited_paths_only(server, limiter)
    server.register_error_handler(429, too_many_requests)
    return limiter


def _check_limited_paths_only(server: Flask, limiter: Limiter) -> None:
    """flask-limiter's hooks run on every request (~0.1 ms in all): before it, a look for
    default and application limits (there are none here: only the limits wrapped around the
    views under LIMITED_PREFIXES, counted by their wrapper), after it, the X-RateLimit
    headers of the limit the request hit and the release of its counters' context. Other
    paths hit no limit and skip the three."""
    prefixes = tuple(LIMITED_PREFIXES)
    for hooks in (
        server.before_request_funcs[None],
        server.after_request_funcs[None],
        server.teardown_request_funcs[None],
    ):
        for at, hook in enumerate(hooks):
            if _bound_to(hook, limiter):
                hooks[at] = _on_limited_paths(hook, prefixes)


def _bound_to(hook: object, limiter: Limiter) -> bool:
    """A hook the limiter registered: one of its methods, or a partial given the limiter."""
    return getattr(hook, "__self__", None) is limiter or (
        isinstance(hook, partial) and hook.args[:1] == (limiter,)
    )


def _on_limited_paths(hook: Callable[..., Any], prefixes: tuple[str, ...]) -> Callable[..., Any]:
    """`hook` run for the paths under `prefixes`; elsewhere the response (after_request) or
    the argument it was given comes back unchanged."""

    def limited_paths_only(*args: Any) -> Any:
        if request.path.startswith(prefixes):
            return hook(*args)
        return args[0] if args else None

    return limited_paths_only


def _limit_views(server: Flask, limiter: Limiter, settings: Settings) -> None:
    wrapped: set[str] = set()  # an endpoint may answer several rules: count it once
    for rule in list(server.url_map.iter_rules()):
        for prefix, (setting, scope) in LIMITED_PREFIXES.items():
            value = getattr(settings, setting)
            if not value or not rule.rule.startswith(prefix) or rule.rule in EXEMPT_RULES:
                continue
            if rule.endpoint not in wrapped:
                wrapped.add(rule.endpoint)
                view = server.view_functions[rule.endpoint]
                limited = limiter.shared_limit(value, scope=scope)(view)
                server.view_functions[rule.endpoint] = limited


def too_many_requests(err: HTTPException) -> Response:
    """The French 429, naming the limit reached."""
    item = getattr(getattr(err, "limit", None), "limit", None)
    text = limit_label(item) if item is not None else "limite atteinte"
    return error_response(ERR_RATE.format(limit=text), 429)
