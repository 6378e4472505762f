"""Which published cells describe the households of a count: the links secrecy must follow.

The household is the unit of secrecy (SECRECY.md): a cell describing the households of a hidden
count (the persons they cover, the amount they were paid, a rate or share of that count) is
hidden with it. The links are read from data, never listed here:

- the portal's field stems for one benefit <b>, as mapped to catalogue ids by
  `layers.ingest.columns.KNOWN`: `indfoy_<b>` (households), `indnbp_<b>` (persons covered),
  `indmtt_<b>` (amount paid): `indnbp_ndur` -> personnes_couvertes describes allocataires;
- the catalogue's `computed_from`: a rate describes its numerator and denominator;
- the catalogue's `[breakdowns]`: a total and its parts share one secrecy table (their additive
  relation is protected there, `layers.publish`), so they need no link of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import pandas as pd

from layers.catalogue import CURATED
from layers.ingest.columns import KNOWN
from layers.model import COUNT

# Field stems of one benefit <b>: households, persons covered, beneficiaries, amount paid.
_STEM = re.compile(r"^ind(foy|nbp|ben|mtt)_([a-z0-9]+)$")
HOUSEHOLDS, PERSONS, BENEFICIARIES, AMOUNT_PAID = "foy", "nbp", "ben", "mtt"
# Kinds that count the households of a benefit (or the persons they cover); an amount follows.
HEAD_KINDS = frozenset({HOUSEHOLDS, PERSONS, BENEFICIARIES})
# Curated id -> its portal field, for the stems (`rsa_montant` -> `indmtt_rsa`).
_FIELD_OF_ID = {i: f for f, i in reversed(list(KNOWN.items())) if f.startswith("ind")}


def benefit_stem(indicator: str) -> tuple[str, str, str] | None:
    """(kind, benefit, breakdown value) of a series of a benefit, curated or portal:
    `indmtt_rsa.rsa_type_x` -> (mtt, rsa, rsa_type_x), `rsa_montant` -> (mtt, rsa, "");
    None for a series of no benefit stem."""
    base, _, value = indicator.partition(".")
    match = _STEM.match(_FIELD_OF_ID.get(base, base))
    return (match.group(1), match.group(2), value) if match else None


def _household_unit(known: Mapping[str, str]) -> str:
    """The unit of household counts: the one of the indicators read from `indfoy_` fields."""
    units = Counter(
        CURATED.by_id[ind].unit
        for field, ind in known.items()
        if ind in CURATED.by_id and (m := _STEM.match(field)) and m.group(1) == HOUSEHOLDS
    )
    return units.most_common(1)[0][0]


def _stem_links(known: Mapping[str, str]) -> dict[str, str]:
    """Persons covered and amounts paid -> the household count of the same benefit."""
    by_benefit: dict[str, dict[str, str]] = {}
    for field, indicator in known.items():
        match = _STEM.match(field)
        if match and indicator in CURATED.by_id:
            by_benefit.setdefault(match.group(2), {})[match.group(1)] = indicator
    links: dict[str, str] = {}
    for kinds in by_benefit.values():
        count = kinds.get(HOUSEHOLDS)
        for kind in (PERSONS, AMOUNT_PAID):
            if count and kind in kinds and kinds[kind] != count:
                links[kinds[kind]] = count
    return links


# persons covered / amount paid -> household count of the same benefit
DESCRIBES: Mapping[str, str] = MappingProxyType(_stem_links(KNOWN))
HOUSEHOLD_UNIT = _household_unit(KNOWN)


def is_household_count(indicator: str) -> bool:
    """A count of households (the unit secrecy protects), not of places or persons."""
    ind = CURATED.by_id.get(indicator)
    return (
        ind is not None
        and ind.nature == COUNT
        and ind.id not in DESCRIBES
        and (ind.unit == HOUSEHOLD_UNIT)
    )


def under_secrecy(indicator: str) -> bool:
    """Counts protected by their own secrecy table: households and the persons they cover."""
    ind = CURATED.by_id.get(indicator)
    return (
        ind is not None
        and ind.nature == COUNT
        and (is_household_count(indicator) or indicator in DESCRIBES)
    )


def household_counts(indicator: str) -> tuple[str, ...]:
    """The counts whose hidden cell hides `indicator`'s cell of the same territory and period:
    the household count it describes, or a rate's numerator and denominator (and, in turn, the
    household counts they describe). Empty for a household count itself."""
    out: list[str] = []
    if indicator in DESCRIBES:
        out.append(DESCRIBES[indicator])
    ind = CURATED.by_id.get(indicator)
    for part in (ind.computed_from or ()) if ind is not None else ():
        if under_secrecy(part):
            out += [part, *household_counts(part)]
    return tuple(dict.fromkeys(out))


def mirrored_pairs(columns: Iterable[str]) -> list[tuple[str, str]]:
    """(describing count, household count) pairs among secrecy-table columns: their masks are
    kept equal, so that neither tells the other (persons covered <-> allocataires)."""
    cols = set(columns)
    return [(d, c) for d, c in DESCRIBES.items() if d in cols and c in cols]


def link_groups(tables: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Tables joined when they share a column (a total with two breakdowns) or hold mirrored
    columns, as one table each (columns in first-seen order); protected together."""
    group_of = list(range(len(tables)))

    def root(i: int) -> int:
        while group_of[i] != i:
            i = group_of[i]
        return i

    where: dict[str, int] = {}
    for k, table in enumerate(tables):
        for c in table:
            if c in where:
                group_of[root(k)] = root(where[c])
            where[c] = k
    for d, c in mirrored_pairs(where):
        group_of[root(where[d])] = root(where[c])
    groups: dict[int, list[str]] = {}
    for k, table in enumerate(tables):
        groups.setdefault(root(k), []).extend(table)
    return [tuple(dict.fromkeys(columns)) for columns in groups.values()]


def linked_exposures(cells: pd.DataFrame) -> pd.DataFrame:
    """Published cells linked to a hidden household count of the same territory and period.

    `cells`: indicateur, niveau, code, periode, statut (store statuses). Returns the offending
    cells (indicateur, niveau, code, periode, compte: the hidden count); empty when secrecy
    follows the household."""
    from layers.store import PUBLISHED, SECRET

    keys = ["niveau", "code", "periode"]
    hidden = cells.loc[cells["statut"].astype(str) == SECRET, ["indicateur", *keys]]
    published = cells.loc[cells["statut"].astype(str) == PUBLISHED, ["indicateur", *keys]]
    frames = []
    for indicator in published["indicateur"].astype(str).unique():
        counts = household_counts(indicator)
        if not counts:
            continue
        mine = published[published["indicateur"].astype(str) == indicator]
        secret = hidden[hidden["indicateur"].astype(str).isin(counts)]
        hit = mine.merge(secret.rename(columns={"indicateur": "compte"}), on=keys)
        frames.append(hit)
    columns = ["indicateur", *keys, "compte"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns].drop_duplicates(keys + ["indicateur"])
