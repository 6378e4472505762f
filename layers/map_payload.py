"""The values of one map (level x indicator) as sent to the browser: values, classes, legend.

The lists are aligned to the feature order of web/<level>.geojson, so the browser colours
feature i with `classes[i]` without sending or matching any code.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layers.catalogue import GEOMETRY_INDICATORS
from layers.classify import (
    DIVERGING,
    NO_DATA,
    NO_DATA_COLOUR,
    NOT_APPLICABLE_CLASS,
    PALETTES,
    SECRET_CLASS,
    centre_breaks,
    class_breaks,
    class_index,
    classify,
    diverging_colours,
    format_fr,
    legend_entries,
    palette,
)
from layers.model import Indicator
from layers.provenance import ROUNDED, Provenance
from layers.qpv_uncontoured import LEGEND_LABEL as UNCONTOURED_LABEL
from layers.series_notes import is_approximate, is_derived, note, source_line
from layers.store import NOT_APPLICABLE, PUBLISHED, SECRET
from layers.views import period_text, rank


def _round_values(values: pd.Series, decimals: int) -> list[float | None]:
    arr = np.round(values.to_numpy(dtype="float64"), decimals)
    if decimals == 0:
        return [None if math.isnan(v) else int(v) for v in arr.tolist()]
    return [None if math.isnan(v) else v for v in arr.tolist()]


def carte_payload(
    level: str,
    indicator: str,
    values: pd.Series,
    *,
    k: int = 5,
    palette_name: str = "YlGnBu",
) -> dict:
    """Build the JSON of /api/carte/<level> from the values of an indicator in row order."""
    meta = GEOMETRY_INDICATORS[indicator]
    result = classify(
        values.to_numpy(dtype="float64"),
        k,
        "quantiles",
        palette_name=palette_name,
        decimals=meta.decimals,
        unit=meta.unit,
    )
    return {
        "niveau": level,
        "indicateur": indicator,
        "libelle": meta.title,
        "unite": meta.unit,
        "decimales": meta.decimals,
        "methode": "quantiles",
        "valeurs": _round_values(values, meta.decimals),
        "classes": result["classes"].tolist(),
        "bornes": result["bornes"],
        "legende": result["legende"],
        "couleurs": result["couleurs"],
    }


SPECIAL_ROWS = (
    # class index, legend label, colour, CSS/map pattern
    (SECRET_CLASS, "Secret statistique", "#ffffff", "hachures"),
    (NO_DATA, "Pas de données", NO_DATA_COLOUR, None),
    (NOT_APPLICABLE_CLASS, "Non concerné", "#eeeeee", None),
)
OUTSIDE_CLASS = -4  # outside the territory filter: drawn faintly, not classified
CIRCLE_STEPS = (1.0, 0.25, 0.0625)  # reference circles of the legend, as shares of the maximum


def nice_number(value: float) -> float:
    """Round down to 1, 2 or 5 times a power of ten (legend circles)."""
    if value <= 0 or not math.isfinite(value):
        return 0.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (5, 2, 1):
        if m * exp <= value:
            return float(m * exp)
    return float(exp)


def _scale(
    shown: np.ndarray,
    k: int,
    method: str,
    manual: list[float] | None,
    palette_name: str,
    reference: float | None,
    dec: int,
) -> tuple[list[float], list[str], float | None]:
    """Class breaks and colours; a diverging palette is centred on the reference (France, else
    the median of the values shown)."""
    diverging = palette_name in DIVERGING
    if diverging and reference is None:
        finite = shown[np.isfinite(shown)]
        reference = float(np.median(finite)) if finite.size else None
    breaks = class_breaks(shown, k, method, manual=manual, decimals=dec)  # type: ignore[arg-type]
    if diverging and reference is not None:
        breaks = centre_breaks(breaks, reference)
        return breaks, diverging_colours(palette_name, breaks, reference), reference
    name = palette_name if palette_name in PALETTES else "YlGnBu"
    return breaks, palette(name, max(len(breaks) - 1, 1)), reference


def _legend(
    classes: np.ndarray, breaks: list[float], colours: list[str], dec: int, unit: str
) -> list[dict]:
    """The classes with their counts, then secret, no data and not applicable."""
    legend = legend_entries(
        breaks, colours, np.where(classes >= 0, classes, -9), decimals=dec, unit=unit
    )[:-1]
    for cls, label, colour, pattern in SPECIAL_ROWS:
        legend.append(
            {
                "min": None,
                "max": None,
                "couleur": colour,
                "libelle": label,
                "motif": pattern,
                "classe": cls,
                "effectif": int((classes == cls).sum()),
            }
        )
    return legend


def _regime_legend(legend: list[dict], provenance: Provenance | None) -> list[dict]:
    """A rounded series has no blank (the Cnaf rounds instead of hiding): its legend shows no
    empty « Secret statistique » row, which would suggest hidden cells."""
    if provenance is None or provenance.regime != ROUNDED or is_derived(provenance):
        return legend
    return [r for r in legend if not (r.get("classe") == SECRET_CLASS and r["effectif"] == 0)]


def _circles(shown: np.ndarray, unit: str) -> dict:
    """Radii of proportional circles (area proportional to the value) and the legend's sizes."""
    vmax = float(np.nanmax(shown)) if np.isfinite(shown).any() else 0.0
    radius = np.sqrt(np.clip(shown, 0, None) / vmax) if vmax > 0 else np.zeros_like(shown)
    refs = sorted({nice_number(vmax * s) for s in CIRCLE_STEPS if vmax * s > 0}, reverse=True)
    return {
        "rayons": [None if math.isnan(r) else round(float(r), 4) for r in radius],
        "cercles": [
            {
                "valeur": r,
                "rayon": round(math.sqrt(r / vmax), 4),
                "libelle": f"{format_fr(r, 0)} {unit}",
            }
            for r in refs
        ],
    }


def store_payload(
    view: pd.DataFrame,
    ind: Indicator,
    level: str,
    period: str,
    *,
    method: str = "quantiles",
    k: int = 5,
    palette_name: str = "YlGnBu",
    manual: list[float] | None = None,
    representation: str = "choroplethe",
    reference: float | None = None,
    inside: np.ndarray | None = None,
    notice: str | None = None,
    provenance: Provenance | None = None,
    uncontoured: int = 0,
) -> dict:
    """The JSON of /api/carte for a store indicator: one entry per feature of the level.
    `uncontoured`: QPV 2024 of the store no feature draws, counted in the legend.

    `view` is `layers.views.layer()` for the whole level (feature order); `inside` restricts
    classification, ranks and counts to a territory filter. Hidden cells never carry a value.
    """
    dec = ind.decimals
    statut = view["statut"].astype(str).to_numpy()
    values = view["valeur"].to_numpy(dtype="float64").copy()
    values[statut != PUBLISHED] = np.nan
    inside = np.ones(len(view), bool) if inside is None else np.asarray(inside, bool)
    shown = np.where(inside, values, np.nan)
    breaks, colours, reference = _scale(shown, k, method, manual, palette_name, reference, dec)
    classes = class_index(shown, breaks)
    classes[(statut == SECRET) & inside] = SECRET_CLASS
    classes[(statut == NOT_APPLICABLE) & inside] = NOT_APPLICABLE_CLASS
    classes[~inside] = OUTSIDE_CLASS
    ranks = rank(pd.Series(shown)).to_numpy()
    payload = {
        "niveau": level,
        "indicateur": ind.id,
        "libelle": ind.title,
        "unite": ind.unit,
        "nature": ind.nature,
        "decimales": dec,
        "periode": period,
        "periode_libelle": period_text(period),
        "methode": method,
        "representation": representation,
        "palette": palette_name,
        "reference": reference,
        "valeurs": _round_values(pd.Series(values), dec),
        "classes": classes.tolist(),
        "rangs": [None if math.isnan(r) else int(r) for r in ranks.tolist()],
        "classes_effectif": int(np.isfinite(shown).sum()),
        "bornes": breaks,
        "couleurs": colours,
        "legende": _regime_legend(_legend(classes, breaks, colours, dec, ind.unit), provenance),
        "source": source_line(provenance, ind),
        "note": note(provenance),
        "approximatif": is_approximate(provenance),
        "avertissement": notice,
    }
    if uncontoured:
        payload["legende"].append(
            {
                "min": None,
                "max": None,
                "couleur": "#ffffff",
                "libelle": UNCONTOURED_LABEL,
                "motif": None,
                "classe": "sans_contour",
                "effectif": int(uncontoured),
            }
        )
    if representation == "cercles":
        payload.update(_circles(shown, ind.unit))
    return payload
