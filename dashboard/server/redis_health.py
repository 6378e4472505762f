"""Is the shared Redis reachable? For /healthz: without it the host still serves (per-process
response cache and rate counters) but the long exports cannot start, so the host says it is
degraded instead of leaving the balancer's rotation (every host shares the same Redis: a 503
would take them all out at once).
"""

from __future__ import annotations

import threading

from layers.config import Settings

ERR_REDIS_DOWN = (
    "Redis est injoignable : les cartes, les fiches et l'API restent servies (cache et "
    "compteurs propres à chaque processus), mais les exports longs (Excel de la vue, atlas PDF) "
    "sont indisponibles jusqu'à son retour."
)
PING_TIMEOUT_S = 0.5
_clients: dict[str, object] = {}
_lock = threading.Lock()


def _client(url: str) -> object:
    import redis

    with _lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=PING_TIMEOUT_S, socket_connect_timeout=PING_TIMEOUT_S
            )
        return _clients[url]


def redis_problem(settings: Settings) -> str | None:
    """None when no Redis is configured or it answers a PING, else the French message."""
    if not settings.redis_url:
        return None
    try:
        _client(settings.redis_url).ping()  # type: ignore[attr-defined]
    except Exception:  # any failure (refused, timeout, auth): degraded, never a 500
        return ERR_REDIS_DOWN
    return None
