"""Plotly figures of the territory profile, built from its dataclasses (`layers.profile`) or
from the frame of `layers.views.series_with_references`; nothing here knows Dash.

Hidden cells stay hidden: a gap in a line, an empty bar slot labelled « secret » (or « pas de
données »), never a zero. Colour is never the only cue (dash patterns, markers, hatching).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from layers.classify import format_fr
from layers.model import REFERENCE_LEVELS, Indicator
from layers.profile import CompositionRow, KeyFigures, NeighbourRow, Neighbours, as_number
from layers.store import MISSING, PUBLISHED
from layers.views import STATUS_FR, indicator, period_text, value_text

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = {
    "orange": "#E69F00",
    "bleu_ciel": "#56B4E9",
    "vert": "#009E73",
    "jaune": "#F0E442",
    "bleu": "#0072B2",
    "vermillon": "#D55E00",
    "pourpre": "#CC79A7",
    "noir": "#000000",
}
TERRITORY_COLOUR = OKABE_ITO["vermillon"]
OTHER_COLOUR = OKABE_ITO["bleu"]
# Role -> (colour, dash, marker): each reference differs by line style and marker too.
SERIES_STYLE = {
    "territoire": (OKABE_ITO["vermillon"], "solid", "circle"),
    "epci": (OKABE_ITO["bleu"], "dash", "square"),
    "departement": (OKABE_ITO["vert"], "dot", "diamond"),
    "region": (OKABE_ITO["pourpre"], "dashdot", "triangle-up"),
    "france": (OKABE_ITO["noir"], "longdash", "x"),
    "caf": (OKABE_ITO["orange"], "longdashdot", "cross"),
}
ROLE_FR = {
    "territoire": "Territoire",
    "epci": "EPCI",
    "departement": "Département",
    "region": "Région",
    "france": "France",
    "caf": "Caf",
}
FONT = "Marianne, Arial, sans-serif"
# Figures are plain dicts in Plotly's JSON form, what `go.Figure(...).to_plotly_json()` gives
# (the default template included): the browser receives the same JSON, without the cost of
# graph objects' validation on every callback (about half of the evolution chart's time).
Figure = dict[str, Any]


@functools.cache
def template_json() -> dict[str, Any]:
    """The default template's JSON, as a new `go.Figure()` carries it (built once)."""
    return go.Figure().to_plotly_json()["layout"]["template"]


def _figure(data: list[dict[str, Any]], title: str, **layout: Any) -> Figure:
    """A figure dict with the profile's common layout (title, decimal comma, font, margins)."""
    return {
        "data": data,
        "layout": {
            "template": template_json(),
            "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
            "separators": ", ",  # decimal comma, space between thousands
            "font": {"family": FONT, "size": 12, "color": "#1e1e1e"},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "margin": {"l": 10, "r": 20, "t": 50, "b": 40},
            "hoverlabel": {"font": {"family": FONT}},
            **layout,
        },
    }


# One row of a series frame as `series_figure` reads it: period, value, status, name.
_Point = tuple[str, object, str, str]


def _series_points(
    part: list[_Point], periods: list[str], ind: Indicator | None
) -> tuple[list[float | None], list[str]]:
    """One line's values by period (None for a hidden or absent cell) and their hover texts."""
    by_period = {p: (v, s) for p, v, s, _name in part}
    ys, texts = [], []
    for p in periods:
        value, status = by_period.get(p, (None, MISSING))
        v = as_number(value) if status == PUBLISHED else None
        ys.append(v)
        texts.append(
            value_text(v, status, ind)
            if ind is not None
            else (format_fr(v, 1) if v is not None else STATUS_FR.get(status, ""))
        )
    return ys, texts


def _series_trace(role: str, name: str, labels: list[str], ys: list, texts: list) -> dict:
    colour, dash, symbol = SERIES_STYLE.get(role, ("#555555", "solid", "circle"))
    label = name if role == "territoire" else f"{ROLE_FR.get(role, role)} : {name}"
    own = role == "territoire"
    return {
        "type": "scatter",
        "x": labels,
        "y": ys,
        "name": label,
        "mode": "lines+markers",
        "connectgaps": False,
        "line": {"color": colour, "dash": dash, "width": 3.5 if own else 2},
        "marker": {"symbol": symbol, "size": 9 if own else 7, "color": colour},
        "customdata": texts,
        "hovertemplate": "%{x}<br>" + label.replace("%", "%%") + " : %{customdata}<extra></extra>",
    }


def series_figure(
    df: pd.DataFrame, ind: Indicator | str | None = None, title: str | None = None
) -> Figure:
    """Line chart of a territory's series and its references.

    `df`: the frame of `layers.views.series_with_references`. Hidden cells are gaps (y None,
    `connectgaps=False`); the territory's line is thick and solid, each reference has its own
    dash pattern and marker so that colour is never the only cue.
    """
    ind = indicator(ind) if isinstance(ind, str) else ind
    # Plain lists, one pass: pandas selections per line cost ~4 ms on a 50-row frame.
    by_role: dict[str, list[_Point]] = {}
    for role, *point in zip(
        df["role"].astype(str).tolist(),
        df["periode"].astype(str).tolist(),
        df["valeur"].tolist(),
        df["statut"].astype(str).tolist(),
        df["nom"].astype(str).tolist(),
        strict=True,
    ):
        by_role.setdefault(role, []).append(tuple(point))  # type: ignore[arg-type]
    periods = sorted({p[0] for part in by_role.values() for p in part})
    labels = [period_text(p) for p in periods]
    data = []
    for role in (r for r in ("territoire", *REFERENCE_LEVELS, "caf") if r in by_role):
        part = by_role[role]
        ys, texts = _series_points(part, periods, ind)
        data.append(_series_trace(role, part[0][3], labels, ys, texts))
    xaxis = {"type": "category", "categoryorder": "array", "categoryarray": labels}
    return _figure(
        data,
        title or (ind.title if ind is not None else "Évolution"),
        xaxis={**xaxis, "showline": True, "linecolor": "#888"},
        yaxis={
            "title": {"text": ind.unit if ind is not None else ""},
            "gridcolor": "#e5e5e5",
            "rangemode": "tozero",
            "zeroline": True,
            "zerolinecolor": "#888",
        },
        legend={"orientation": "h", "y": -0.15, "x": 0},
        hovermode="x unified",
    )


def _unique_labels(rows: Sequence[NeighbourRow]) -> list[str]:
    names = [r.name for r in rows]
    dup = {n for n in names if names.count(n) > 1}
    return [f"{r.name} ({r.code})" if r.name in dup else r.name for r in rows]


def _hbar(labels: list[str], xs: list[float | None], texts: list[str], **trace: Any) -> dict:
    """Horizontal bars, first row at the top; a hidden value (x None) has no bar: its text
    goes in the empty slot instead (`_hidden_labels`)."""
    return {
        "type": "bar",
        "orientation": "h",
        "x": xs,
        "y": labels,
        "text": [t if x is not None else "" for t, x in zip(texts, xs, strict=True)],
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y} : %{customdata}<extra></extra>",
        "showlegend": False,
        **trace,
    }


def _hidden_labels(
    labels: list[str], xs: list[float | None], texts: list[str], **style: Any
) -> list[dict[str, Any]]:
    """« secret » (or « pas de données ») at the axis for each hidden value (a layout
    annotation, not a data point)."""
    return [
        {
            "x": 0,
            "xref": "paper",
            "xanchor": "left",
            "y": lab,
            "yref": "y",
            "text": t,
            "showarrow": False,
            "bgcolor": "#f2f2f2",
            "bordercolor": "#999",
            **style,
        }
        for lab, x, t in zip(labels, xs, texts, strict=True)
        if x is None
    ]


# Bars read from the top, one category per row.
BAR_ROWS = {"autorange": "reversed", "type": "category", "automargin": True}


def _bars(
    bar: dict[str, Any], title: str, xaxis: dict[str, Any], notes: list[dict], **layout: Any
) -> Figure:
    """A bar chart's figure: the bars' rows from the top, the hidden values' notes."""
    extra = {"annotations": notes} if notes else {}  # no key when nothing is hidden
    return _figure([bar], title, xaxis=xaxis, yaxis=dict(BAR_ROWS), **extra, **layout)


def neighbours_figure(
    rows: Neighbours | Sequence[NeighbourRow], highlight_code: str, title: str | None = None
) -> Figure:
    """Horizontal bars of the territory and its neighbours, highest at the top.

    `rows`: what `layers.profile.neighbours()` returns (or its `rows`). The territory's bar is
    vermillion, hatched, and its label says « (territoire) »; a hidden cell has no bar (x None)
    and reads « secret » (or « pas de données ») at the axis instead of a zero bar.
    """
    meta = rows if isinstance(rows, Neighbours) else None
    lines = list(meta.rows if meta is not None else rows)
    labels = [
        f"▶ {lab} (territoire)" if r.code == highlight_code else lab
        for lab, r in zip(_unique_labels(lines), lines, strict=True)
    ]
    xs = [r.cell.value for r in lines]  # None for every hidden cell
    mine = [r.code == highlight_code for r in lines]
    texts = [r.cell.text or STATUS_FR.get(r.cell.status, "") for r in lines]
    bar = _hbar(
        labels,
        xs,
        texts,
        marker={
            "color": [TERRITORY_COLOUR if m else OTHER_COLOUR for m in mine],
            "line": {"color": ["#000000" if m else OTHER_COLOUR for m in mine], "width": 1.5},
            "pattern": {
                "shape": ["/" if m else "" for m in mine],
                "fgcolor": "#ffffff",
                "solidity": 0.3,
            },
        },
        customdata=texts,
    )
    notes = _hidden_labels(labels, xs, texts, font={"color": "#444", "size": 11}, borderpad=2)
    default = "Comparaison avec les communes voisines"
    if meta is not None and meta.title:
        default = f"{meta.title} — territoire et voisins ({meta.period_label})"
    xaxis = {
        "title": {"text": meta.unit if meta is not None else ""},
        "gridcolor": "#e5e5e5",
        "rangemode": "tozero",
    }
    height = max(260, 60 + 28 * len(lines))
    return _bars(bar, title or default, xaxis, notes, height=height, bargap=0.25)


def composition_figure(
    rows: KeyFigures | Iterable[CompositionRow], title: str | None = None
) -> Figure:
    """Horizontal bars of the family composition (share of allocataires), hidden cells labelled.

    `rows`: a profile's `key_figures` (or their `composition`)."""
    lines = list(rows.composition if isinstance(rows, KeyFigures) else rows)
    labels = [r.label for r in lines]
    xs = [r.share for r in lines]
    texts = [r.share_text for r in lines]
    colours = [OKABE_ITO[c] for c in ("bleu", "orange", "vert", "pourpre")]
    bar = _hbar(
        labels,
        xs,
        texts,
        marker={"color": [colours[i % 4] for i in range(len(lines))]},
        customdata=[f"{r.share_text} ({r.cell.text})" for r in lines],
    )
    xaxis = {"title": {"text": "% des foyers allocataires"}, "gridcolor": "#e5e5e5"}
    return _bars(
        bar,
        title or "Composition familiale des foyers allocataires",
        {**xaxis, "rangemode": "tozero"},
        _hidden_labels(labels, xs, texts),
        height=260,
        bargap=0.3,
    )
