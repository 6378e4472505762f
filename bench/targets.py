"""The performance targets of issue 13, each with its baseline, in one place.

Every bench module that measures one of them reports it with `line(key, measured)`, and
`make bench` ends with `summary()`: one line per target, the measured figure, the baseline,
the ratio and « atteint » / « NON ATTEINT ». Baselines were measured on 2026-11-28 on this
2-core machine (the issue's figures, and the national geography's where the issue had none).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    limit: float
    unit: str
    baseline: float | None  # None where nothing was measured before


TARGETS: tuple[Target, ...] = (
    Target("load_p95_page", "charge 200 utilisateurs, p95 pages", 300, "ms", None),
    Target("load_p95_callback", "charge 200 utilisateurs, p95 callbacks", 300, "ms", None),
    Target("load_p95_data", "charge 200 utilisateurs, p95 données", 300, "ms", None),
    Target("load_errors", "charge 200 utilisateurs, erreurs", 0, "", None),
    Target("map_first_commune", "carte, premier affichage des communes", 1000, "ms", 1966),
    Target("map_recolour_commune", "carte, recoloriage via l'interface", 100, "ms", 149),
    Target("map_first_iris", "carte, premier affichage des IRIS (France)", 1000, "ms", 5299),
    Target("map_recolour_iris", "carte, recoloriage IRIS via l'interface", 100, "ms", 218),
    Target("build_cold", "construction à froid (territoires + démonstration)", 120, "s", 627),
    Target("audit_all", "audit de toutes les périodes et niveaux", 60, "s", None),
    # PSS of the master and its 3 workers: what they cost the machine. Summed RSS counts the
    # pages they share (the index loaded before the fork, the memory-mapped cell tables) once
    # per worker. Baseline: PSS of 3 workers after 200 users, note of 2026-11-28.
    Target("memory_workers", "mémoire du serveur (PSS, maître et 3 workers)", 1000, "Mo", 1271),
)
BY_KEY = {t.key: t for t in TARGETS}
LOAD_USERS = 200  # the simulated users the load targets are defined at
MEASURED: dict[str, float] = {}  # filled by the bench modules of this run


def line(key: str, measured: float) -> str:
    """« carte, premier affichage des communes : 812 ms (référence 1 966 ms, ×0,41) ≤ 1 000 ms :
    atteint », and the figure kept for `summary()`."""
    t = BY_KEY[key]
    MEASURED[key] = measured
    unit = f" {t.unit}" if t.unit else ""
    ref = ""
    if t.baseline:
        ratio = f"{measured / t.baseline:.2f}".replace(".", ",")
        ref = f" (référence {_n(t.baseline)}{unit}, ×{ratio})"
    verdict = "atteint" if measured <= t.limit else "NON ATTEINT"
    return f"{t.label} : {_n(measured)}{unit}{ref} ; cible ≤ {_n(t.limit)}{unit} : {verdict}"


def summary() -> str:
    """Every target: its line when measured in this run, else « non mesuré »."""
    out = ["Cibles (issue 13)"]
    for t in TARGETS:
        if t.key in MEASURED:
            out.append("  " + line(t.key, MEASURED[t.key]))
        else:
            out.append(f"  {t.label} : non mesuré dans cette exécution")
    return "\n".join(out)


def _n(x: float) -> str:
    text = f"{x:,.0f}" if abs(x) >= 10 or x == int(x) else f"{x:.1f}"
    return text.replace(",", "\u202f").replace(".", ",")
