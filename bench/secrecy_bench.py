"""Statistical secrecy on a synthetic France-size table: protect() and audit() times, hidden shares.

Run with `python -m bench.secrecy_bench` (add `--communes 5000` for a quicker cut).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from layers.audit import Relations, audit
from layers.secrecy import build_relations, primary_mask, protect

N_TYPES = 4  # family types; column 0 is the total
TYPE_SHARES = np.array([0.35, 0.25, 0.15, 0.25])


@dataclass(frozen=True)
class Synthetic:
    """A territories x (total + family types) table, flattened cell = territory * 5 + column."""

    values: np.ndarray
    relations: Relations
    n_territories: int
    level: np.ndarray  # per territory: 0 commune, 1 EPCI, 2 département, 3 région, 4 France


def synthetic_france(
    n_communes: int = 35_000,
    n_epci: int = 1_250,
    n_dep: int = 101,
    n_reg: int = 18,
    *,
    cross_epci: int = 89,
    no_epci: int = 98,
    median: float = 45.0,
    seed: int = 0,
) -> Synthetic:
    """France-like hierarchy (EPCI crossing départements, communes without EPCI), heavy-tailed
    commune sizes with a pessimistic share of small cells, each commune split into 4 family types.
    """
    rng = np.random.default_rng(seed)
    dep_of_reg = np.sort(np.r_[np.arange(n_reg), rng.integers(0, n_reg, n_dep - n_reg)])
    dep = np.sort(np.r_[np.arange(n_dep), rng.integers(0, n_dep, n_communes - n_dep)])
    # EPCI are contiguous runs of communes, so most stay within one département.
    cuts = np.sort(rng.choice(np.arange(1, n_communes), n_epci - 1, replace=False))
    epci = np.searchsorted(cuts, np.arange(n_communes), side="right")
    # Force some EPCI to straddle a département border by moving communes across it.
    borders = np.flatnonzero(np.diff(dep))[:cross_epci]
    epci[borders + 1] = epci[borders]
    epci[rng.choice(n_communes, no_epci, replace=False)] = -1

    totals = np.maximum(0, np.round(rng.lognormal(np.log(median), 1.6, n_communes))).astype(int)
    types = np.array([rng.multinomial(t, TYPE_SHARES) for t in totals])
    commune_vals = np.c_[totals, types]

    n_e, n_d, n_r = n_epci, n_dep, n_reg
    t_epci, t_dep, t_reg = n_communes, n_communes + n_e, n_communes + n_e + n_d
    t_fr = t_reg + n_r
    n_terr = t_fr + 1
    vals = np.zeros((n_terr, N_TYPES + 1), dtype=np.int64)
    vals[:n_communes] = commune_vals
    has = epci >= 0
    np.add.at(vals, t_epci + epci[has], commune_vals[has])
    np.add.at(vals, t_dep + dep, commune_vals)
    np.add.at(vals, t_reg + dep_of_reg, vals[t_dep : t_dep + n_d])
    vals[t_fr] = vals[t_reg : t_reg + n_r].sum(axis=0)

    def groups(parent: np.ndarray, parent_base: int, child_base: int) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for child, p in enumerate(parent):
            if p >= 0:
                out.setdefault(parent_base + int(p), []).append(child_base + child)
        return out

    hier = [
        groups(epci, t_epci, 0),
        groups(dep, t_dep, 0),
        groups(dep_of_reg, t_reg, t_dep),
        {t_fr: list(range(t_reg, t_reg + n_r))},
    ]
    cols = N_TYPES + 1
    equalities = [
        {p * cols + k: [c * cols + k for c in ch] for p, ch in h.items()}
        for h in hier
        for k in range(cols)
    ]
    equalities.append({t * cols: [t * cols + k for k in range(1, cols)] for t in range(n_terr)})
    relations = build_relations(n_terr * cols, equalities)
    level = np.repeat([0, 1, 2, 3, 4], [n_communes, n_e, n_d, n_r, 1])
    return Synthetic(vals.ravel(), relations, n_terr, level)


def measure(n_communes: int = 35_000, seed: int = 0) -> dict:
    """Protect then audit a synthetic table; the numbers the report prints."""
    scale = n_communes / 35_000
    syn = synthetic_france(
        n_communes,
        max(2, round(1_250 * scale)),
        max(2, round(101 * scale)),
        max(1, round(18 * scale)),
        cross_epci=max(1, round(89 * scale)),
        no_epci=max(1, round(98 * scale)),
        seed=seed,
    )
    primary = primary_mask(syn.values)
    res = protect(syn.values, syn.relations, primary)
    published = np.where(res.hidden, -1, syn.values)
    t0 = time.perf_counter()
    rep = audit(published, syn.relations, res.hidden)
    audit_s = time.perf_counter() - t0
    communes = np.zeros(syn.values.size, dtype=bool)
    communes[: n_communes * (N_TYPES + 1) : N_TYPES + 1] = True  # commune totals
    households = syn.values[communes].sum()
    share = syn.values[communes & res.hidden].sum() / households
    return {"result": res, "audit": rep, "audit_s": audit_s, "households_hidden": share}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--communes", type=int, default=35_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = measure(args.communes, args.seed)
    res, rep = out["result"], out["audit"]
    s = res.stats
    print("## Secret statistique (table synthétique)")
    print(f"cellules : {s['cells']} ; relations : {s['relations']}")
    print(f"primaires : {s['primary']} ; secondaires : {s['secondary']}")
    print(f"part des cellules masquées : {s['share_cells_hidden']:.2%}")
    print(f"part des foyers masqués (totaux communaux) : {out['households_hidden']:.2%}")
    print(f"part de la somme des valeurs masquée : {s['share_value_hidden']:.2%}")
    print(f"protect : {s['seconds']:.1f} s ({s['timings']})")
    print(f"audit : {out['audit_s']:.1f} s ; {rep.summary()}")


if __name__ == "__main__":
    main()
