"""What every view says of a series' origin: source line, disclosure note, approximate mark.

One home for the words the legend, tooltips, profile, exports and API show beside a value,
from the store's provenance (`layers.provenance.Provenance`) of (indicator, level, period).
Values the app derives itself (`layers/real_derived.py`) carry a `champ` starting with
`DERIVED`; a rate derived from rounded counts is approximate (« ≈ »).
"""

from __future__ import annotations

from layers.model import Indicator
from layers.provenance import DEMO_DATASET, EXACT, MIN_ROUNDED_DENOMINATOR, ROUNDED, Provenance
from layers.store import Store

DERIVED = "calcul : "  # champ of a derived series: "calcul : rsa / allocataires"
SUM = "somme des départements"
DATASET_URL = "https://data.caf.fr/explore/dataset/{}/"
APPROX = "≈"


def provenance_of(
    store: Store | None, indicator: str, level: str, period: str
) -> Provenance | None:
    if store is None or not period:
        return None
    return store.provenance(indicator, level, period)


def is_derived(prov: Provenance | None) -> bool:
    return prov is not None and prov.field.startswith(DERIVED)


def is_approximate(prov: Provenance | None) -> bool:
    """A rate the app computed from counts the portal rounded."""
    return is_derived(prov) and prov is not None and prov.regime == ROUNDED


def source_line(prov: Provenance | None, ind: Indicator) -> str:
    """« Source : Cnaf, data.caf.fr, jeu s_ben_com_f, mis à jour le 16/01/2026 »."""
    if prov is None:
        return f"Source : {ind.source}" if ind.source else ""
    line = prov.source_line()
    if is_derived(prov) and not prov.is_demo:
        line += f" ({prov.field.removeprefix(DERIVED)}, calculé par l'application)"
    return line


def note(prov: Provenance | None) -> str:
    """The disclosure regime in words (« Valeurs arrondies à 5 … », « Secret statistique … »)."""
    if prov is None:
        return ""
    if is_approximate(prov):
        step = prov.rounding or 5
        return (
            f"Valeur approximative ({APPROX}) : taux calculé à partir d'effectifs arrondis à "
            f"{step}{'' if prov.is_demo else ' par la Cnaf'} ; non calculé quand le "
            "dénominateur est inférieur à "
            f"{MIN_ROUNDED_DENOMINATOR}"
        )
    if is_derived(prov) and prov.regime == EXACT:
        return "Valeurs exactes (calculées à partir des valeurs publiées par la Cnaf)"
    return prov.regime_note()


def api_source(prov: Provenance | None) -> dict | None:
    """`source` of the API: dataset, field, update date and the dataset's portal page."""
    if prov is None:
        return None
    portal = not prov.is_demo and not prov.dataset.endswith((".csv", ".xlsx", ".parquet"))
    first = prov.dataset.split("+")[0]
    return {
        "jeu": prov.dataset,
        "champ": prov.field,
        "mis_a_jour": prov.updated or None,
        "url": DATASET_URL.format(first) if portal and prov.dataset else None,
    }


def api_fields(prov: Provenance | None) -> dict:
    """The provenance keys of an API series: source, regime, arrondi, note, approximatif."""
    return {
        "source": api_source(prov),
        "regime": prov.regime if prov else None,
        "arrondi": (prov.rounding or None) if prov else None,
        "note": note(prov) or None,
        "approximatif": is_approximate(prov),
    }


def is_demo(prov: Provenance | None) -> bool:
    return prov is not None and prov.dataset == DEMO_DATASET
