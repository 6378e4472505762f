"""The territory profile page (/territoire/<niveau>/<code>): key figures, context by theme,
evolution, neighbours, comparison, facilities nearby, PDF export."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from layers.appdata import AppData
from layers.catalogue import BY_ID
from layers.facility_listing import TABLE_CELL_STYLE
from layers.model import FACILITY_TYPES as TYPES
from layers.model import level_name
from layers.profile import cached_profile, composition_figure, neighbours_figure
from layers.views import ViewError

GRAPH_CONFIG = {"displaylogo": False, "locale": "fr"}
FACILITY_TYPES = [ft.label for ft in TYPES]


def _card(title: str, cell: dict) -> html.Div:
    return html.Div(
        [
            html.Div(title, className="cc-card-title"),
            html.Div(cell["texte"], className="cc-card-value"),
        ],
        className="cc-card",
    )


def _parents(identity: dict) -> html.P:
    links = []
    for parent in identity.get("parents", []):
        level = parent["niveau"]
        if level == "france":
            continue
        links += [
            html.A(
                f"{parent['nom']} ({parent['niveau_libelle']})",
                href=f"/territoire/{level}/{parent['code']}",
            ),
            " · ",
        ]
    return html.P(links[:-1] or "", className="cc-parents")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def theme_table(theme: dict) -> html.Div:
    """One theme's indicators beside the references: a real table (screen readers, RGAA)."""
    refs = theme["indicateurs"][0]["references"] if theme["indicateurs"] else []
    head = html.Tr(
        [
            html.Th("Indicateur", scope="col"),
            html.Th("Territoire", scope="col"),
            *[html.Th(_capital(r["niveau_libelle"]), scope="col") for r in refs],
            html.Th("Rang dans l'EPCI", scope="col"),
            html.Th("Évolution", scope="col"),
        ]
    )
    rows = []
    for ind in theme["indicateurs"]:
        rows.append(
            html.Tr(
                [
                    html.Th(f"{ind['titre']} ({ind['unite']})", scope="row"),
                    html.Td(ind["texte"], className="cc-num"),
                    *[html.Td(r["texte"], className="cc-num") for r in ind["references"]],
                    html.Td((ind.get("rang_epci") or {}).get("texte", "—")),
                    html.Td((ind.get("evolution") or {}).get("texte", "—")),
                ]
            )
        )
    return html.Div(
        [
            html.H3(theme["theme"]),
            html.Table(
                [html.Thead(head), html.Tbody(rows)], className="table table-sm cc-theme-table"
            ),
        ],
        className="cc-theme",
    )


def profile_layout(
    data: AppData, niveau: str | None = None, code: str | None = None, **_query: str
) -> html.Div:
    info, index = data.store(), data.index()
    if info is None or index is None:
        return html.Div(
            html.P("Les données ne sont pas construites : lancez « cafcarto build »."),
            className="cc-profile",
        )
    try:
        prof = cached_profile(info.store, index, str(niveau), str(code)[:20], info.notice)
    except ViewError as exc:
        return html.Div(
            [
                html.H2("Territoire introuvable"),
                html.P(exc.message),
                html.A("Retour à la carte", href="/"),
            ],
            className="cc-profile",
            role="alert",
        )
    ident = prof["identite"]
    key = prof["chiffres_cles"]
    kind = level_name(niveau) if niveau else niveau
    cards = [
        _card("Foyers allocataires", key["allocataires"]),
        _card("Personnes couvertes", key["personnes_couvertes"]),
        _card("Part de la population couverte", key["taux_personnes_couvertes"]),
    ]
    benefits = html.Ol(
        [html.Li(f"{b['libelle']} : {b['texte']}") for b in key["prestations"]],
        className="cc-benefits",
    )
    sections = [
        html.Div(
            [
                html.A("← Retour à la carte", href=f"/?territoire={niveau}:{code}"),
                html.A(
                    "Télécharger la fiche (PDF)",
                    href=f"/export/fiche/{niveau}/{code}.pdf",
                    className="btn btn-outline-secondary btn-sm",
                    id="fiche-pdf",
                ),
            ],
            className="cc-profile-actions",
        ),
        html.H2(f"Fiche territoire : {ident['nom']}", id="fiche-titre"),
        html.P(f"{kind.capitalize()} {code} · {key['periode_libelle']}", className="cc-note"),
        _parents(ident),
        html.Div(cards, className="cc-cards"),
        html.Div(
            [
                html.Div(
                    [
                        html.H3("Composition des familles allocataires"),
                        dcc.Graph(figure=composition_figure(prof), config=GRAPH_CONFIG),
                    ],
                    className="cc-col",
                ),
                html.Div([html.H3("Prestations les plus versées"), benefits], className="cc-col"),
            ],
            className="cc-row",
        ),
    ]
    if prof["voisins"]:
        choices = [
            {"label": BY_ID[i["indicateur"]].title, "value": i["indicateur"]}
            for t in prof["themes"]
            for i in t["indicateurs"]
        ]
        sections.append(
            html.Div(
                [
                    html.H3(
                        "Comparaison avec les communes voisines"
                        if niveau == "commune"
                        else "Comparaison avec les territoires voisins"
                    ),
                    html.Label(
                        "Indicateur comparé",
                        htmlFor="voisins-indicateur",
                        className="visually-hidden",
                    ),
                    dcc.Dropdown(
                        id="voisins-indicateur",
                        options=choices,
                        value=prof["voisins"]["indicateur"],
                        clearable=False,
                    ),
                    dcc.Graph(
                        id="graphe-voisins",
                        config=GRAPH_CONFIG,
                        figure=neighbours_figure(prof["voisins"], str(code)),
                    ),
                ],
                className="cc-section",
                id="bloc-voisins",
            )
        )
    sections.append(
        html.Div(
            [
                html.H3("Évolution"),
                html.Label(
                    "Indicateur de l'évolution",
                    htmlFor="evolution-indicateur",
                    className="visually-hidden",
                ),
                dcc.Dropdown(
                    id="evolution-indicateur",
                    value="taux_personnes_couvertes",
                    clearable=False,
                    options=[
                        {"label": BY_ID[i["indicateur"]].title, "value": i["indicateur"]}
                        for t in prof["themes"]
                        for i in t["indicateurs"]
                    ],
                ),
                dcc.Graph(id="graphe-evolution", config=GRAPH_CONFIG),
            ],
            className="cc-section",
        )
    )
    sections.append(
        html.Div(
            [
                html.H3("Comparer avec"),
                html.Label(
                    "Territoires à comparer", htmlFor="comparer", className="visually-hidden"
                ),
                dcc.Dropdown(
                    id="comparer",
                    multi=True,
                    placeholder="Ajouter un territoire (nom, code)…",
                    options=[],
                ),
                html.Div(id="comparaison"),
            ],
            className="cc-section",
        )
    )
    sections += [html.H3("Indicateurs par thème"), *[theme_table(t) for t in prof["themes"]]]
    if niveau == "commune":
        sections.append(
            html.Div(
                [
                    html.H3("Accueil du jeune enfant à proximité (la commune et ses voisines)"),
                    dbc.Checklist(
                        id="equipements-types",
                        value=FACILITY_TYPES,
                        inline=True,
                        options=[{"label": t, "value": t} for t in FACILITY_TYPES],
                    ),
                    dash_table.DataTable(
                        id="equipements-table",
                        page_size=10,
                        sort_action="native",
                        columns=[
                            {"name": n, "id": i}
                            for i, n in (
                                ("nom", "Nom"),
                                ("type", "Type"),
                                ("adresse", "Adresse"),
                                ("commune", "Commune"),
                                ("places", "Places"),
                                ("distance", "Distance (km)"),
                            )
                        ],
                        style_cell=TABLE_CELL_STYLE,
                    ),
                ],
                className="cc-section",
                id="bloc-equipements",
            )
        )
    sections.append(html.P(prof["source"], className="cc-note"))
    sections.append(dcc.Store(id="fiche-territoire", data={"niveau": niveau, "code": code}))
    return html.Div(sections, className="cc-profile")
