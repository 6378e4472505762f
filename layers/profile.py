"""The territory profile ("fiche territoire"): pure data, then Plotly figures built from it.

`profile()` reads a `Store` and a `TerritoryIndex` and returns plain dicts and lists (JSON-ready,
French texts included) for a Dash page, the PDF export and the API alike. A hidden cell (secret,
missing, not applicable) keeps its status and a `valeur` of None: never 0, never interpolated,
and no rank nor change is computed from it. The figure builders take that data (or the frame of
`layers.views.series_with_references`) and know nothing of Dash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from layers.catalogue import BY_ID, CATEGORIES, INDICATORS
from layers.classify import format_fr
from layers.model import LEVEL, REFERENCE_LEVELS, Indicator, level_name, parent_levels
from layers.store import PUBLISHED, SECRET, Store
from layers.territory_index import TerritoryIndex
from layers.views import (
    STATUS_FR,
    ViewError,
    indicator,
    period_text,
    value_text,
)

SOURCE_LINE = "Source : Cnaf, fichier FILEAS - BENETRIM ; Insee ; IGN"
COMPOSITION = ("isoles", "monoparentales", "couples_sans_enfant", "couples_avec_enfants")
COMPOSITION_FR = {
    "isoles": "Isolés sans enfant",
    "monoparentales": "Familles monoparentales",
    "couples_sans_enfant": "Couples sans enfant",
    "couples_avec_enfants": "Couples avec enfant(s)",
}
BENEFITS = (
    "af",
    "cf",
    "asf",
    "ars",
    "paje",
    "aides_logement",
    "apl",
    "alf",
    "als",
    "rsa",
    "ppa",
    "aah",
    "aeeh",
)
BENEFIT_SHORT_FR = {
    "af": "Allocations familiales (AF)",
    "cf": "Complément familial (CF)",
    "asf": "Allocation de soutien familial (ASF)",
    "ars": "Allocation de rentrée scolaire (ARS)",
    "paje": "Prestation d'accueil du jeune enfant (PAJE)",
    "aides_logement": "Aides personnelles au logement",
    "apl": "Aide personnalisée au logement (APL)",
    "alf": "Allocation de logement familiale (ALF)",
    "als": "Allocation de logement sociale (ALS)",
    "rsa": "Revenu de solidarité active (RSA)",
    "ppa": "Prime d'activité",
    "aah": "Allocation aux adultes handicapés (AAH)",
    "aeeh": "Allocation d'éducation de l'enfant handicapé (AEEH)",
}
NEIGHBOUR_DEFAULTS = ("part_aides_logement", "taux_personnes_couvertes", "allocataires")

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


# ---------------------------------------------------------------------------------------------
# Data


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def cell(ind: Indicator, periode: str | None, valeur: Any, statut: str | None) -> dict:
    """One value as every consumer shows it; a hidden cell has `valeur` None."""
    statut = statut or "manquant"
    v = _num(valeur) if statut == PUBLISHED else None
    if statut == PUBLISHED and v is None:
        statut = "manquant"
    return {
        "indicateur": ind.id,
        "titre": ind.title,
        "unite": ind.unit,
        "periode": periode,
        "valeur": v,
        "statut": statut,
        "texte": value_text(v, statut, ind),
    }


def _signed(value: float, ndigits: int) -> str:
    text = format_fr(value, ndigits)
    if text.startswith("-"):
        return "\u2212" + text[1:]  # a real minus sign
    return text if float(value) == 0 or text.lstrip("0,") == "" else "+" + text


def evolution(ind: Indicator, rows: pd.DataFrame) -> dict | None:
    """First and latest published values of a series, and the change between them.

    `rows`: periode, valeur, statut of one territory. Rates change in percentage points,
    counts and amounts in their unit and in per cent. None with fewer than two published values.
    """
    pub = rows[rows["statut"] == PUBLISHED].sort_values("periode")
    if len(pub) < 2:
        return None
    first, last = pub.iloc[0], pub.iloc[-1]
    v0, v1 = float(first["valeur"]), float(last["valeur"])
    diff = v1 - v0
    nd = ind.decimals
    if ind.nature == "taux":
        pct = None
        plural = "points" if abs(round(diff, nd)) >= 2 else "point"
        text = f"{_signed(diff, nd)}\u00a0{plural}"
    else:
        pct = diff / v0 * 100 if v0 else None
        text = f"{_signed(diff, nd)}\u00a0{ind.unit}"
        if pct is not None:
            text += f" ({_signed(pct, 1)}\u00a0%)"
    return {
        "debut": {
            "periode": str(first["periode"]),
            "valeur": v0,
            "texte": value_text(v0, PUBLISHED, ind),
        },
        "fin": {
            "periode": str(last["periode"]),
            "valeur": v1,
            "texte": value_text(v1, PUBLISHED, ind),
        },
        "ecart": diff,
        "ecart_pct": pct,
        "texte": f"{text} entre {period_text(str(first['periode']))} "
        f"et {period_text(str(last['periode']))}",
    }


def rank_in(own_code: str, cells: pd.DataFrame) -> dict | None:
    """Rank of a territory among `cells` (code, valeur, statut): 1 = highest published value,
    ties share the best rank; N counts only published values. None when the territory's own
    value is hidden."""
    pub = cells[cells["statut"] == PUBLISHED]
    mine = pub[pub["code"] == own_code]
    own = {
        "statut": PUBLISHED if len(mine) else "manquant",
        "valeur": float(mine["valeur"].iloc[0]) if len(mine) else None,
    }
    return _rank(own, pub["valeur"].astype(float))


def _rank(own: dict, published: pd.Series | None) -> dict | None:
    """Rank from the territory's cell and the published values of its set (see `rank_in`)."""
    if own["statut"] != PUBLISHED or own["valeur"] is None or published is None:
        return None
    rank = 1 + int((published > float(own["valeur"])).sum())
    total = int(len(published))
    return {"rang": rank, "sur": total, "texte": f"{rank} sur {total}"}


def _at(df: pd.DataFrame, level: str, code: str, periode: str | None) -> pd.Series | None:
    try:  # `_fetch` indexes by (niveau, code, periode): a lookup, not a scan per cell
        row = df.loc[(level, code, periode)]
    except KeyError:
        return None
    return row.iloc[0] if isinstance(row, pd.DataFrame) else row


def _cell_at(ind: Indicator, df: pd.DataFrame, level: str, code: str, periode: str | None) -> dict:
    row = _at(df, level, code, periode)
    if row is None:
        return cell(ind, periode, None, "manquant")
    return cell(ind, periode, row["valeur"], str(row["statut"]))


def _fetch(
    store: Store, inds: Indicator | list[str], territories: list[tuple[str, str]]
) -> pd.DataFrame:
    df = store.series_many(inds.id if isinstance(inds, Indicator) else inds, territories)
    for col in ("indicateur", "niveau", "code", "periode", "statut"):
        df[col] = df[col].astype(str)
    df.index = pd.MultiIndex.from_arrays(
        [df["niveau"], df["code"], df["periode"]], names=["_niveau", "_code", "_periode"]
    )
    return df.sort_index()


def _identity(index: TerritoryIndex, level: str, code: str) -> dict:
    terr = index.get(level, code)
    if terr is None:
        raise ViewError(f"Territoire inconnu : {level_name(level)} « {code} ».", 404)
    parents = []
    for plevel in parent_levels("commune"):  # nearest first; an IRIS lists no commune
        pcode = terr.parents.get(plevel)
        if pcode:
            name = "France" if plevel == "france" else index.name(plevel, pcode) or pcode
            parents.append(
                {
                    "niveau": plevel,
                    "niveau_libelle": level_name(plevel),
                    "code": pcode,
                    "nom": name,
                }
            )
    density = None
    if terr.population is not None and terr.area_km2:
        density = terr.population / terr.area_km2
    return {
        "niveau": level,
        "niveau_libelle": level_name(level),
        "code": code,
        "nom": terr.name,
        "parents": parents,
        "population": terr.population,
        "population_texte": format_fr(terr.population, 0) if terr.population is not None else "",
        "superficie_km2": terr.area_km2,
        "superficie_texte": (
            f"{format_fr(terr.area_km2, 1)}\u00a0km²" if terr.area_km2 is not None else ""
        ),
        "densite": density,
        "densite_texte": (f"{format_fr(density, 0)}\u00a0hab./km²" if density is not None else ""),
        "codes_postaux": list(terr.postal_codes),
    }


def _references(identity: dict, level: str) -> list[tuple[str, str, str]]:
    """(level, code, name) of the context columns, nearest first, coarser than the level."""
    out = []
    for p in identity["parents"]:
        if p["niveau"] in REFERENCE_LEVELS and LEVEL[p["niveau"]].order < LEVEL[level].order:
            out.append((p["niveau"], p["code"], p["nom"]))
    return sorted(out, key=lambda t: REFERENCE_LEVELS.index(t[0]))


def _siblings(index: TerritoryIndex, level: str, identity: dict) -> tuple[str, list[str]] | None:
    """The EPCI and its communes, for the rank of a commune (other levels: no rank)."""
    if level != "commune":
        return None
    epci = next((p["code"] for p in identity["parents"] if p["niveau"] == "epci"), None)
    if not epci:
        return None
    table = index.table("commune")
    return epci, table.loc[index.children("commune", "epci", epci), "code"].tolist()


def _theme_indicators(level: str) -> list[tuple[str, str, list[Indicator]]]:
    out = []
    for cat, themes in CATEGORIES.items():
        for theme in themes:
            inds = [
                i
                for i in INDICATORS
                if i.category == cat and i.theme == theme and level in i.levels
            ]
            if inds:
                out.append((cat, theme, inds))
    return out


def profile(
    store: Store,
    index: TerritoryIndex,
    level: str,
    code: str,
    demo_notice: str | None = None,
    neighbour_indicator: str | None = None,
) -> dict:
    """The whole profile of one territory: identity, key figures, themes, neighbours.

    A "cell" below is {indicateur, titre, unite, periode, valeur (float | None), statut,
    texte (French, « secret » for a secret)}. Returns {identite, periode, periode_libelle,
    chiffres_cles: {periode, periode_libelle, allocataires, personnes_couvertes,
    taux_personnes_couvertes (cells), composition: [cell + libelle, part, part_texte],
    prestations: [cell + libelle]}, themes: [{categorie, theme, indicateurs: [cell + nature,
    sous_theme, references: [cell + niveau, niveau_libelle, code, nom], rang_epci: {rang, sur,
    texte, epci} | None, evolution: {debut, fin, ecart, ecart_pct, texte} | None]}],
    voisins: {indicateur, titre, unite, nature, periode, periode_libelle, lignes: [{code, nom,
    territoire, valeur, statut, texte}]} | None, references, source, demo, avertissement}.
    `neighbour_indicator` picks the neighbours' indicator (default: part_aides_logement).
    Raises `ViewError` (French message, HTTP status) for an unknown level or territory.
    """
    if level not in LEVEL or level not in index.levels():
        raise ViewError(f"Niveau inconnu : « {str(level)[:40]} ».", 404)
    identity = _identity(index, level, code)
    refs = _references(identity, level)
    siblings = _siblings(index, level, identity)
    near = [c for c in index.neighbours(level, code) if c != code]
    wanted = [(level, code), *[(lv, c) for lv, c, _ in refs], *[(level, c) for c in near]]
    if siblings is not None:
        wanted += [("commune", c) for c in siblings[1] if c != code and c not in near]
    grouped = _theme_indicators(level)
    # Two queries for the whole page (latest periods, then every series), not two per indicator.
    periods: dict[str, str | None] = dict(store.latest_periods(level))
    every = _fetch(store, [i.id for _, _, inds in grouped for i in inds], wanted)
    frames = {str(k): g for k, g in every.groupby("indicateur", sort=False)}
    # Plain lookups for the ~200 cells of the page: a pandas selection per cell cost ~0.2 ms.
    col = {
        c: every[c].to_numpy(dtype=object)
        for c in ("indicateur", "niveau", "code", "periode", "statut")
    }
    keys = zip(col["indicateur"], col["niveau"], col["code"], col["periode"], strict=True)
    found = zip(every["valeur"].to_numpy(), col["statut"], strict=True)
    cells_by_key = dict(zip(keys, found, strict=True))
    flat = every.reset_index(drop=True)  # groupby copies a MultiIndex per group
    own_every = flat[(col["niveau"] == level) & (col["code"] == code)]
    own_series = {str(k): g for k, g in own_every.groupby("indicateur", sort=False)}
    sibling_values: dict[tuple[str, str], pd.Series] = {}
    if siblings is not None:
        sib = flat[
            (col["niveau"] == "commune")
            & (col["statut"] == PUBLISHED)
            & flat["code"].isin(set(siblings[1])).to_numpy()
        ]
        groups = sib.groupby(["indicateur", "periode"], sort=False)
        sibling_values = {(str(i), str(p)): g["valeur"].astype(float) for (i, p), g in groups}

    def at(ind: Indicator, lv: str, c: str, periode: str | None) -> dict:
        hit = cells_by_key.get((ind.id, lv, c, periode))
        return cell(ind, periode, None, "manquant") if hit is None else cell(ind, periode, *hit)

    themes: list[dict] = []
    by_id: dict[str, dict] = {}
    for cat, theme, inds in grouped:
        rows = []
        for ind in inds:
            periode = periods.get(ind.id)
            if periode is None:
                continue  # not in this store at all
            own = own_series.get(ind.id, own_every.iloc[0:0])
            row = {
                **at(ind, level, code, periode),
                "nature": ind.nature,
                "sous_theme": ind.subtheme,
                "references": [
                    {
                        "niveau": lv,
                        "niveau_libelle": level_name(lv),
                        "code": c,
                        "nom": n,
                        **at(ind, lv, c, periode),
                    }
                    for lv, c, n in refs
                ],
                "rang_epci": None,
                "evolution": evolution(ind, own),
            }
            if siblings is not None:
                rk = _rank(
                    at(ind, "commune", code, periode), sibling_values.get((ind.id, str(periode)))
                )
                if rk is not None:
                    rk["epci"] = siblings[0]
                row["rang_epci"] = rk
            rows.append(row)
            by_id[ind.id] = row
        if rows:
            themes.append({"categorie": cat, "theme": theme, "indicateurs": rows})

    key = _key_figures(store, index, level, code, periods, by_id)
    chosen = _neighbour_indicator(level, neighbour_indicator, by_id)
    voisins = None
    if chosen is not None and level != "france":  # France has no neighbour to compare with
        voisins = neighbours(
            store, index, chosen, level, code, periods.get(chosen.id), frames.get(chosen.id)
        )
    return {
        "identite": identity,
        "periode": key["periode"],
        "periode_libelle": period_text(key["periode"]) if key["periode"] else "",
        "chiffres_cles": key,
        "themes": themes,
        "voisins": voisins,
        "references": [{"niveau": lv, "code": c, "nom": n} for lv, c, n in refs],
        "source": SOURCE_LINE,
        "demo": demo_notice is not None,
        "avertissement": demo_notice,
    }


def _key_figures(
    store: Store, index: TerritoryIndex, level: str, code: str, periods: dict, by_id: dict
) -> dict:
    periode = periods.get("allocataires")

    def at(ident: str) -> dict:
        ind = BY_ID[ident]
        row = by_id.get(ident)
        if row is not None and row["periode"] == periode:
            return {
                k: row[k]
                for k in ("indicateur", "titre", "unite", "periode", "valeur", "statut", "texte")
            }
        if level not in ind.levels or periode is None:
            return cell(ind, periode, None, "non_concerne")
        df = _fetch(store, ind, [(level, code)])
        return _cell_at(ind, df, level, code, periode)

    allocataires = at("allocataires")
    total = allocataires["valeur"]
    composition = []
    for ident in COMPOSITION:
        c = at(ident)
        # A share only from two published values: nothing hidden can be recovered from it.
        share = c["valeur"] / total * 100 if c["valeur"] is not None and total else None
        composition.append(
            {
                **c,
                "libelle": COMPOSITION_FR[ident],
                "part": share,
                "part_texte": _share_text(share, c["statut"]),
            }
        )
    benefits = [{**at(ident), "libelle": BENEFIT_SHORT_FR[ident]} for ident in BENEFITS]
    shown = [b for b in benefits if b["statut"] in (PUBLISHED, SECRET)]
    # Published first, largest first; secrets after, by catalogue order (their value is unknown).
    shown.sort(key=lambda b: (b["statut"] != PUBLISHED, -(b["valeur"] or 0)))
    return {
        "periode": periode,
        "periode_libelle": period_text(periode) if periode else "",
        "allocataires": allocataires,
        "personnes_couvertes": at("personnes_couvertes"),
        "taux_personnes_couvertes": at("taux_personnes_couvertes"),
        "composition": composition,
        "prestations": shown,
    }


def _share_text(share: float | None, statut: str) -> str:
    if share is not None:
        return f"{format_fr(share, 1)}\u00a0%"
    if statut == PUBLISHED:
        return "non calculable"  # the count is published, the total is not
    return STATUS_FR.get(statut, "pas de données")


def _neighbour_indicator(level: str, wanted: str | None, by_id: dict) -> Indicator | None:
    if wanted:
        ind = indicator(wanted)
        if level not in ind.levels:
            raise ViewError(f"L'indicateur « {ind.title} » n'existe pas à ce niveau.")
        return ind
    for ident in NEIGHBOUR_DEFAULTS:
        if ident in by_id:
            return indicator(ident)
    return None


def neighbours(
    store: Store,
    index: TerritoryIndex,
    ind: Indicator,
    level: str,
    code: str,
    periode: str | None = None,
    prefetched: pd.DataFrame | None = None,
) -> dict:
    """The territory and its neighbours (sharing a border) for one indicator at one period.

    `prefetched`: that indicator's cells already read by `profile()` (from `_fetch`).

    Rows sorted by published value, highest first, hidden cells after (value None); the
    territory is flagged `territoire: True`.
    """
    if periode is None:
        periods = store.periods(ind.id, level)
        periode = periods[-1] if periods else None
    codes = [code, *[c for c in index.neighbours(level, code) if c != code]]
    df = prefetched if prefetched is not None else _fetch(store, ind, [(level, c) for c in codes])
    rows = []
    for c in codes:
        rows.append(
            {
                "code": c,
                "nom": index.name(level, c) or c,
                "territoire": c == code,
                **{
                    k: v
                    for k, v in _cell_at(ind, df, level, c, periode).items()
                    if k in ("valeur", "statut", "texte")
                },
            }
        )
    rows.sort(key=lambda r: (r["valeur"] is None, -(r["valeur"] or 0), r["nom"]))
    return {
        "indicateur": ind.id,
        "titre": ind.title,
        "unite": ind.unit,
        "nature": ind.nature,
        "periode": periode,
        "periode_libelle": period_text(periode) if periode else "",
        "lignes": rows,
    }


# ---------------------------------------------------------------------------------------------
# Figures


def _base_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        separators=", ",  # decimal comma, space between thousands
        font={"family": FONT, "size": 12, "color": "#1e1e1e"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        hoverlabel={"font": {"family": FONT}},
    )
    return fig


def series_figure(
    df: pd.DataFrame, ind: Indicator | str | None = None, title: str | None = None
) -> go.Figure:
    """Line chart of a territory's series and its references.

    `df`: the frame of `layers.views.series_with_references`. Hidden cells are gaps (y None,
    `connectgaps=False`); the territory's line is thick and solid, each reference has its own
    dash pattern and marker so that colour is never the only cue.
    """
    ind = indicator(ind) if isinstance(ind, str) else ind
    periods = sorted(set(df["periode"].astype(str)))
    labels = [period_text(p) for p in periods]
    fig = go.Figure()
    roles = [r for r in ("territoire", *REFERENCE_LEVELS, "caf") if r in set(df["role"])]
    for role in roles:
        part = df[df["role"] == role]
        by_period = {str(r.periode): r for r in part.itertuples()}
        colour, dash, symbol = SERIES_STYLE.get(role, ("#555555", "solid", "circle"))
        ys, texts = [], []
        for p in periods:
            r = by_period.get(p)
            statut = str(r.statut) if r is not None else "manquant"
            v = _num(r.valeur) if r is not None and statut == PUBLISHED else None
            ys.append(v)
            texts.append(
                value_text(v, statut, ind)
                if ind is not None
                else (format_fr(v, 1) if v is not None else STATUS_FR.get(statut, ""))
            )
        name = str(part["nom"].iloc[0]) if len(part) else role
        label = name if role == "territoire" else f"{ROLE_FR.get(role, role)} : {name}"
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=ys,
                name=label,
                mode="lines+markers",
                connectgaps=False,
                line={"color": colour, "dash": dash, "width": 3.5 if role == "territoire" else 2},
                marker={
                    "symbol": symbol,
                    "size": 9 if role == "territoire" else 7,
                    "color": colour,
                },
                customdata=texts,
                hovertemplate="%{x}<br>"
                + label.replace("%", "%%")
                + " : %{customdata}<extra></extra>",
            )
        )
    unit = ind.unit if ind is not None else ""
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=labels,
        showline=True,
        linecolor="#888",
    )
    fig.update_yaxes(
        title={"text": unit},
        gridcolor="#e5e5e5",
        rangemode="tozero",
        zeroline=True,
        zerolinecolor="#888",
    )
    _base_layout(fig, title or (ind.title if ind is not None else "Évolution"))
    fig.update_layout(legend={"orientation": "h", "y": -0.15, "x": 0}, hovermode="x unified")
    return fig


def _unique_labels(rows: Sequence[dict]) -> list[str]:
    names = [str(r["nom"]) for r in rows]
    dup = {n for n in names if names.count(n) > 1}
    return [f"{r['nom']} ({r['code']})" if r["nom"] in dup else str(r["nom"]) for r in rows]


def neighbours_figure(
    rows: Sequence[dict] | dict, highlight_code: str, title: str | None = None
) -> go.Figure:
    """Horizontal bars of the territory and its neighbours, highest at the top.

    `rows`: `profile(...)["voisins"]` (or its `lignes`). The territory's bar is vermillion,
    hatched, and its label says « (territoire) »; a hidden cell has no bar (x None) and reads
    « secret » (or « pas de données ») at the axis instead of a zero bar.
    """
    meta = rows if isinstance(rows, dict) else {}
    lines = list(meta.get("lignes", []) if isinstance(rows, dict) else rows)
    labels = _unique_labels(lines)
    labels = [
        f"▶ {lab} (territoire)" if r["code"] == highlight_code else lab
        for lab, r in zip(labels, lines, strict=True)
    ]
    xs = [r["valeur"] if r["statut"] == PUBLISHED else None for r in lines]
    mine = [r["code"] == highlight_code for r in lines]
    texts = [r.get("texte") or STATUS_FR.get(r["statut"], "") for r in lines]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            x=xs,
            y=labels,
            text=[t if x is not None else "" for t, x in zip(texts, xs, strict=True)],
            textposition="outside",
            cliponaxis=False,
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
            hovertemplate="%{y} : %{customdata}<extra></extra>",
            showlegend=False,
        )
    )
    # Hidden cells: a label in the empty slot (layout annotation, not a data point).
    for lab, x, t in zip(labels, xs, texts, strict=True):
        if x is None:
            fig.add_annotation(
                x=0,
                xref="paper",
                xanchor="left",
                y=lab,
                yref="y",
                text=t,
                showarrow=False,
                font={"color": "#444", "size": 11},
                bgcolor="#f2f2f2",
                bordercolor="#999",
                borderpad=2,
            )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(title={"text": meta.get("unite", "")}, gridcolor="#e5e5e5", rangemode="tozero")
    default = "Comparaison avec les communes voisines"
    if meta.get("titre"):
        default = f"{meta['titre']} — territoire et voisins ({meta.get('periode_libelle', '')})"
    _base_layout(fig, title or default)
    fig.update_layout(height=max(260, 60 + 28 * len(lines)), bargap=0.25)
    return fig


def composition_figure(prof_or_rows: dict | Iterable[dict], title: str | None = None) -> go.Figure:
    """Horizontal bars of the family composition (share of allocataires), hidden cells labelled."""
    if isinstance(prof_or_rows, dict):
        key = prof_or_rows.get("chiffres_cles", prof_or_rows)
        rows = list(key["composition"])
    else:
        rows = list(prof_or_rows)
    labels = [r["libelle"] for r in rows]
    xs = [r.get("part") for r in rows]
    texts = [r.get("part_texte", "") for r in rows]
    colours = [OKABE_ITO[c] for c in ("bleu", "orange", "vert", "pourpre")]
    fig = go.Figure(
        go.Bar(
            orientation="h",
            x=xs,
            y=labels,
            text=[t if x is not None else "" for t, x in zip(texts, xs, strict=True)],
            textposition="outside",
            cliponaxis=False,
            marker={"color": [colours[i % 4] for i in range(len(rows))]},
            customdata=[f"{t} ({r.get('texte', '')})" for t, r in zip(texts, rows, strict=True)],
            hovertemplate="%{y} : %{customdata}<extra></extra>",
            showlegend=False,
        )
    )
    for lab, x, t in zip(labels, xs, texts, strict=True):
        if x is None:
            fig.add_annotation(
                x=0,
                xref="paper",
                xanchor="left",
                y=lab,
                yref="y",
                text=t,
                showarrow=False,
                bgcolor="#f2f2f2",
                bordercolor="#999",
            )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(
        title={"text": "% des foyers allocataires"}, gridcolor="#e5e5e5", rangemode="tozero"
    )
    _base_layout(fig, title or "Composition familiale des foyers allocataires")
    fig.update_layout(height=260, bargap=0.3)
    return fig


@lru_cache(maxsize=256)
def _profile_cached(
    store: Store, index: TerritoryIndex, level: str, code: str, notice: str | None
) -> dict:
    return profile(store, index, level, code, notice)


def cached_profile(
    store: Store, index: TerritoryIndex, level: str, code: str, notice: str | None = None
) -> dict:
    """`profile()` remembered per (store, index, territory): the page, its PDF and an atlas ask
    for the same one (~120 ms each on all France). A new build brings new Store and index
    objects, hence new keys. Shared between requests: read it, never change it."""
    return _profile_cached(store, index, level, code, notice)
