"""The territory profile page (/territoire/<niveau>/<code>): key figures, context by theme,
evolution, neighbours, comparison, facilities nearby, PDF export."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from dashboard.pages.html_json import Element, element
from layers import strings_fr as fr
from layers.appdata import AppData, current_data
from layers.facility_listing import TABLE_CELL_STYLE, table_columns
from layers.model import FACILITY_TYPES as TYPES
from layers.model import singular_name
from layers.profile import Cell, Identity, Profile, Theme, cached_profile
from layers.profile_figures import composition_figure, neighbours_figure
from layers.views import ViewError

GRAPH_CONFIG = {"displaylogo": False, "locale": "fr"}
FACILITY_TYPES = [ft.label for ft in TYPES]


def _card(title: str, cell: Cell) -> Element:
    return element(
        html.Div,
        [
            element(html.Div, title, className="cc-card-title"),
            element(html.Div, cell.text, className="cc-card-value"),
        ],
        className="cc-card",
    )


def _parents(identity: Identity) -> Element:
    links: list = []
    for parent in identity.parents:
        if parent.level == "france":
            continue
        links += [
            element(
                html.A,
                f"{parent.name} ({parent.level_label})",
                href=f"/territoire/{parent.level}/{parent.code}",
            ),
            " · ",
        ]
    return element(html.P, links[:-1] or "", className="cc-parents")


def _parts(identity: Identity) -> Element | None:
    """« Arrondissements : Lyon 1er Arrondissement · … » on the profile of a split city."""
    if not identity.parts:
        return None
    links: list = []
    for part in identity.parts:
        links += [element(html.A, part.name, href=f"/territoire/{part.level}/{part.code}"), " · "]
    return element(
        html.P, ["Arrondissements : ", *links[:-1]], className="cc-parents", id="fiche-parties"
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def theme_table(theme: Theme) -> Element:
    """One theme's indicators beside the references: a real table (screen readers, RGAA),
    written as its JSON (`html_json.element`: the same bytes, a third of the page's CPU less)."""
    refs = theme.rows[0].references if theme.rows else ()
    head = element(
        html.Tr,
        [
            element(html.Th, "Indicateur", scope="col"),
            element(html.Th, "Territoire", scope="col"),
            *[element(html.Th, _capital(r.parent.level_label), scope="col") for r in refs],
            element(html.Th, "Rang dans l'EPCI", scope="col"),
            element(html.Th, "Évolution", scope="col"),
        ],
    )
    rows = [
        element(
            html.Tr,
            [
                element(html.Th, f"{row.cell.title} ({row.cell.unit})", scope="row"),
                element(html.Td, row.cell.text, className="cc-num"),
                *[element(html.Td, r.cell.text, className="cc-num") for r in row.references],
                element(html.Td, row.epci_rank.text if row.epci_rank else "—"),
                element(html.Td, row.evolution.text if row.evolution else "—"),
            ],
        )
        for row in theme.rows
    ]
    return element(
        html.Div,
        [
            element(html.H3, theme.name),
            element(
                html.Table,
                [element(html.Thead, head), element(html.Tbody, rows)],
                className="table table-sm cc-theme-table",
            ),
        ],
        className="cc-theme",
    )


def _indicator_options(prof: Profile) -> list[dict[str, str]]:
    return [{"label": row.cell.title, "value": row.cell.indicator} for row in prof.indicator_rows()]


def _summary(prof: Profile, level: str, code: str) -> list:
    """Links, title, parents, key figures, composition and the most paid benefits."""
    key = prof.key_figures
    kind = prof.identity.level_label
    cards = [
        _card("Foyers allocataires", key.recipients),
        _card("Personnes couvertes", key.covered_people),
        _card("Part de la population couverte", key.coverage_rate),
    ]
    benefits = element(
        html.Ol,
        [element(html.Li, f"{b.label} : {b.cell.text}") for b in key.benefits],
        className="cc-benefits",
    )
    composition = [
        element(html.H3, "Composition des familles allocataires"),
        dcc.Graph(figure=composition_figure(key), config=GRAPH_CONFIG),
    ]
    top = [element(html.H3, "Prestations les plus versées"), benefits]
    return [
        element(
            html.Div,
            [
                element(html.A, "← Retour à la carte", href=f"/?territoire={level}:{code}"),
                element(
                    html.A,
                    "Télécharger la fiche (PDF)",
                    href=f"/export/fiche/{level}/{code}.pdf",
                    className="btn btn-outline-secondary btn-sm",
                    id="fiche-pdf",
                ),
            ],
            className="cc-profile-actions",
        ),
        element(html.H2, f"Fiche territoire : {prof.identity.name}", id="fiche-titre"),
        element(html.P, f"{kind.capitalize()} {code} · {key.period_label}", className="cc-note"),
        _parents(prof.identity),
        _parts(prof.identity),
        element(html.Div, cards, className="cc-cards"),
        element(
            html.Div,
            [
                element(html.Div, composition, className="cc-col"),
                element(html.Div, top, className="cc-col"),
            ],
            className="cc-row",
        ),
    ]


def _titled(heading: str, label: str, control: str) -> list[Element]:
    """A section's heading and its control's label, read by screen readers only (the heading
    says it on screen)."""
    return [
        element(html.H3, heading),
        element(html.Label, label, htmlFor=control, className="visually-hidden"),
    ]


def _neighbours_section(prof: Profile, level: str, code: str) -> list:
    if not prof.neighbours:
        return []
    return [
        html.Div(
            [
                *_titled(
                    "Comparaison avec les communes voisines"
                    if level == "commune"
                    else "Comparaison avec les territoires voisins",
                    "Indicateur comparé",
                    "voisins-indicateur",
                ),
                dcc.Dropdown(
                    id="voisins-indicateur",
                    options=_indicator_options(prof),
                    value=prof.neighbours.indicator,
                    clearable=False,
                ),
                dcc.Graph(
                    id="graphe-voisins",
                    config=GRAPH_CONFIG,
                    figure=neighbours_figure(prof.neighbours, str(code)),
                ),
            ],
            className="cc-section",
            id="bloc-voisins",
        )
    ]


EVOLUTION_DEFAULT = "taux_personnes_couvertes"


def _evolution_default(options: list[dict[str, str]]) -> str | None:
    """The coverage rate when the profile has it (a real store may not), else its first row."""
    values = [o["value"] for o in options]
    return EVOLUTION_DEFAULT if EVOLUTION_DEFAULT in values else (values or [None])[0]


def _evolution_section(prof: Profile) -> html.Div:
    """The series chart (drawn by its callback) and the indicator picker."""
    options = _indicator_options(prof)
    return html.Div(
        [
            *_titled("Évolution", "Indicateur de l'évolution", "evolution-indicateur"),
            dcc.Dropdown(
                id="evolution-indicateur",
                value=_evolution_default(options),
                clearable=False,
                options=options,
            ),
            dcc.Graph(id="graphe-evolution", config=GRAPH_CONFIG),
        ],
        className="cc-section",
    )


def _compare_section() -> html.Div:
    return html.Div(
        [
            *_titled("Comparer avec", "Territoires à comparer", "comparer"),
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


def _facilities_section() -> html.Div:
    """Crèches and LAEP of a commune and its neighbours (rows filled by a callback)."""
    return html.Div(
        [
            element(html.H3, "Accueil du jeune enfant à proximité (la commune et ses voisines)"),
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
                columns=table_columns(with_distance=True),
                style_cell=TABLE_CELL_STYLE,
            ),
        ],
        className="cc-section",
        id="bloc-equipements",
    )


def _message(children: list | html.P, **attrs: str) -> html.Div:
    return html.Div(children, className="cc-profile", **attrs)


def profile_layout(data: AppData, level: str | None = None, code: str | None = None) -> html.Div:
    info, index = data.store(), data.index()
    if info is None or index is None:
        return _message(html.P("Les données ne sont pas construites : lancez « cafcarto build »."))
    try:
        prof = cached_profile(info.store, index, str(level), str(code)[:20], info.notice)
    except ViewError as exc:
        return _message(
            [
                html.H2("Territoire introuvable"),
                html.P(exc.message),
                html.A("Retour à la carte", href="/"),
            ],
            role="alert",
        )
    # A known territory: both were given (the level it comes from for the combined view).
    level, code = prof.identity.level, str(code)
    sections = [
        *_summary(prof, level, code),
        *_neighbours_section(prof, level, code),
        _evolution_section(prof),
        _compare_section(),
        element(html.H3, "Indicateurs par thème"),
        *[theme_table(t) for t in prof.themes],
    ]
    if level == "commune":
        sections.append(_facilities_section())
    sections.append(element(html.P, prof.source, className="cc-note"))
    sections += _provenance_section(prof)
    sections.append(dcc.Store(id="fiche-territoire", data={"niveau": level, "code": code}))
    return html.Div(sections, className="cc-profile")


def _provenance_section(prof: Profile) -> list:
    """One line per series whose origin the store knows: its dataset, update and regime."""
    lines = [
        element(
            html.Li, f"{row.cell.title} : {row.source}" + (f" — {row.note}" if row.note else "")
        )
        for row in prof.indicator_rows()
        if row.source
    ]
    if not lines:
        return []
    return [
        element(
            html.Details,
            [
                element(html.Summary, "Sources et diffusion de chaque série"),
                element(html.Ul, lines),
            ],
            className="cc-note cc-provenance",
        )
    ]


def layout(niveau: str | None = None, code: str | None = None, **_query: str) -> html.Div:
    """The profile of the territory of the path, from the data of the app serving the request."""
    return profile_layout(current_data(), niveau, code)


def title(niveau: str = "", code: str = "", **_kw: str) -> str:
    """« Fiche territoire : Lyon (commune) – Cafdata Carto »; the code when it is unknown."""
    index = current_data().index()
    known = index.name(niveau, code) if index is not None else None
    level = singular_name(niveau)
    name = known if known is not None else code[:20]
    return f"Fiche territoire : {name}{f' ({level})' if level else ''} – {fr.APP_TITLE}"


def register() -> None:
    dash.register_page(
        "fiche",
        path_template="/territoire/<niveau>/<code>",
        title=title,
        name="Fiche territoire",
        layout=layout,
    )
