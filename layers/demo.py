"""Demonstration dataset: plausible Caf counts for every real commune, deterministic from a seed.

Values are drawn at the commune level for every quarter, so that every aggregate (EPCI,
département, région, Caf, France) is an exact sum of its communes before secrecy; a total and
its breakdown (family types, quotient familial bands, housing aids) add up exactly too. Levels
vary with density (urban / rural), a latent precarity index, overseas départements, and time
(2020 crisis, 2019 prime d'activité reform). Nothing here is real Caf data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TextIO

import numpy as np
import pandas as pd

from layers.demo_arm import split_cities
from layers.facilities import generate_facilities, places_by_period
from layers.model import SINGLE_IRIS
from layers.periods import decembers, quarters, year_fraction
from layers.progress import weighing

DEFAULT_SEED = 20261123
DEMO_NOTICE = "Données de démonstration générées : ce ne sont pas des données réelles de la Caf."


@dataclass
class DemoData:
    """Raw (unmasked) demonstration values. Never published as such: secrecy comes first."""

    periods: list[str]  # quarterly periods, "YYYY-MM"
    communes: pd.DataFrame  # code, population, departement, region, epci, caf (row order)
    counts: dict[str, np.ndarray]  # indicator -> int64 (communes x periods)
    amounts: dict[str, np.ndarray]  # indicator -> float64 euros (communes x periods)
    denominators: dict[str, np.ndarray]  # population, enfants_moins_3_ans, places_total
    not_applicable: dict[str, np.ndarray] = field(default_factory=dict)  # period mask
    infra: dict[str, tuple[pd.DataFrame, dict[str, np.ndarray]]] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    facilities: pd.DataFrame | None = None  # EAJE and LAEP (generated), see layers.facilities

    @property
    def annual_index(self) -> np.ndarray:
        """Column indices of the December periods published for local levels."""
        wanted = set(decembers())
        return np.array([i for i, p in enumerate(self.periods) if p in wanted])


def _profile(communes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Latent traits per commune: urban share (from density), precarity, overseas."""
    density = communes["population"].to_numpy(float) / communes["area_km2"].to_numpy(float)
    urban = np.clip(np.log10(density + 1) / 3.5, 0, 1)
    overseas = communes["departement"].str.startswith("97").to_numpy()
    precarity = rng.normal(0, 0.35, len(communes)) + 0.5 * urban + 1.2 * overseas
    return pd.DataFrame({"urban": urban, "overseas": overseas, "precarity": precarity})


def _trend(periods: list[str]) -> dict[str, np.ndarray]:
    t = np.array([year_fraction(p) for p in periods]) - 2015
    crisis = np.where((t >= 5.2) & (t < 6.5), 1.0, 0.0)  # 2020-03 to 2021-06
    return {
        "allocataires": 1 + 0.004 * t + 0.01 * crisis,
        "rsa": 1 - 0.006 * t + 0.09 * crisis,
        "ppa": np.where(t >= 4.0, 1.35, 1.0) * (t >= 1.0),  # created 2016, reformed 2019
        "paje": 1 - 0.015 * t,  # fewer births every year
        "aah": 1 + 0.02 * t,
    }


def _binomial(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    return rng.binomial(n, np.clip(p, 0, 1))


def _multinomial(rng: np.random.Generator, n: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split each count into parts; `shares` (communes x parts) rows sum to 1."""
    pvals = np.broadcast_to(shares[:, None, :], (*n.shape, shares.shape[1]))
    return rng.multinomial(n, pvals)


@dataclass(frozen=True)
class _Traits:
    """Per commune: population, and the latent traits as columns (communes x 1) that broadcast
    against periods."""

    pop: np.ndarray  # int64
    u: np.ndarray  # urban share
    o: np.ndarray  # overseas
    pr: np.ndarray  # precarity


# The breakdowns, in the order of their parts in the draws.
_FAMILY_TYPES = ("isoles", "monoparentales", "couples_sans_enfant", "couples_avec_enfants")
_QF_BANDS = ("qf_moins_400", "qf_400_800", "qf_800_plus", "qf_non_calcule")
_HOUSING_AIDS = ("apl", "alf", "als")


def _traits(communes: pd.DataFrame, rng: np.random.Generator) -> _Traits:
    prof = _profile(communes, rng)
    u, o, pr = (prof[c].to_numpy()[:, None] for c in ("urban", "overseas", "precarity"))
    return _Traits(communes["population"].fillna(0).to_numpy(np.int64), u, o, pr)


def _family_types(rng: np.random.Generator, t: _Traits, trend: dict[str, np.ndarray]) -> np.ndarray:
    """Allocataires split into family types (communes x periods x 4)."""
    rate_alloc = 0.17 * np.exp(0.18 * t.pr) * (1 + 0.15 * t.o)
    households = rng.poisson(t.pop[:, None] * rate_alloc * trend["allocataires"][None, :])
    households = np.minimum(households, t.pop[:, None])
    shares = np.column_stack(
        [
            0.36 + 0.12 * t.u[:, 0],  # isolés
            np.clip(0.14 + 0.05 * t.pr[:, 0] + 0.08 * t.o[:, 0], 0.05, 0.4),  # monoparentales
            np.full(len(t.pop), 0.07),  # couples sans enfant
        ]
    )
    shares = np.column_stack([shares, np.clip(1 - shares.sum(1), 0.05, 1)])
    shares /= shares.sum(1, keepdims=True)
    return _multinomial(rng, households, shares)


def _qf_bands(rng: np.random.Generator, t: _Traits, allocataires: np.ndarray) -> np.ndarray:
    q400 = np.clip(0.22 + 0.1 * t.pr[:, 0], 0.05, 0.7)
    shares = np.column_stack([q400, 0.38 * (1 - q400), 0.5 * (1 - q400), 0.12 * (1 - q400)])
    return _multinomial(rng, allocataires, shares / shares.sum(1, keepdims=True))


def _housing_aids(rng: np.random.Generator, t: _Traits, allocataires: np.ndarray) -> np.ndarray:
    """APL, ALF, ALS and no housing aid (communes x periods x 4)."""
    apl = 0.2 + 0.08 * t.u[:, 0] + 0.03 * t.pr[:, 0]
    als = 0.12 + 0.08 * t.u[:, 0]
    shares = np.clip(np.column_stack([apl, np.full(len(t.pop), 0.07), als]), 0.01, 0.5)
    shares = np.column_stack([shares, 1 - shares.sum(1)])
    return _multinomial(rng, allocataires, shares)


def _benefits(
    rng: np.random.Generator,
    t: _Traits,
    trend: dict[str, np.ndarray],
    fam: np.ndarray,
    allocataires: np.ndarray,
) -> dict[str, np.ndarray]:
    """Family, childhood, minimum income and disability benefits, drawn in this order."""
    u, o, pr = t.u, t.o, t.pr
    isoles, mono, csans, cavec = (fam[..., k] for k in range(4))
    families = mono + cavec
    af = _binomial(rng, families, 0.62 + 0 * u)
    paje = _binomial(rng, families, 0.2 * trend["paje"][None, :] * (1 + 0.2 * o))
    return {
        "af": af,
        "cf": _binomial(rng, af, 0.14 + 0.04 * o),
        "asf": _binomial(rng, mono, 0.33 + 0.05 * pr),
        "ars": _binomial(rng, families, 0.42 + 0.1 * pr),
        "paje": paje,
        "paje_ab": _binomial(rng, paje, 0.72 + 0 * u),
        "paje_cmg": _binomial(rng, paje, (0.38 - 0.15 * u) * (1 - 0.6 * o)),
        "paje_prepare": _binomial(rng, paje, 0.08 + 0 * u),
        "rsa": _binomial(rng, isoles + mono, (0.17 + 0.08 * pr) * trend["rsa"][None, :]),
        "ppa": _binomial(rng, allocataires, 0.24 * trend["ppa"][None, :] * (1 + 0 * u)),
        "aah": _binomial(rng, isoles + csans, 0.13 * trend["aah"][None, :] + 0 * u),
        "aeeh": _binomial(rng, families, 0.035 + 0 * u),
    }


def _counts(
    rng: np.random.Generator,
    t: _Traits,
    trend: dict[str, np.ndarray],
    done: Callable[[float], None] = lambda weight: None,
) -> dict[str, np.ndarray]:
    """Every count (int32, communes x periods), a total and its breakdown adding up exactly;
    `done` is told each part's weight as it is drawn (the progress bar)."""
    fam = _family_types(rng, t, trend)
    done(PARTS_S["familles"])
    allocataires = fam.sum(-1)
    qf = _qf_bands(rng, t, allocataires)
    done(PARTS_S["quotients"])
    al = _housing_aids(rng, t, allocataires)
    done(PARTS_S["logement"])
    _, mono, csans, cavec = (fam[..., k] for k in range(4))
    persons = (
        allocataires
        + csans
        + cavec
        + rng.poisson(mono * 1.7)
        + rng.poisson(cavec * (1.9 + 0.4 * t.o))
    )
    counts = {
        "allocataires": allocataires,
        "personnes_couvertes": persons,
        **{name: fam[..., k] for k, name in enumerate(_FAMILY_TYPES)},
        **{name: qf[..., k] for k, name in enumerate(_QF_BANDS)},
        **{name: al[..., k] for k, name in enumerate(_HOUSING_AIDS)},
        "aides_logement": al[..., :3].sum(-1),
        **_benefits(rng, t, trend, fam, allocataires),
    }
    counts = {k: v.astype(np.int32) for k, v in counts.items()}
    done(PARTS_S["prestations"])
    return counts


def _childcare(
    rng: np.random.Generator, communes: pd.DataFrame, t: _Traits, periods: list[str]
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Facilities (EAJE and LAEP), EAJE places by period, and the childcare denominators."""
    children = rng.poisson(np.outer(t.pop * (0.03 + 0.02 * t.o[:, 0]), np.ones(len(periods))))
    facilities = generate_facilities(communes, rng, urban=t.u[:, 0])
    years = np.array([int(p[:4]) for p in periods])
    places_eaje = places_by_period(facilities, len(t.pop), years)
    other_places = _binomial(rng, children, (0.45 - 0.2 * t.u) * (1 - 0.7 * t.o))
    denominators = {
        "population": np.repeat(t.pop[:, None], len(periods), axis=1),
        "enfants_moins_3_ans": children,
        "places_total": places_eaje + other_places,
    }
    return facilities, places_eaje, denominators


# CPU seconds of each part of a national draw (2026-11-29): the progress bar's weights.
PARTS_S = {
    "familles": 0.9,
    "quotients": 0.8,
    "logement": 0.8,
    "prestations": 3.2,
    "accueil": 1.0,
    "zones": 0.5,  # each infra level
}


def generate(
    communes: pd.DataFrame,
    *,
    seed: int = DEFAULT_SEED,
    infra: dict[str, pd.DataFrame] | None = None,
    bars: TextIO | None = None,
) -> DemoData:
    """Draw every count for every commune and quarter from its real population.

    `communes` needs code, population, area_km2, departement, region, epci, caf. `infra` maps
    "qpv" / "iris" / "arm" to zones with code, commune (current code) and population. `bars`:
    where the progress bar goes (none without).
    """
    weights = [PARTS_S[k] for k in ("familles", "quotients", "logement", "prestations")]
    weights += [PARTS_S["accueil"]] + [PARTS_S["zones"]] * len(infra or {})
    with weighing("données de démonstration", weights, bars, unit="étapes") as done:
        return _generate(communes, seed, infra, done)


def _generate(
    communes: pd.DataFrame,
    seed: int,
    infra: dict[str, pd.DataFrame] | None,
    done: Callable[[float], None],
) -> DemoData:
    communes = communes.sort_values("code").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    periods = quarters()
    traits = _traits(communes, rng)
    counts = _counts(rng, traits, _trend(periods), done)
    n = len(traits.pop)
    amounts = {
        "rsa_montant": counts["rsa"] * rng.normal(590, 25, (n, 1)),
        "ppa_montant": counts["ppa"] * rng.normal(185, 10, (n, 1)),
    }
    before_ppa = np.array([p < "2016-01" for p in periods])
    not_applicable = {"ppa": before_ppa, "ppa_montant": before_ppa.copy()}
    facilities, places_eaje, denominators = _childcare(rng, communes, traits, periods)
    done(PARTS_S["accueil"])
    counts["places_eaje"] = places_eaje
    data = DemoData(
        periods,
        communes,
        counts,
        amounts,
        denominators,
        not_applicable,
        seed=seed,
        facilities=facilities,
    )
    for name, zones in (infra or {}).items():
        data.infra[name] = (
            split_cities(rng, data, zones) if name == ARM else _infra(rng, data, zones, name)
        )
        done(PARTS_S["zones"])
    return data


def structure(communes: pd.DataFrame, *, infra: dict[str, pd.DataFrame] | None = None) -> DemoData:
    """`generate`'s periods, territories and indicators, every value zero, without drawing
    them: the audit needs the shape only, and the draws (facilities, IRIS splits) took ~3 s of
    serial work before its workers start. The indicators are those of a one-commune draw."""
    communes = communes.sort_values("code").reset_index(drop=True)
    shape = generate(communes.head(1))
    n = len(communes)

    def zeros(values: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        return {k: np.zeros((rows, *v.shape[1:]), dtype=v.dtype) for k, v in values.items()}

    data = replace(
        shape,
        communes=communes,
        counts=zeros(shape.counts, n),
        amounts=zeros(shape.amounts, n),
        denominators=zeros(shape.denominators, n),
        infra={},
        facilities=None,
    )
    for name, zones in (infra or {}).items():
        if name == ARM:  # the cities' split of zero counts: a few draws, the same keys
            zones, values = split_cities(np.random.default_rng(0), data, zones)
        else:
            zones, _ = zones_with_data(name, zones, communes)
            years = (len(zones), len(data.annual_index))
            values = {ind: np.zeros(years, dtype=np.int64) for ind in INFRA_INDICATORS[name]}
        data.infra[name] = (zones, zeros(values, len(zones)))
    return data


ARM = "arm"  # the municipal arrondissements: every count, their city's exact parts
INFRA_INDICATORS = {
    "iris": ("allocataires", "personnes_couvertes", "rsa"),
    "qpv": ("allocataires", "personnes_couvertes", "rsa", "qf_moins_400"),
}
# The IRIS of a commune partition it when they cover this share of its area (the national file
# covers every commune; a sample may hold only some of a commune's IRIS).
PARTITION_AREA_SHARE = 0.9
# Inhabitants of a QPV whose population is not given (national contours): a typical QPV,
# never more than a fifth of its commune.
QPV_DEFAULT_POPULATION = 2500
LEFT_OUT_NO_COMMUNE = "zone sans commune du COG : pas de données"
LEFT_OUT_SINGLE_IRIS = (
    "commune non découpée (IRIS de type Z) : sa valeur serait celle de la commune"
)


def zones_with_data(
    name: str, zones: pd.DataFrame, communes: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(zones that get demonstration values, zones left out with their reason `raison`).

    Zones need a commune; an IRIS of type Z is its whole commune, so it gets nothing. Kept
    IRIS carry `partition`: True where the commune's IRIS cover it (they then add up to it
    exactly), computed from public areas only."""
    zones = zones.sort_values("code").reset_index(drop=True)
    reason = pd.Series(None, index=zones.index, dtype=object)
    reason[~zones["commune"].isin(communes["code"])] = LEFT_OUT_NO_COMMUNE
    if name == "iris" and "type_iris" in zones:
        reason[reason.isna() & (zones["type_iris"].astype(str) == SINGLE_IRIS)] = (
            LEFT_OUT_SINGLE_IRIS
        )
    left_out = zones.loc[reason.notna(), ["code", "commune"]].assign(raison=reason.dropna())
    kept = zones[reason.isna()].reset_index(drop=True)
    if name == "iris":
        kept = kept.assign(partition=_partition(kept, communes))
    return kept, left_out.reset_index(drop=True)


def _partition(zones: pd.DataFrame, communes: pd.DataFrame) -> np.ndarray:
    """Per IRIS: whether the IRIS of its commune cover the commune (by area)."""
    if "area_km2" not in zones or "area_km2" not in communes:
        return np.zeros(len(zones), dtype=bool)
    covered = zones.groupby("commune")["area_km2"].transform("sum")
    area = zones["commune"].map(communes.set_index("code")["area_km2"])
    return (covered >= PARTITION_AREA_SHARE * area).fillna(False).to_numpy(dtype=bool)


# Relative inhabitants of an IRIS by INSEE type when its population is not given: habitat,
# activity (business parks: a few residents), miscellaneous (parks, woods, ports).
IRIS_TYPE_WEIGHT = {"H": 1.0, "A": 0.12, "D": 0.03}


def _zone_weights(
    rng: np.random.Generator, name: str, zones: pd.DataFrame, idx: np.ndarray, cpop: np.ndarray
) -> np.ndarray:
    """Inhabitants of each zone: its population, else the commune's shared among its IRIS by
    type (with some spread), or a typical QPV (national contours come without population)."""
    zpop = pd.to_numeric(zones["population"], errors="coerce").to_numpy(float)
    known = np.isfinite(zpop) & (zpop > 0)
    if name == "iris":
        kind = zones["type_iris"] if "type_iris" in zones else pd.Series("H", index=zones.index)
        w = kind.astype(str).map(IRIS_TYPE_WEIGHT).fillna(1.0).to_numpy(float)
        w = w * rng.lognormal(0.0, 0.4, len(zones))
        fallback = cpop * w / np.maximum(pd.Series(w).groupby(idx).transform("sum"), 1e-9)
    else:
        fallback = np.minimum(QPV_DEFAULT_POPULATION, 0.2 * cpop)
    return np.where(known, zpop, fallback)


def _infra(
    rng: np.random.Generator, data: DemoData, zones: pd.DataFrame, name: str
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """IRIS split their commune's households by population (exactly, where they partition
    it); QPV are poorer parts of it."""
    zones, _ = zones_with_data(name, zones, data.communes)
    row = pd.Series(range(len(data.communes)), index=data.communes["code"])
    idx = zones["commune"].map(row).astype(int).to_numpy()
    cpop = data.communes["population"].fillna(0).to_numpy(float)[idx]
    zpop = _zone_weights(rng, name, zones, idx, cpop)
    exact = zones["partition"].to_numpy(bool) if name == "iris" else np.zeros(len(zones), bool)
    annual = data.annual_index
    out: dict[str, np.ndarray] = {}
    for ind in INFRA_INDICATORS[name]:
        if name == "iris":
            total = pd.Series(zpop).groupby(idx).transform("sum").to_numpy()
            share = np.where(exact, zpop / np.maximum(total, 1e-9), zpop / np.maximum(cpop, 1))
            over = pd.Series(share).groupby(idx).transform("sum").to_numpy()
            share = np.where(exact, share, share / np.maximum(over, 1.0))
        else:
            # QPV are poorer than their commune; several QPV of one commune share it jointly.
            uplift = {"rsa": 2.2, "qf_moins_400": 2.0}.get(ind, 1.3)
            share = zpop / np.maximum(cpop, 1) * uplift
            total = pd.Series(share).groupby(idx).transform("sum").to_numpy()
            share = share * np.minimum(1.0, 0.9 / np.maximum(total, 1e-9))
        values = _split_within(rng, data.counts[ind][:, annual], idx, share, exact)
        out[ind] = values.astype(np.int64)
    return zones, out


def _split_within(
    rng: np.random.Generator,
    commune_values: np.ndarray,
    idx: np.ndarray,
    share: np.ndarray,
    exact: np.ndarray,
) -> np.ndarray:
    """Multinomial split of each commune's value among its zones, and a remainder unless the
    zones partition the commune (`exact`: they then add up to its value)."""
    out = np.zeros((len(idx), commune_values.shape[1]), dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    bounds = np.flatnonzero(np.diff(idx[order])) + 1
    for members in np.split(order, bounds) if len(idx) else []:
        p = share[members]
        rest = 0.0 if exact[members].all() else max(0.0, 1 - p.sum())
        if p.sum() + rest <= 0:
            continue
        pvals = np.append(p, rest) / (p.sum() + rest)
        draws = rng.multinomial(commune_values[idx[members[0]]], pvals)
        out[members] = draws[:, :-1].T
    return out
