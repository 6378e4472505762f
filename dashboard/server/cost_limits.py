"""Heavy answers bounded by their cost, not only by their count.

A heavy answer is a CSV, Excel or GeoJSON page of /api/v1/data or a profile PDF
(/export/fiche/...). Each is charged the CPU seconds its view took (`time.thread_time()`),
against two budgets per sliding window: one per client address (CAFCARTO_COST_LIMIT) and one for
all clients (CAFCARTO_COST_LIMIT_TOTAL), shared through Redis when CAFCARTO_REDIS_URL is set
(dashboard.server.cost_budget). Before it runs, its cost is estimated from its row count:
- a client whose spending plus the estimate passes its budget gets a French 429 + Retry-After;
- all clients together past the total budget: a French 503 + Retry-After;
- at most CAFCARTO_COST_CONCURRENCY heavy answers are computed at once per process; one more is
  refused at once (503 + Retry-After) instead of queuing, so light pages keep their threads;
- an answer whose estimate alone passes the per-address budget could never be served: a French
  400 points to pages (limit, offset) and to the background Excel export of the map page.
Answers served from the response cache (dashboard.server.http_cache, wrapped around these views
afterwards) never reach this code: they cost nothing and are never charged nor refused.
A route's cost limit is on only when its count limit (dashboard.server.limits) is: turning the
rate limits off (load benches) turns these off too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, Response, g, request
from flask_limiter.util import get_remote_address

from dashboard.api.v1_params import data_query
from dashboard.server.cost_budget import (
    MemoryBudgets,
    RedisBudgets,
    Slot,
    retry_after,
    sliding,
    wait_until_within,
)
from dashboard.server.errors import error_response
from dashboard.server.limits import LIMITED_PREFIXES
from layers.appdata import current_data
from layers.config import PERIOD_SECONDS, Settings
from layers.views import ViewError

HEAVY_FORMATS = ("csv", "xlsx", "geojson")
# CPU seconds per row, measured on all France (34,868 communes, 48,592 IRIS) in one process:
# Excel 3.3-6.3 s for the communes and 8.6 s for the IRIS, GeoJSON 2.5 s and 7.7 s, CSV 1.1 s.
SECONDS_PER_ROW = {"xlsx": 1.8e-4, "geojson": 1.6e-4, "csv": 4e-5}
PDF_SECONDS = 0.4  # a profile PDF: 0.35 s of CPU
# Only answers estimated at least this long wait for the gate: two visitors downloading a small
# table (a hundred départements) at the same moment are not refused.
GATE_MIN_S = 0.25
PERIOD_NAMES = {seconds: name for name, seconds in PERIOD_SECONDS.items()}
PERIODS_FR = {"second": "seconde", "minute": "minute", "hour": "heure", "day": "jour"}

ERR_BUDGET = (
    "Trop d'exports lourds depuis votre adresse ({budget}) : réessayez dans {retry} s "
    "(en-tête Retry-After). Une même demande déjà servie est renvoyée depuis le cache sans "
    "compter."
)
ERR_TOTAL = (
    "Le serveur a atteint sa limite de calcul pour les exports lourds ({budget}) : "
    "réessayez dans {retry} s (en-tête Retry-After)."
)
ERR_BUSY = (
    "Le serveur calcule déjà des exports lourds ({n} à la fois au plus) : réessayez dans "
    "{retry} s (en-tête Retry-After)."
)
ERR_TOO_BIG = (
    "Export trop lourd pour une réponse directe (environ {rows} lignes, {seconds} s de calcul "
    "estimées, pour {budget}) : demandez-le par pages (paramètres « limit » et « offset ») ou "
    "lancez l'export Excel en arrière-plan depuis la carte (bouton « Excel »)."
)


@dataclass(frozen=True)
class Heavy:
    """A heavy request before it runs: its rows and its estimated CPU seconds."""

    rows: int
    estimate: float


def data_estimate() -> Heavy | None:
    """/api/v1/data in CSV, Excel or GeoJSON; None for JSON or a request the view will refuse
    (its own French 4xx, cheap)."""
    if (request.args.get("format") or "").strip().lower() not in HEAVY_FORMATS:
        return None
    data = current_data()
    info, index = data.store(), data.index()
    if info is None or index is None:
        return None
    try:
        query = data_query(info, index)
    except ViewError:
        return None
    if query.parent is None:
        total = len(index.table(query.level))
    else:
        total = int(index.children(query.level, *query.parent).sum())
    rows = max(0, min(query.limit, total - query.offset))
    return Heavy(rows, rows * SECONDS_PER_ROW[query.fmt])


def pdf_estimate() -> Heavy | None:
    return Heavy(1, PDF_SECONDS)


# Route rule -> how to tell and estimate its heavy requests.
HEAVY_RULES: dict[str, Callable[[], Heavy | None]] = {
    "/api/v1/data": data_estimate,
    "/export/fiche/<level>/<code>.pdf": pdf_estimate,
}


def budget_label(budget: tuple[float, int]) -> str:
    """French label of a budget, e.g. "20 s de calcul par minute"."""
    seconds, window = budget
    name = PERIOD_NAMES.get(window, "")
    amount = f"{seconds:g}".replace(".", ",")
    return f"{amount} s de calcul par {PERIODS_FR.get(name, name)}"


def refusal(message: str, status: int, retry: int | None) -> Response:
    resp = error_response(message, status)
    if retry is not None:
        resp.headers["Retry-After"] = str(retry)
        g.cost_retry_after = str(retry)
    return resp


def keep_retry_after(resp: Response) -> Response:
    """The after_request hook: the count limiter (its hook runs before this one) sets
    Retry-After to its own window's end on every answer it counts; a cost refusal keeps ours."""
    retry = g.get("cost_retry_after")
    if retry is not None:
        resp.headers["Retry-After"] = retry
    return resp


class CostLimits:
    """The budgets and the concurrency gate of one app (per process; budgets shared through
    Redis when configured)."""

    def __init__(self, settings: Settings) -> None:
        self.per_address = settings.cost_limit
        self.total = settings.cost_limit_total
        self.concurrency = settings.cost_concurrency
        memory = MemoryBudgets()
        self.budgets = RedisBudgets(settings.redis_url, memory) if settings.redis_url else memory
        self.gate = threading.BoundedSemaphore(max(self.concurrency, 1))

    def slots(self) -> list[tuple[Slot, tuple[float, int], bool]]:
        """The current slots: (slot, budget, whether it is the client's own)."""
        found = []
        if self.per_address is not None:
            slot = Slot.now(f"ip:{get_remote_address()}", self.per_address[1])
            found.append((slot, self.per_address, True))
        if self.total is not None:
            found.append((Slot.now("total", self.total[1]), self.total, False))
        return found

    def refused(
        self, heavy: Heavy, slots: list[tuple[Slot, tuple[float, int], bool]]
    ) -> Response | None:
        """The French refusal of a heavy request over a budget, else None."""
        if self.per_address is not None and heavy.estimate > self.per_address[0]:
            text = ERR_TOO_BIG.format(
                rows=f"{heavy.rows:,}".replace(",", "\u202f"),
                seconds=f"{heavy.estimate:.1f}".replace(".", ","),
                budget=budget_label(self.per_address),
            )
            return refusal(text, 400, None)
        keys = [slot for slot, _, _ in slots]
        spent = self.budgets.spent(keys + [slot.previous for slot in keys])
        for (slot, budget, own), current, previous in zip(
            slots, spent[: len(keys)], spent[len(keys) :], strict=True
        ):
            used = sliding(current, previous, slot.elapsed())
            if used > 0 and used + heavy.estimate > budget[0]:
                room = budget[0] - heavy.estimate
                retry = retry_after(wait_until_within(current, previous, room, slot))
                text = (ERR_BUDGET if own else ERR_TOTAL).format(
                    budget=budget_label(budget), retry=retry
                )
                return refusal(text, 429 if own else 503, retry)
        return None

    def limited(
        self, view: Callable[..., object], estimate: Callable[[], Heavy | None]
    ) -> Callable[..., object]:
        """`view` charged its CPU seconds when `estimate` calls the request heavy."""

        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            heavy = estimate()
            if heavy is None:
                return view(*args, **kwargs)
            slots = self.slots()
            refused = self.refused(heavy, slots)
            if refused is not None:
                return refused
            gated = bool(self.concurrency) and heavy.estimate >= GATE_MIN_S
            if gated and not self.gate.acquire(blocking=False):
                retry = retry_after(heavy.estimate)
                return refusal(ERR_BUSY.format(n=self.concurrency, retry=retry), 503, retry)
            start = time.thread_time()
            try:
                return view(*args, **kwargs)
            finally:
                if gated:
                    self.gate.release()
                self.budgets.charge([slot for slot, _, _ in slots], time.thread_time() - start)

        return wrapper


def init_app(server: Flask, settings: Settings) -> CostLimits | None:
    """Wrap the heavy routes registered so far (call before http_cache.init_app, so that the
    response cache answers before any charge). None when every cost limit is off."""
    budgets = (settings.cost_limit, settings.cost_limit_total)
    if budgets == (None, None) and not settings.cost_concurrency:
        return None
    limits = CostLimits(settings)
    for rule in list(server.url_map.iter_rules()):
        estimate = HEAVY_RULES.get(rule.rule)
        if estimate is None or not _counted(rule.rule, settings):
            continue
        view = server.view_functions[rule.endpoint]
        server.view_functions[rule.endpoint] = limits.limited(view, estimate)
    server.extensions["cafcarto_cost"] = limits
    server.after_request(keep_retry_after)  # registered first: runs after the limiter's
    return limits


def _counted(rule: str, settings: Settings) -> bool:
    """Whether the count limit of the rule's prefix is on."""
    for prefix, (setting, _) in LIMITED_PREFIXES.items():
        if rule.startswith(prefix):
            return getattr(settings, setting) is not None
    return False
