"""The datasets the fake portal serves: TEST DATA generated deterministically (seeded) on the
real territory codes of a build, shaped like the real Cafdata records.

Ids and fields follow CAFDATA-CATALOGUE.md (`<benefit>_s_<breakdown>_<level>[_f]`, prefixes
`indfoy_/indnbp_/indmtt_/indben_`, `txcouv_*`/`pl_*`); the conventions of §6 are kept: `dtreffre`
a date (Parquet) or "YYYY-MM" (CSV), `annee` an integer or a string (txcouv_pe_nat), counts as
floats (`indfoy_asf`, `pl_eaje_*`), `indben_aeeh` as text, placeholder codes (`XX`, `XXX`),
an empty `numcomdo`, Paris, Lyon and Marseille by arrondissement, `_f` counts rounded to 5 and
amounts to 100.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from tests.fake_portal import FakeDataset

SEED = 20261128
LABELS = {
    "dtreffre": "Date référence",
    "annee": "Date référence",
    "numcomdo": "Numéro commune",
    "numcom": "Numéro commune",
    "nomcom": "Nom commune",
    "numepci": "Numéro EPCI",
    "nomepci": "Nom EPCI",
    "numdep": "Numéro département",
    "nomdep": "Nom département",
    "numregi": "Numéro région",
    "nomregi": "Nom région",
    "indfoy_ndur": "Nombre foyers NDUR",
    "indnbp_ndur": "Nombre personnes NDUR",
    "indfoy_rsa": "Nombre foyers RSA",
    "indnbp_rsa": "Nombre personnes RSA",
    "indmtt_rsa": "Montant total RSA",
    "indfoy_asf": "Nombre foyers ASF",
    "indben_aah": "Nombre bénéficiaires AAH",
    "indben_aeeh": "Nombre bénéficiaires AEEH",
    "rsa_type": "Type de RSA",
    "aah_tx_inca": "Taux d'incapacité",
}
LYON, LYON_ARRONDISSEMENTS = "69123", [f"6938{i}" for i in range(1, 10)]
# Outside the small cut, in the COG: placed on their city (no geometry in the cut).
OTHER_ARRONDISSEMENTS = ["75101", "75120", "13201", "13216"]


def _months(first: str, last: str, december_only: bool = False) -> list[dt.date]:
    months = pd.period_range(first, last, freq="M")
    return [p.to_timestamp().date() for p in months if not december_only or p.month == 12]


def _round(values: np.ndarray, step: int) -> np.ndarray:
    return (np.round(values / step) * step).astype(np.int64)


def _table(columns: dict) -> pa.Table:
    return pa.table(columns)


def _commune_rows(communes: pd.DataFrame) -> pd.DataFrame:
    """Commune codes as the communal files publish them: Lyon by arrondissement, a few
    arrondissements of Paris and Marseille, and one row without a code."""
    codes = [c for c in communes["code"] if c != LYON] + LYON_ARRONDISSEMENTS
    codes += OTHER_ARRONDISSEMENTS + [""]
    pop = dict(zip(communes["code"], communes["population"], strict=True))
    weight = [pop.get(c, pop.get(LYON, 50_000) / 9) if c else 2_000 for c in codes]
    return pd.DataFrame({"code": codes, "population": np.maximum(weight, 50)})


def s_ben_com_f(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    base = _commune_rows(communes)
    parts = []
    for month in _months("2022-12", "2023-12", december_only=True):
        allocataires = base["population"].to_numpy() * rng.uniform(0.25, 0.45, len(base))
        rsa = allocataires * rng.uniform(0.02, 0.12, len(base))
        parts.append(
            pd.DataFrame(
                {
                    "dtreffre": month,
                    "numcomdo": base["code"],
                    "nomcom": "COMMUNE " + base["code"],
                    "indfoy_ndur": _round(allocataires, 5),
                    "indnbp_ndur": _round(allocataires * 2.3, 5),
                    "indfoy_rsa": _round(rsa, 5),
                    "indmtt_rsa": _round(rsa * 640, 100),
                }
            )
        )
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    return FakeDataset("s_ben_com_f", "Toutes prestations [Communal]", table, LABELS)


def s_ben_epci_f(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    epci = communes.groupby("epci")["population"].sum()
    parts = []
    for month in _months("2022-12", "2023-12", december_only=True):
        allocataires = epci.to_numpy() * rng.uniform(0.25, 0.45, len(epci))
        parts.append(
            pd.DataFrame(
                {
                    "dtreffre": month,
                    "numepci": epci.index,
                    "nomepci": "EPCI " + epci.index,
                    "indfoy_ndur": _round(allocataires, 5),
                    "indfoy_rsa": _round(allocataires * 0.07, 5),
                }
            )
        )
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    return FakeDataset("s_ben_epci_f", "Toutes prestations [EPCI]", table, LABELS)


def _dep_frame(communes: pd.DataFrame) -> pd.DataFrame:
    deps = communes.groupby(["departement", "region"])["population"].sum().reset_index()
    return deps


def _dep_keys(month: dt.date, deps: pd.DataFrame) -> dict:
    """The date and key columns of a départemental file, as in the real s_ben_dep record."""
    return {
        "dtreffre": month,
        "numdep": deps["departement"],
        "nomdep": "DEPARTEMENT " + deps["departement"],
        "numregi": deps["region"],
        "nomregi": "REGION " + deps["region"],
    }


def s_ben_dep(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    deps = _dep_frame(communes)
    parts = []
    for month in _months("2024-01", "2024-12"):
        allocataires = deps["population"].to_numpy() * rng.uniform(0.3, 0.4, len(deps))
        asf = (allocataires * 0.03).round().astype(float)  # counts serialised as floats
        parts.append(
            pd.DataFrame(
                {
                    **_dep_keys(month, deps),
                    "indfoy_ndur": allocataires.round().astype(np.int64),
                    "indfoy_rsa": (allocataires * 0.08).round().astype(np.int64),
                    "indmtt_rsa": (allocataires * 0.08 * 640).round().astype(np.int64),
                    "indfoy_asf": asf,
                    "indben_aeeh": [str(int(v)) for v in allocataires * 0.01],  # text
                    "lieures": "DEPARTEMENT/REGION",
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[3, "indfoy_asf"] = np.nan  # a cell the portal left blank
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return FakeDataset("s_ben_dep", "Toutes prestations [Département]", table, LABELS)


def s_ben_nat(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    months = _months("2023-01", "2024-12")
    base = 13_000_000 * rng.uniform(0.99, 1.01, len(months))
    table = _table(
        {
            "dtreffre": pa.array(months, pa.date32()),
            "indfoy_ndur": base.round().astype(np.int64),
            "indfoy_rsa": (base * 0.14).round().astype(np.int64),
            "indmtt_rsa": (base * 0.14 * 640).round().astype(np.int64),
        }
    )
    return FakeDataset(
        "s_ben_nat", "Répartition des allocataires selon la prestation [National]", table, LABELS
    )


def rsa_s_type_com_f(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    base = _commune_rows(communes)
    month = _months("2023-12", "2023-12")[0]
    parts = []
    for kind, share in (("RSA majoré", 0.01), ("RSA non majoré", 0.06)):
        foyers = base["population"].to_numpy() * share * rng.uniform(0.5, 1.5, len(base))
        parts.append(
            pd.DataFrame(
                {
                    "dtreffre": month,
                    "numcomdo": base["code"],
                    "nomcom": "COMMUNE " + base["code"],
                    "rsa_type": kind,
                    "indfoy_rsa": _round(foyers, 5),
                    "indnbp_rsa": _round(foyers * 2.1, 5),
                }
            )
        )
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    return FakeDataset(
        "rsa_s_type_com_f",
        "RSA - Répartition des allocataires selon le type de RSA [Communal]",
        table,
        LABELS,
    )


def _rates(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    eaje = np.round(rng.uniform(5, 40, n), 1)
    ind = np.round(rng.uniform(10, 50, n), 1)
    return {"eaje": eaje, "ind": ind, "total": np.round(eaje + ind, 1)}


def txcouv_pe(level: str, codes: list[str], rng: np.random.Generator, *, key: str) -> FakeDataset:
    """txcouv_pe_<level>: `annee` an integer, a string for the national file (as on the portal)."""
    parts = []
    for year in (2022, 2023):
        rates = _rates(rng, len(codes))
        frame = pd.DataFrame(
            {
                "annee": str(year) if level == "nat" else year,
                key: codes,
                f"txcouv_eaje_{level}": rates["eaje"],
                f"txcouv_ind_{level}": rates["ind"],
                f"txcouv_{level}": rates["total"],
            }
        )
        parts.append(frame)
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    return FakeDataset(
        f"txcouv_pe_{level}",
        f"Taux de couverture petite enfance [{level}]",
        table,
        {**LABELS, f"txcouv_{level}": "Taux de couverture global"},
        theme=("Petite enfance",),
    )


def nbpla_pe_epci(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    codes = sorted(communes["epci"].unique()) + ["XX"]  # XX: communes outside any EPCI
    places = rng.integers(20, 3000, len(codes)).astype(float)
    table = pa.table(
        {
            "annee": np.full(len(codes), 2023),
            "numepci": codes,
            "nomepci": ["XX" if c == "XX" else f"EPCI {c}" for c in codes],
            "pl_eaje_epci": places,  # floats, as on the portal
            "tot_offre_epci": (places * 2.5).round().astype(np.int64),
        }
    )
    return FakeDataset(
        "nbpla_pe_epci",
        "Nombre de places petite enfance [EPCI]",
        table,
        LABELS,
        theme=("Petite enfance",),
    )


def aah_s_tx_inca_dep(communes: pd.DataFrame, rng: np.random.Generator) -> FakeDataset:
    deps = _dep_frame(communes)
    kinds = ["Taux d’incapacité supérieur ou égal à 80%", "Taux d’incapacité entre 50% et 79%"]
    parts = []
    for month in _months("2024-10", "2024-12"):
        for kind in kinds:
            parts.append(
                pd.DataFrame(
                    {
                        **_dep_keys(month, deps),
                        "aah_tx_inca": kind,
                        "indben_aah": (deps["population"] * rng.uniform(0.005, 0.01))
                        .round()
                        .astype(np.int64),
                        "lieures": "DEPARTEMENT/REGION",
                    }
                )
            )
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    return FakeDataset(
        "aah_s_tx_inca_dep",
        "AAH - Répartition selon le taux d'incapacité [Département]",
        table,
        LABELS,
    )


def unusable(communes: pd.DataFrame, rng: np.random.Generator) -> list[FakeDataset]:
    """A dataset by Caf number (no key the app can place) and a `-copy` for datavisualisation."""
    by_caf = pa.table(
        {
            "dtreffre": pa.array(_months("2024-12", "2024-12"), pa.date32()),
            "numcaf": ["691"],
            "indfoy_ndur": [123_456],
        }
    )
    copy = s_ben_epci_f(communes, rng)
    return [
        FakeDataset("s_ben_caf", "Toutes prestations [Caf]", by_caf, LABELS),
        FakeDataset("s_ben_epci_f-copy", "Toutes prestations [EPCI] (copie)", copy.table, LABELS),
    ]


def portal_datasets(communes: pd.DataFrame, seed: int = SEED) -> list[FakeDataset]:
    """The fake portal of the tests, on the communes of a build (`code`, `population`, `epci`,
    `departement`, `region`)."""
    rng = np.random.default_rng(seed)
    deps = sorted(communes["departement"].unique())
    big = communes.sort_values("population", ascending=False)["code"].head(15).tolist()
    return [
        s_ben_nat(communes, rng),
        s_ben_dep(communes, rng),
        s_ben_com_f(communes, rng),
        s_ben_epci_f(communes, rng),
        rsa_s_type_com_f(communes, rng),
        txcouv_pe("com", big, rng, key="numcom"),
        txcouv_pe("dep", deps, rng, key="numdep"),
        txcouv_pe("nat", ["FRANCE ENTIERE HORS MAYOTTE"], rng, key="national"),
        nbpla_pe_epci(communes, rng),
        aah_s_tx_inca_dep(communes, rng),
        *unusable(communes, rng),
    ]
