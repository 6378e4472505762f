"""EPCI codes of an older year brought to current ones, through the communes a file lists.

The COG tables hold only the current EPCI and their members. An older EPCI code is mapped to a
current one when the communes the file puts in it (brought to current communes) are exactly the
members of one current EPCI: same perimeter, so its values still describe that territory.
Otherwise it is reported (merged, split or partly covered EPCI: a rate cannot be carried over).
"""

from __future__ import annotations

import pandas as pd

from geodata.cog import Cog


def map_old_epci(epci: pd.Series, communes: pd.Series, cog: Cog) -> tuple[dict, dict]:
    """(older code -> current code, older code -> French reason) for the EPCI codes of a file
    that are not current; `communes` holds the commune code of each row."""
    current = frozenset(cog.epci["code"])
    codes = epci.fillna("").astype(str).str.strip().str.upper().str.removesuffix(".0")
    older = ((codes != "") & ~codes.isin(current)).to_numpy()
    if not older.any():
        return {}, {}
    frame = pd.DataFrame(
        {
            "epci": codes[older].to_numpy(),
            "commune": communes[older].map(cog.current_code).to_numpy(),
        }
    ).dropna()
    of_commune = cog.communes["epci"].dropna()
    members = cog.communes.dropna(subset=["epci"]).groupby("epci")["code"].agg(frozenset)
    mapped, reasons = {}, {}
    for old, group in frame.groupby("epci"):
        towns = frozenset(group["commune"])
        now = {of_commune.get(t) for t in towns}
        if now == {None}:
            reasons[old] = "ses communes ne sont aujourd'hui dans aucun EPCI"
        elif len(now) > 1:
            reasons[old] = f"communes aujourd'hui réparties dans {len(now - {None})} EPCI"
            if None in now:
                reasons[old] += " ou hors EPCI"
        elif members.get(next(iter(now))) == towns:
            mapped[old] = next(iter(now))
        else:
            reasons[old] = f"périmètre différent de l'EPCI actuel {next(iter(now))}"
    return mapped, reasons
