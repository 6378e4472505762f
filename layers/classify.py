"""Class breaks, class indices, colour-blind-safe palettes and French legends for choropleths.

Pure functions, no Dash. A classification is a list of k+1 increasing bounds
`[b0, b1, ..., bk]`; class i holds the values in (b_i, b_{i+1}] (the first class also holds b0).
A missing value gets class index -1 ("pas de données"), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

Method = Literal["quantiles", "equal", "jenks", "manual"]
METHODS: tuple[str, ...] = ("quantiles", "equal", "jenks", "manual")
NO_DATA = -1
NO_DATA_COLOUR = "#d0d0d0"
NO_DATA_LABEL = "Pas de données"

# ColorBrewer sequential schemes (colour-blind safe), light to dark, by number of classes.
_YLGNBU = {
    3: ["#edf8b1", "#7fcdbb", "#2c7fb8"],
    4: ["#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"],
    5: ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"],
    6: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"],
    7: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"],
}
_ORRD = {
    3: ["#fee8c8", "#fdbb84", "#e34a33"],
    4: ["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"],
    5: ["#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"],
    6: ["#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"],
    7: ["#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000"],
}
# Viridis reversed (light yellow for low values, dark purple for high), sampled per k.
_VIRIDIS_STOPS = [
    "#fde725",
    "#b5de2b",
    "#6ece58",
    "#35b779",
    "#1f9e89",
    "#26828e",
    "#31688e",
    "#3e4989",
    "#482878",
    "#440154",
]
PALETTES: tuple[str, ...] = ("YlGnBu", "OrRd", "viridis")
MIN_CLASSES, MAX_CLASSES = 3, 7

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
EN_DASH = "\u2013"


def palette(name: str = "YlGnBu", k: int = 5) -> list[str]:
    """Return `k` hex colours (light to dark) of a sequential colour-blind-safe palette."""
    if not MIN_CLASSES <= k <= MAX_CLASSES:
        if 1 <= k < MIN_CLASSES:
            return palette(name, MIN_CLASSES)[-k:] if k > 1 else [palette(name, 3)[1]]
        raise ValueError(f"number of classes must be between 1 and {MAX_CLASSES}, got {k}")
    if name == "YlGnBu":
        return list(_YLGNBU[k])
    if name == "OrRd":
        return list(_ORRD[k])
    if name == "viridis":
        idx = np.linspace(0, len(_VIRIDIS_STOPS) - 1, k).round().astype(int)
        return [_VIRIDIS_STOPS[i] for i in idx]
    raise ValueError(f"unknown palette {name!r}; expected one of {PALETTES}")


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype="float64")
    return arr[np.isfinite(arr)]


def _round_inner(breaks: np.ndarray, decimals: int | None) -> np.ndarray:
    if decimals is None or len(breaks) < 3:
        return breaks
    inner = np.round(breaks[1:-1], decimals)
    return np.concatenate([breaks[:1], inner, breaks[-1:]])


def class_breaks(
    values: Sequence[float] | np.ndarray,
    k: int = 5,
    method: Method = "quantiles",
    *,
    manual: Sequence[float] | None = None,
    decimals: int | None = None,
) -> list[float]:
    """Compute increasing class bounds [min, ..., max] (at most k classes, fewer when values tie).

    `decimals` rounds the inner bounds so that the legend shows exactly what is classified.
    Returns [] when there is no finite value.
    """
    data = _clean(values)
    if data.size == 0:
        return []
    lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        return [lo, hi]
    tied_min = False
    if method == "quantiles":
        bounds = np.quantile(data, np.linspace(0.0, 1.0, k + 1))
        if len(np.unique(bounds)) < k + 1 and np.mean(data == lo) >= 1 / k:
            # A mass of territories at the minimum (often 0 places) would swallow the quantiles:
            # it gets a class of its own and the rest is split into k - 1 quantiles.
            tied_min = True
            rest = data[data > lo]
            bounds = np.concatenate([[lo], np.quantile(rest, np.linspace(0.0, 1.0, k)[1:-1]), [hi]])
    elif method == "equal":
        bounds = np.linspace(lo, hi, k + 1)
    elif method == "jenks":
        import mapclassify  # optional dependency, imported only when asked for

        bins = mapclassify.NaturalBreaks(data, k=min(k, len(np.unique(data)))).bins
        bounds = np.concatenate([[lo], np.asarray(bins, dtype="float64")])
    elif method == "manual":
        if not manual:
            raise ValueError("manual classification needs the `manual` bounds")
        inner = [float(b) for b in manual if lo < float(b) < hi]
        bounds = np.array([lo, *sorted(inner), hi])
    else:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    bounds = _round_inner(np.asarray(bounds, dtype="float64"), decimals)
    bounds[0], bounds[-1] = lo, hi
    out = [float(b) for b in np.unique(bounds)]
    # [lo, lo, ...]: a first class holding exactly the minimum (class_index puts ties there).
    return [lo, *out] if tied_min else out


def class_index(values: Sequence[float] | np.ndarray, breaks: Sequence[float]) -> np.ndarray:
    """Class index per value (int32): 0..k-1, or -1 for a missing or non-finite value."""
    arr = np.asarray(values, dtype="float64")
    out = np.full(arr.shape, NO_DATA, dtype="int32")
    ok = np.isfinite(arr)
    if len(breaks) < 2:
        return out
    inner = np.asarray(breaks[1:-1], dtype="float64")
    out[ok] = np.searchsorted(inner, arr[ok], side="left")
    return out


def format_fr(value: float | None, decimals: int = 0) -> str:
    """Format a number the French way: narrow no-break space for thousands, comma for decimals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return text.replace(",", NNBSP).replace(".", ",")


def legend_entries(
    breaks: Sequence[float],
    colours: Sequence[str],
    classes: np.ndarray | Sequence[int],
    *,
    decimals: int = 0,
    unit: str = "",
) -> list[dict]:
    """Legend rows, one per class, then one for "pas de données".

    Each row: {"min", "max", "couleur", "libelle", "effectif"}; the no-data row has min/max None.
    """
    idx = np.asarray(classes, dtype="int64")
    k = max(len(breaks) - 1, 0)
    counts = np.bincount(idx[idx >= 0], minlength=k) if k else np.array([], dtype=int)
    rows = []
    for i in range(k):
        lo, hi = breaks[i], breaks[i + 1]
        label = (
            format_fr(lo, decimals)
            if lo == hi
            else f"{format_fr(lo, decimals)} {EN_DASH} {format_fr(hi, decimals)}"
        )
        if i and breaks[i - 1] == lo < hi:  # after the class of the tied minimum: lo excluded
            label = "> " + label
        rows.append(
            {
                "min": lo,
                "max": hi,
                "couleur": colours[i],
                "libelle": f"{label} {unit}".strip(),
                "effectif": int(counts[i]),
            }
        )
    rows.append(
        {
            "min": None,
            "max": None,
            "couleur": NO_DATA_COLOUR,
            "libelle": NO_DATA_LABEL,
            "effectif": int((idx == NO_DATA).sum()),
        }
    )
    return rows


def classify(
    values: Sequence[float] | np.ndarray,
    k: int = 5,
    method: Method = "quantiles",
    *,
    palette_name: str = "YlGnBu",
    decimals: int = 0,
    unit: str = "",
    manual: Sequence[float] | None = None,
) -> dict:
    """One call for a map: {"bornes", "classes" (ndarray), "couleurs", "legende"}."""
    breaks = class_breaks(values, k, method, manual=manual, decimals=decimals)
    classes = class_index(values, breaks)
    colours = palette(palette_name, max(len(breaks) - 1, 1))
    return {
        "bornes": breaks,
        "classes": classes,
        "couleurs": colours,
        "legende": legend_entries(breaks, colours, classes, decimals=decimals, unit=unit),
    }


# Diverging schemes (ColorBrewer, colour-blind safe), from the low end to the high end, with
# the neutral centre removed: RdBu reversed (blue below the reference, red above) and PuOr.
_DIVERGING = {
    "RdBu": [
        "#053061",
        "#2166ac",
        "#4393c3",
        "#92c5de",
        "#d1e5f0",
        "#fddbc7",
        "#f4a582",
        "#d6604d",
        "#b2182b",
        "#67001f",
    ],
    "PuOr": [
        "#2d004b",
        "#542788",
        "#8073ac",
        "#b2abd2",
        "#d8daeb",
        "#fee0b6",
        "#fdb863",
        "#e08214",
        "#b35806",
        "#7f3b08",
    ],
}
DIVERGING: tuple[str, ...] = tuple(_DIVERGING)
SECRET_CLASS, NOT_APPLICABLE_CLASS = -2, -3


def _ramp(stops: Sequence[str], n: int) -> list[str]:
    """n colours interpolated (RGB) along `stops`, first to last."""
    if n <= 0:
        return []
    rgb = np.array([[int(s[i : i + 2], 16) for i in (1, 3, 5)] for s in stops], dtype=float)
    pos = np.linspace(0, len(stops) - 1, n) if n > 1 else np.array([len(stops) - 1.0])
    out = []
    for p in pos:
        i = min(int(p), len(stops) - 2)
        c = rgb[i] + (rgb[i + 1] - rgb[i]) * (p - i)
        out.append("#" + "".join(f"{int(round(v)):02x}" for v in c))
    return out


def diverging_colours(name: str, breaks: Sequence[float], centre: float) -> list[str]:
    """One colour per class: classes below `centre` take the low half of the scheme (darker
    further away), classes above the high half, so the centre reads as the neutral point."""
    stops = _DIVERGING[name]
    k = len(breaks) - 1
    below = sum(1 for i in range(k) if breaks[i + 1] <= centre)
    above = k - below
    # Both sides on one intensity scale: a lone class above the centre is as pale as the
    # first class below it, not the darkest red.
    m = max(below, above, 2)
    low = _ramp(stops[:5], m)[m - below :] if below else []
    high = _ramp(stops[5:], m)[:above] if above else []
    return low + high


def centre_breaks(breaks: list[float], centre: float) -> list[float]:
    """Make `centre` one of the bounds (moving the nearest inner bound), so that no class
    straddles the reference value of a diverging map."""
    if len(breaks) < 2 or not breaks[0] < centre < breaks[-1]:
        return breaks
    inner = breaks[1:-1]
    if inner:
        j = int(np.argmin([abs(b - centre) for b in inner]))
        inner[j] = centre
    else:
        inner = [centre]
    return [breaks[0], *sorted(set(inner)), breaks[-1]]
