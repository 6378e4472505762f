"""Secrecy of the infra-communal zones (IRIS, QPV) in the rounded periods (SECRECY.md, rule 3).

From 2020 the portal rounds local cells instead of blanking them, but publishes nothing for a
zone of fewer than `min_households` allocataires. Such a zone has every value of the period
hidden; since the IRIS of a split commune add up to it, further IRIS are hidden until no hidden
zone can be bounded to fewer than `protection` values by its commune minus the other zones.
The commune cells stay published (rounded): only zones are hidden. Each commune with its zones
is an independent problem (the relations never join two communes), so `protect` solves it
commune by commune, however many IRIS France has.

The problem is solved on exact values: rounding only widens what an attacker can infer, so a
mask that protects the exact values protects the rounded ones.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from layers.audit import Relations
from layers.publish import Table, Territories
from layers.secrecy import INFRA_KINDS, SMALL_ZONE_REASON, default_costs, primary_mask, protect

__all__ = ["SMALL_ZONE_REASON", "protect_zones", "zone_relations"]


def zone_relations(table: Table, zone: np.ndarray) -> Relations:
    """The relations of `table` that name a zone cell (zones within or adding up to their
    commune), the others dropped."""

    def touching(m: sp.csr_matrix) -> sp.csr_matrix:
        rows = np.flatnonzero((abs(m) @ zone.astype(float)) > 0)
        return m[rows]

    return Relations(touching(table.relations.eq), touching(table.relations.le))


def protect_zones(
    table: Table,
    terr: Territories,
    *,
    min_households: int,
    threshold: int = 5,
    protection: float = 5,
) -> tuple[np.ndarray, dict]:
    """Hidden mask of the zone cells of a rounded period's table, and the run's statistics.

    A zone with any hidden cell has all its cells hidden (its allocataires and the persons
    they cover mirror each other)."""
    level = terr.level[table.cell_terr]
    # IRIS and QPV only: other zone levels (municipal arrondissements) are rounded like communes
    zone = np.isin(level, sorted(INFRA_KINDS))
    primary = zone & primary_mask(
        np.zeros(table.values.size),  # counts themselves are rounded, not blanked
        threshold,
        zone_kind=table.zone_kind,
        allocataires=table.allocataires,
        min_allocataires=min_households,
        min_commune_allocataires=0,
    )
    if not primary.any():
        return primary, {"primary": 0, "secondary": 0, "unprotected": 0}
    costs = np.where(zone, default_costs(table.values), np.inf)
    result = protect(
        table.values,
        zone_relations(table, zone),
        primary,
        threshold=threshold,
        protection=protection,
        costs=costs,
    )
    hidden_terr = np.unique(table.cell_terr[result.hidden & zone])
    hidden = zone & np.isin(table.cell_terr, hidden_terr)
    stats = {
        "primary": int(primary.sum()),
        "secondary": int((hidden & ~primary).sum()),
        "unprotected": int(result.unprotected.size),
    }
    return hidden, stats
