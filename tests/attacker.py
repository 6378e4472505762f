"""An outside attacker of statistical secrecy: only what the running app publishes over HTTP.

It downloads one count indicator at every level through /api/v1/data, learns who sums into whom
through the same API (`parent=` filters) plus public geography (the COG: which EPCI and régions
lie wholly inside the test cut), and bounds every secret cell by linear programming with
layers.audit (HiGHS): x >= 0, published cells fixed, the additive relations. A cell whose
feasible range is narrower than the protection width is recovered.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from layers.audit import AuditReport, Relations, audit
from layers.model import LEVEL_CODES

Key = tuple[str, str, str]  # (indicator, level, code)
LEVELS = LEVEL_CODES  # the public vocabulary: the API documents the same codes


def get_json(base: str, path: str, **params: str) -> object:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.load(resp)


@dataclass
class Cells:
    """What was published: status and value of every cell seen."""

    status: dict[Key, str] = field(default_factory=dict)
    value: dict[Key, float | None] = field(default_factory=dict)

    def add(self, indicator: str, level: str, rows: Iterable[dict]) -> None:
        for r in rows:
            key = (indicator, level, r["code"])
            self.status[key] = r["status"]
            self.value[key] = r["value"]

    def secret(self) -> list[Key]:
        return [k for k, s in self.status.items() if s == "secret"]


@dataclass
class Relation:
    """total = sum(parts) when `exact`, else sum(parts) <= total."""

    total: Key
    parts: list[Key]
    exact: bool


@dataclass
class Linear:
    """sum(coef * cell) == 0 when `exact`, else <= 0: a published rate linking its numerator
    and denominator, or a public fact (a household counts at least one person)."""

    coefs: dict[Key, float]
    exact: bool = False


def download(base: str, indicator: str, period: str, levels: Iterable[str]) -> Cells:
    cells = Cells()
    for level in levels:
        doc = get_json(base, "/api/v1/data", indicator=indicator, level=level, period=period)
        cells.add(indicator, level, doc["rows"])
    return cells


def members(base: str, indicator: str, period: str, level: str, parent: str) -> list[str]:
    """Codes of `level` inside `parent` ("departement:69") as the API lists them."""
    doc = get_json(
        base, "/api/v1/data", indicator=indicator, level=level, period=period, parent=parent
    )
    return [r["code"] for r in doc["rows"]]


def attack(
    cells: Cells,
    relations: list[Relation | Linear],
    protection: float = 5,
    rounding: dict[Key, float] | None = None,
) -> tuple[AuditReport, list[Key]]:
    """Bound every unpublished cell; the report's failures are indices into the key list.

    Secret, missing and not-applicable cells are all unknowns (x >= 0); only secret cells
    must be protected, so failures on other statuses are dropped by the caller. `rounding`:
    published cells known within +/- half their step (amounts rounded to 100 EUR).
    """
    rows = [_row(r) for r in relations]
    keys = sorted({k for row, _ in rows for k in row} | set(cells.status))
    pos = {k: i for i, k in enumerate(keys)}
    eq_rows, le_rows = [], []
    for row, exact in rows:
        (eq_rows if exact else le_rows).append({pos[k]: v for k, v in row.items()})
    rel = Relations(_matrix(eq_rows, len(keys)), _matrix(le_rows, len(keys)))
    hidden = np.array([cells.status.get(k) != "published" for k in keys])
    published = np.array(
        [np.nan if h else float(cells.value[k]) for k, h in zip(keys, hidden, strict=True)]
    )
    steps = np.array([(rounding or {}).get(k, 0.0) for k in keys])
    return audit(published, rel, hidden, protection=protection, exact=True, rounding=steps), keys


def _row(rel: Relation | Linear) -> tuple[dict[Key, float], bool]:
    if isinstance(rel, Linear):
        return rel.coefs, rel.exact
    row = {rel.total: -1.0}
    for part in rel.parts:
        row[part] = row.get(part, 0.0) + 1.0
    return row, rel.exact


def _matrix(rows: list[dict[int, float]], n: int) -> sp.csr_matrix:
    data, ri, ci = [], [], []
    for i, row in enumerate(rows):
        for j, v in row.items():
            ri.append(i)
            ci.append(j)
            data.append(v)
    return sp.csr_matrix((data, (ri, ci)), shape=(len(rows), n))


def recovered(cells: Cells, report: AuditReport, keys: list[Key]) -> list[tuple[Key, float, float]]:
    """Secret cells the attacker pinned (or narrowed below the protection width)."""
    return [
        (keys[i], lo, hi) for i, lo, hi in report.failures if cells.status.get(keys[i]) == "secret"
    ]
