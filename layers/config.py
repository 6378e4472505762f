"""One place for every setting, read from the environment with documented defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from geodata.sources import default_sources_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
# Rate limits are "<count>/<period>" (flask-limiter syntax: second, minute, hour, day);
# "0" or "aucune" turns a limit off (load benches).
DEFAULT_RATE_LIMIT = "300/minute"
DEFAULT_EXPORT_RATE_LIMIT = "30/minute"
# Heavy answers (CSV, Excel, GeoJSON, PDF) are charged their CPU seconds: "<seconds>/<period>"
# per client address and in total (dashboard.server.cost_limits); "0" turns a budget off.
DEFAULT_COST_LIMIT = "20/minute"
DEFAULT_COST_LIMIT_TOTAL = "60/minute"
DEFAULT_COST_CONCURRENCY = 1
PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# Largest Dash callback body measured in the browser is a few kB; 2 MB leaves ample room.
DEFAULT_MAX_REQUEST_BYTES = 2_000_000
DEFAULT_DATA_MAX_AGE = 300
NO_LIMIT = ("", "0", "aucune", "none")
# The Cafdata portal `cafcarto sync` reads (Opendatasoft Explore API v2.1).
DEFAULT_PORTAL = "https://data.caf.fr"
# The Caf publish nothing for an IRIS or QPV of fewer allocataires (SECRECY.md, rule 3).
DEFAULT_INFRA_MIN_HOUSEHOLDS = 100


class ConfigError(ValueError):
    """A setting read from the environment is invalid; the message (French) says which."""


def _int_env(env: dict[str, str], name: str, default: int, low: int = 0) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < low:
        raise ConfigError(f"{name} invalide : « {text[:40]} » (un entier ≥ {low} est attendu).")
    return int(text)


def _rate_env(env: dict[str, str], name: str, default: str) -> str | None:
    text = env.get(name, default).strip().lower()
    if text in NO_LIMIT:
        return None
    count, _, period = text.partition("/")
    if not count.isdigit() or period.rstrip("s") not in ("second", "minute", "hour", "day"):
        raise ConfigError(
            f"{name} invalide : « {text[:40]} » (par exemple 300/minute, ou 0 pour aucune limite)."
        )
    return text


def _cost_env(env: dict[str, str], name: str, default: str) -> tuple[float, int] | None:
    """A CPU budget "<seconds>/<period>" (decimal seconds) as (seconds, window seconds)."""
    text = env.get(name, default).strip().lower()
    if text in NO_LIMIT:
        return None
    amount, _, period = text.partition("/")
    window = PERIOD_SECONDS.get(period.strip().rstrip("s"))
    try:
        seconds = float(amount.replace(",", "."))
    except ValueError:
        seconds = -1.0
    if window is None or not 0 < seconds < float("inf"):
        raise ConfigError(
            f"{name} invalide : « {text[:40]} » (secondes de calcul par période, par exemple "
            "20/minute ou 0,5/second, ou 0 pour aucune limite)."
        )
    return seconds, window


@dataclass(frozen=True)
class Settings:
    """Paths and server settings.

    CAFCARTO_SOURCES  raw sources directory (default ../shared/data when it exists,
                      else .cache/sources, where `cafcarto build` downloads them)
    CAFCARTO_CACHE    build cache (default .cache/cafcarto, ignored by git)
    CAFCARTO_VENDOR   front-end libraries installed from npm (default .cache/vendor)
    HOST, PORT        where `cafcarto serve` listens (default 127.0.0.1:8050)
    CAFCARTO_SECRECY_THRESHOLD  primary secrecy threshold (default 5)
    CAFCARTO_SEUIL_INFRA        fewest allocataires an IRIS or QPV needs for any of its values
                                to be published (default 100, the Caf rule)
    CAFCARTO_REDIS_URL          shared response cache and rate-limit counters (default: none,
                                per-process memory)
    CAFCARTO_RATE_LIMIT         per-IP limit of /api/ (default 300/minute; 0 = none)
    CAFCARTO_RATE_LIMIT_EXPORT  per-IP limit of /export/ (default 30/minute; 0 = none)
    CAFCARTO_COST_LIMIT         CPU seconds of heavy answers per IP (default 20/minute; 0 = none)
    CAFCARTO_COST_LIMIT_TOTAL   CPU seconds of heavy answers in all (default 60/minute; 0 = none)
    CAFCARTO_COST_CONCURRENCY   heavy answers computed at once per process (default 1; 0 = any)
    CAFCARTO_MAX_REQUEST_BYTES  largest request body (default 2000000)
    CAFCARTO_DATA_MAX_AGE       seconds browsers and the server cache keep data answers (300)
    CAFCARTO_JOBS               background jobs' state and files, shared by all hosts
                                (default: the build cache)
    CAFCARTO_PROXIES            reverse proxies in front that set X-Forwarded-For (default 0)
    CAFCARTO_PORTAL             the Cafdata portal `cafcarto sync` reads (https://data.caf.fr)
    """

    sources: Path
    cache: Path
    vendor: Path
    host: str = "127.0.0.1"
    port: int = 8050
    secrecy_threshold: int = 5
    infra_min_households: int = DEFAULT_INFRA_MIN_HOUSEHOLDS
    redis_url: str | None = None
    rate_limit: str | None = DEFAULT_RATE_LIMIT
    export_rate_limit: str | None = DEFAULT_EXPORT_RATE_LIMIT
    cost_limit: tuple[float, int] | None = _cost_env({}, "", DEFAULT_COST_LIMIT)
    cost_limit_total: tuple[float, int] | None = _cost_env({}, "", DEFAULT_COST_LIMIT_TOTAL)
    cost_concurrency: int = DEFAULT_COST_CONCURRENCY
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    data_max_age: int = DEFAULT_DATA_MAX_AGE
    proxies: int = 0
    jobs: Path | None = None
    portal: str = DEFAULT_PORTAL
    # X-Cafcarto-Instance (host:port) on every answer: off by default, it names the host
    instance_header: bool = False

    @property
    def jobs_root(self) -> Path:
        """Where background jobs keep their state (jobs/) and files (exports/): shared by every
        host behind a load balancer (CAFCARTO_JOBS), the build cache by default."""
        return self.jobs or self.cache

    @property
    def store_demo(self) -> Path:
        return self.cache / "demo"

    @property
    def store_import(self) -> Path:
        return self.cache / "import"

    @property
    def downloads(self) -> Path:
        """Whole datasets downloaded by `cafcarto sync` (kept for the next, incremental run)."""
        return self.cache / "telechargements"

    @property
    def facilities_import(self) -> Path:
        """Facilities imported with `cafcarto equipements` (they win over the store's)."""
        return self.cache / "equipements"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            sources=Path(env.get("CAFCARTO_SOURCES") or default_sources_dir()).resolve(),
            cache=Path(env.get("CAFCARTO_CACHE") or REPO_ROOT / ".cache" / "cafcarto").resolve(),
            vendor=Path(env.get("CAFCARTO_VENDOR") or REPO_ROOT / ".cache" / "vendor").resolve(),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8050")),
            secrecy_threshold=int(env.get("CAFCARTO_SECRECY_THRESHOLD", "5")),
            infra_min_households=_int_env(
                env, "CAFCARTO_SEUIL_INFRA", DEFAULT_INFRA_MIN_HOUSEHOLDS, low=1
            ),
            redis_url=env.get("CAFCARTO_REDIS_URL", "").strip() or None,
            rate_limit=_rate_env(env, "CAFCARTO_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            export_rate_limit=_rate_env(
                env, "CAFCARTO_RATE_LIMIT_EXPORT", DEFAULT_EXPORT_RATE_LIMIT
            ),
            cost_limit=_cost_env(env, "CAFCARTO_COST_LIMIT", DEFAULT_COST_LIMIT),
            cost_limit_total=_cost_env(env, "CAFCARTO_COST_LIMIT_TOTAL", DEFAULT_COST_LIMIT_TOTAL),
            cost_concurrency=_int_env(env, "CAFCARTO_COST_CONCURRENCY", DEFAULT_COST_CONCURRENCY),
            max_request_bytes=_int_env(
                env, "CAFCARTO_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES, low=1024
            ),
            data_max_age=_int_env(env, "CAFCARTO_DATA_MAX_AGE", DEFAULT_DATA_MAX_AGE),
            proxies=_int_env(env, "CAFCARTO_PROXIES", 0),
            jobs=Path(env["CAFCARTO_JOBS"]).resolve() if env.get("CAFCARTO_JOBS") else None,
            portal=env.get("CAFCARTO_PORTAL", "").strip() or DEFAULT_PORTAL,
            instance_header=_int_env(env, "CAFCARTO_INSTANCE_HEADER", 0) > 0,
        )
