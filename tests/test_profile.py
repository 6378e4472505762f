"""The territory profile: key figures, context, rank in the EPCI, neighbours, figures and PDF.

Checked against the store cells directly (recomputed here, not through the profile code), on
real communes of the test cut: Lyon, Villeurbanne and a small commune of Rhône whose key
figures are secret.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import io
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterator

import flask
import plotly.graph_objects as go
import pytest

from dashboard.api import exports
from layers.appdata import AppData, init_app
from layers.catalogue import BY_ID
from layers.charts import series_chart
from layers.profile import (
    BENEFITS,
    Cell,
    CompositionRow,
    IndicatorRow,
    Profile,
    cached_profile,
    profile,
)
from layers.profile_figures import composition_figure, neighbours_figure, series_figure
from layers.profile_pdf import profile_pdf
from layers.store import MISSING, NOT_APPLICABLE, PUBLISHED, SECRET
from layers.views import series_with_references

LYON, VILLEURBANNE = "69123", "69266"


@pytest.fixture(scope="module")
def data(settings):
    app = AppData(settings)
    return app.index(), app.store()


@pytest.fixture(scope="module")
def secret_code(data) -> str:
    """A small commune of Rhône whose number of allocataires is secret at the latest period."""
    _, info = data
    latest = info.store.periods("allocataires", "commune")[-1]
    cells = info.store.layer("allocataires", "commune", latest)
    codes = cells[(cells["statut"] == SECRET) & cells["code"].str.startswith("69")]["code"]
    assert len(codes), "the test store should have a secret commune in Rhône"
    return str(sorted(codes)[0])


@pytest.fixture(scope="module")
def profiles(data, secret_code) -> dict[str, Profile]:
    index, info = data
    return {
        c: profile(info.store, index, "commune", c, info.notice)
        for c in (LYON, VILLEURBANNE, secret_code)
    }


def _cell(store, ind: str, level: str, code: str, period: str) -> tuple[float | None, str]:
    df = store.layer(ind, level, period)
    row = df[df["code"] == code]
    if row.empty:
        return None, "manquant"
    v, s = row["valeur"].iloc[0], str(row["statut"].iloc[0])
    return (None if s != PUBLISHED else float(v)), s


def _row(prof: Profile, ident: str) -> IndicatorRow:
    return next(r for r in prof.indicator_rows() if r.cell.indicator == ident)


def _walk(obj: object) -> Iterator[object]:
    """Every value inside a profile (dataclasses, containers, leaves), depth first."""
    yield obj
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _walk(getattr(obj, f.name))
    elif isinstance(obj, tuple | list | set | dict):
        for item in obj:
            yield from _walk(item)


def test_the_cached_profile_cannot_be_changed(data) -> None:
    index, info = data
    prof = cached_profile(info.store, index, "commune", LYON, info.notice)
    assert cached_profile(info.store, index, "commune", LYON, info.notice) is prof  # shared
    with pytest.raises(dataclasses.FrozenInstanceError):
        prof.notice = None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prof.key_figures.recipients.value = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prof.neighbours.rows[0].cell.text = "0"  # type: ignore[misc, union-attr]
    with pytest.raises(TypeError):
        prof.themes[0].rows[0] = prof.themes[0].rows[1]  # type: ignore[index]
    parts = list(_walk(prof))
    assert not [p for p in parts if isinstance(p, list | set | dict)]  # tuples only
    frozen = [type(p).__dataclass_params__.frozen for p in parts if dataclasses.is_dataclass(p)]
    assert all(frozen) and len(frozen) > 500


HIDDEN_TEXT = {SECRET: "secret", MISSING: "pas de données", NOT_APPLICABLE: "non concerné"}


def test_every_hidden_cell_is_none_with_its_french_status(data, profiles) -> None:
    index, info = data
    iris = str(index.table("iris")["code"].iloc[0])
    # a commune without data for the crèches' coverage rate (missing, not secret)
    latest = info.store.periods("taux_couverture_eaje", "commune")[-1]
    cells = info.store.layer("taux_couverture_eaje", "commune", latest)
    blank = sorted(cells.loc[cells["statut"] == MISSING, "code"])[0]
    others = [
        profile(info.store, index, lv, c)
        for lv, c in (("departement", "69"), ("iris", iris), ("commune", blank))
    ]
    hidden: Counter[str] = Counter()
    for prof in [*profiles.values(), *others]:
        parts = list(_walk(prof))
        for cell in (p for p in parts if isinstance(p, Cell)):
            if cell.status == PUBLISHED:
                assert cell.value is not None and not math.isnan(cell.value)
                continue
            assert cell.value is None and cell.text == HIDDEN_TEXT[cell.status], cell
            hidden[cell.status] += 1
        # nothing computed from a hidden value: no rank, no share
        for row in parts:
            if isinstance(row, IndicatorRow) and row.cell.value is None:
                assert row.epci_rank is None
            if isinstance(row, CompositionRow) and row.cell.value is None:
                assert row.share is None
    assert set(hidden) == set(HIDDEN_TEXT)  # the fixture has every kind of hidden cell


def test_identity_and_key_figures_match_the_store(data, profiles) -> None:
    index, info = data
    prof = profiles[LYON]
    ident = prof.identity
    assert ident.name == "Lyon" and ident.code == LYON
    assert {p.level: p.code for p in ident.parents}["epci"] == "200046977"
    assert ident.population == index.get("commune", LYON).population
    assert "69001" in ident.postal_codes
    key = prof.key_figures
    latest = info.store.periods("allocataires", "commune")[-1]
    assert key.period == latest == prof.period
    headline = ("allocataires", "personnes_couvertes", "taux_personnes_couvertes")
    assert [c.indicator for c in key.headline] == list(headline)
    for cell in key.headline:
        v, s = _cell(info.store, cell.indicator, "commune", LYON, latest)
        assert (cell.value, cell.status) == (v, s) and s == PUBLISHED
    total = key.recipients.value
    shares = [c.share for c in key.composition]
    assert [c.cell.indicator for c in key.composition] == [
        "isoles",
        "monoparentales",
        "couples_sans_enfant",
        "couples_avec_enfants",
    ]
    for c in key.composition:
        v, _ = _cell(info.store, c.cell.indicator, "commune", LYON, latest)
        assert c.cell.value == v and c.share == pytest.approx(v / total * 100)
    assert sum(shares) == pytest.approx(100, abs=0.5)  # the demo's breakdown adds up
    benefits = key.benefits
    assert {b.cell.indicator for b in benefits} <= set(BENEFITS)
    values = [b.cell.value for b in benefits if b.cell.status == PUBLISHED]
    assert values == sorted(values, reverse=True) and len(values) >= 10
    assert "\u202f" in key.recipients.text  # French thousands separator


def test_secrets_stay_none_and_go_last(profiles, secret_code) -> None:
    key = profiles[secret_code].key_figures
    alloc = key.recipients
    assert alloc.status == SECRET and alloc.value is None and alloc.text == "secret"
    statuses = [b.cell.status for b in key.benefits]
    # secrets after every published benefit, never as 0
    assert statuses == sorted(statuses, key=lambda s: s != PUBLISHED)
    for b in key.benefits:
        assert (b.cell.value is None) == (b.cell.status != PUBLISHED)
    for c in key.composition:  # no share without a published total
        assert c.share is None
    row = _row(profiles[secret_code], "allocataires")
    assert row.cell.value is None and row.cell.status == SECRET and row.epci_rank is None


def test_context_equals_the_store_cells(data, profiles) -> None:
    _, info = data
    prof = profiles[VILLEURBANNE]
    refs = {r.level: r.code for r in prof.references}
    assert refs == {"epci": "200046977", "departement": "69", "region": "84", "france": "FR"}
    themes = {t.name for t in prof.themes}
    assert {"Données socio-démographiques", "Logement", "Solidarité et insertion"} <= themes
    checked = 0
    for row in prof.indicator_rows():
        own = row.cell
        periode = own.period
        assert periode == info.store.periods(own.indicator, "commune")[-1]
        v, s = _cell(info.store, own.indicator, "commune", VILLEURBANNE, periode)
        assert (own.value, own.status) == (v, s)
        for ref in row.references:
            # references at the commune's own (annual) period, although they are quarterly
            assert ref.cell.period == periode
            assert (ref.cell.value, ref.cell.status) == _cell(
                info.store, own.indicator, ref.parent.level, ref.parent.code, periode
            )
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("code", [LYON, VILLEURBANNE])
def test_rank_within_the_epci(data, profiles, code) -> None:
    index, info = data
    table = index.table("commune")
    epci = table.loc[table["code"] == code, "epci"].iloc[0]
    members = set(table.loc[table["epci"] == epci, "code"])
    for row in profiles[code].indicator_rows():
        cells = info.store.layer(row.cell.indicator, "commune", row.cell.period)
        cells = cells[cells["code"].isin(members) & (cells["statut"] == PUBLISHED)]
        own = cells.loc[cells["code"] == code, "valeur"]
        if own.empty:
            assert row.epci_rank is None
            continue
        expected = 1 + int((cells["valeur"] > own.iloc[0]).sum())
        rk = row.epci_rank
        assert (rk.rank, rk.total, rk.epci) == (expected, len(cells), epci)
        assert rk.text == f"{expected} sur {len(cells)}"


def test_evolution_is_first_to_latest_published(data, profiles) -> None:
    _, info = data
    row = _row(profiles[LYON], "allocataires")
    series = info.store.series("allocataires", "commune", LYON)
    pub = series[series["statut"] == PUBLISHED]
    evo = row.evolution
    assert evo.start.value == pub["valeur"].iloc[0]
    assert evo.end.value == pub["valeur"].iloc[-1]
    assert evo.change == pytest.approx(pub["valeur"].iloc[-1] - pub["valeur"].iloc[0])
    rate = _row(profiles[LYON], "part_aides_logement")
    assert "point" in rate.evolution.text and rate.evolution.change_pct is None


@pytest.mark.parametrize("code", [LYON, "secret"])
def test_neighbours_are_the_index_neighbours_sorted(data, profiles, secret_code, code) -> None:
    index, info = data
    code = secret_code if code == "secret" else code
    vois = profiles[code].neighbours
    assert vois.indicator == "part_aides_logement"
    rows = vois.rows
    assert {r.code for r in rows} == {code, *index.neighbours("commune", code)}
    assert [r.code for r in rows if r.is_territory] == [code]
    values = [r.cell.value for r in rows if r.cell.value is not None]
    assert values == sorted(values, reverse=True)
    hidden = tuple(r for r in rows if r.cell.status != PUBLISHED)
    assert all(r.cell.value is None for r in hidden)
    assert rows[len(rows) - len(hidden) :] == hidden  # hidden cells last
    for r in rows:
        assert (r.cell.value, r.cell.status) == _cell(
            info.store, "part_aides_logement", "commune", r.code, vois.period
        )


def test_figures_keep_secrets_as_gaps(data, profiles, secret_code) -> None:
    index, info = data
    vois = profiles[secret_code].neighbours
    own = next(r for r in vois.rows if r.is_territory)
    # The figures are Plotly's JSON as dicts: read them back through graph objects.
    fig = go.Figure(neighbours_figure(vois, secret_code))
    bar = fig.data[0]
    assert fig.layout.separators == ", "
    pos = [i for i, y in enumerate(bar.y) if "(territoire)" in y]
    assert len(pos) == 1 and bar.marker.pattern.shape[pos[0]] == "/"  # not colour alone
    if own.cell.status == SECRET:
        assert bar.x[pos[0]] is None
        assert any(a.text == "secret" for a in fig.layout.annotations)
    assert 0 not in [x for x, r in zip(bar.x, vois.rows, strict=True) if r.cell.status != PUBLISHED]

    ind = BY_ID["allocataires"]
    df = series_with_references(info.store, index, ind, "commune", secret_code)
    fig = go.Figure(series_figure(df, ind))
    terr = fig.data[0]
    assert terr.connectgaps is False and "(" not in terr.name
    own_df = df[df["role"] == "territoire"].sort_values("periode")
    for y, s in zip(terr.y, own_df["statut"], strict=True):
        assert (y is None) == (s != PUBLISHED)
        if s == SECRET:
            assert y is None
    assert len(fig.data) == len(set(df["role"]))
    dashes = {t.line.dash for t in fig.data}
    assert len(dashes) == len(fig.data)  # every line has its own dash pattern

    comp = go.Figure(composition_figure(profiles[secret_code].key_figures))
    assert all(x is None for x in comp.data[0].x)  # total secret: no share at all


def _pdf_text(pdf: bytes) -> list[str]:
    """The strings drawn in a reportlab PDF (standard fonts), in drawing order."""
    try:
        from pypdf import PdfReader
    except ImportError:
        PdfReader = None
    if PdfReader is not None:
        import io

        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        return [line.strip() for line in text.splitlines() if line.strip()]
    out: list[str] = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        head, raw = m.group(1), m.group(2)
        if b"ASCII85Decode" in head:
            raw = base64.a85decode(raw.strip().removesuffix(b"~>"), adobe=False)
        if b"FlateDecode" in head:
            raw = zlib.decompress(raw)
        for s in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", raw, re.S):
            out.append(_unescape(s.group(1)).decode("cp1252").strip())
    return [s for s in out if s]


def _unescape(raw: bytes) -> bytes:
    simple = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"(": b"(", b")": b")", b"\\": b"\\"}

    def sub(m: re.Match) -> bytes:
        esc = m.group(1)
        return bytes([int(esc, 8)]) if esc[:1].isdigit() else simple.get(esc, esc)

    return re.sub(rb"\\([0-7]{1,3}|.)", sub, raw)


@pytest.fixture(scope="module")
def client(settings):
    server = flask.Flask("test_profile")
    init_app(server, AppData(settings))
    server.register_blueprint(exports.bp)
    return server.test_client()


def test_pdf_route_returns_the_profile(client) -> None:
    resp = client.get(f"/export/fiche/commune/{LYON}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.data.startswith(b"%PDF")
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="fiche_commune_{LYON}.pdf"'
    )
    text = "\n".join(_pdf_text(resp.data))
    assert f"Fiche territoire : Lyon ({LYON})" in text
    assert "Source : Cnaf, fichier FILEAS - BENETRIM ; Insee ; IGN" in text
    assert "Données de démonstration" in text and "démonstration" in text
    assert "Chiffres clés" in text and "Villeurbanne" in text  # neighbours table
    assert "Métropole de Lyon" in text


def test_pdf_of_an_arrondissement_compares_it_with_its_commune(client) -> None:
    """A municipal arrondissement's first reference is its commune (a 500 before)."""
    resp = client.get("/export/fiche/arm/69381.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    text = "\n".join(_pdf_text(resp.data))
    assert "Fiche territoire : Lyon 1er Arrondissement (69381)" in text
    assert "Commune = Lyon" in text


def test_a_paragraph_split_across_pages_is_reportlabs_own() -> None:
    """A text too long for the rest of a page is split by reportlab into pieces of the same
    class (a TypeError before): the document is byte for byte plain Paragraph's."""
    from reportlab import rl_config
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    from layers import profile_pdf as pdf

    text = " ".join(f"Allocataires {i} secret" for i in range(900))
    rl_config.invariant, invariant = 1, rl_config.invariant

    def document(make) -> bytes:
        out = io.BytesIO()
        body = pdf._styles()["corps"]
        SimpleDocTemplate(out).build([Spacer(1, 600), make(text, body), make("fin", body)])
        return out.getvalue()

    try:
        assert document(pdf._Text) == document(Paragraph) == document(pdf._Text)
    finally:
        rl_config.invariant = invariant


@pytest.mark.parametrize(
    "url",
    [
        "/export/fiche/commune/00000.pdf",
        "/export/fiche/canton/69123.pdf",
        "/export/fiche/commune/69%3B1.pdf",
        "/export/fiche/epci/69123.pdf",
    ],
)
def test_pdf_route_refuses_unknown_territories(client, url) -> None:
    resp = client.get(url)
    assert resp.status_code == 404 and resp.is_json
    body = resp.get_json()
    assert body["statut"] == 404 and "inconnu" in body["erreur"]


def test_pdf_prints_secret_not_a_number(client, profiles, secret_code) -> None:
    resp = client.get(f"/export/fiche/commune/{secret_code}.pdf")
    assert resp.status_code == 200
    lines = _pdf_text(resp.data)
    name = profiles[secret_code].identity.name
    assert any(name in line for line in lines) and "secret" in lines
    # key figures table: the label is followed by its cell, which says "secret"
    pos = lines.index("Foyers allocataires")
    assert lines[pos + 1] == "secret"
    # the same in the context table (label with unit and period) and the neighbours table
    ctx = next(i for i, line in enumerate(lines) if line.startswith("Foyers allocataires ("))
    cell = next(line for line in lines[ctx + 1 : ctx + 4] if not line.endswith(")"))
    assert cell == "secret"  # the label may wrap onto a second line ("2024)")
    assert any(line.endswith("- territoire") for line in lines)


def test_other_levels_and_pdf_without_demo(data) -> None:
    index, info = data
    prof = profile(info.store, index, "departement", "69")
    assert prof.period == info.store.periods("allocataires", "departement")[-1]
    assert [r.level for r in prof.references] == ["region", "france"]
    assert all(r.epci_rank is None for r in prof.indicator_rows())
    assert prof.notice is None
    text = "\n".join(_pdf_text(profile_pdf(prof, compress=False)))
    assert "Fiche territoire : Rhône (69)" in text and "Ce ne sont pas des chiffres" not in text
    epci = profile(info.store, index, "epci", "200046977")
    assert epci.neighbours and epci.neighbours.rows[0].cell.value is not None
    assert not math.isnan(epci.key_figures.recipients.value)


def test_figure_dicts_are_plotly_json(data, profiles, secret_code) -> None:
    """The figures are built as dicts: each must be exactly what Plotly's graph objects make of
    it (valid properties, the default template, nothing dropped), so the browser receives the
    same JSON as from `go.Figure(...)`; a hidden neighbour's note is an annotation."""
    index, info = data
    prof = profiles[secret_code]
    ind = BY_ID["allocataires"]
    figures = [
        neighbours_figure(prof.neighbours, secret_code),
        composition_figure(prof.key_figures),
        series_chart(info.store, index, ind, "commune", secret_code),
        series_chart(info.store, index, BY_ID["part_rsa"], "commune", secret_code),
    ]
    for fig in figures:
        assert go.Figure(fig).to_plotly_json() == fig
        assert fig["layout"]["template"] == go.Figure().to_plotly_json()["layout"]["template"]
    log_axis = figures[2]["layout"]["yaxis"]  # a count: log scale, said in the axis title
    assert log_axis["type"] == "log" and "logarithmique" in log_axis["title"]["text"]
    assert "type" not in figures[3]["layout"]["yaxis"]  # a rate keeps a linear axis
    hidden = [r for r in prof.neighbours.rows if r.cell.value is None]
    notes = figures[0]["layout"].get("annotations", [])
    assert len(notes) == len(hidden) > 0


def test_pdf_same_bytes_as_plain_reportlab_paragraphs(data, profiles, monkeypatch) -> None:
    """The PDF's paragraphs parse a text once per process, break their lines once per width
    and replay their drawing operators: the documents are byte for byte those of reportlab's
    own Paragraph, for a profile with secret cells, a city, a département and an atlas, built
    again from the warm caches and from two threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    from reportlab import rl_config
    from reportlab.platypus import Paragraph

    from layers import profile_pdf as pdf

    index, info = data
    day = datetime.date(2026, 11, 29)
    profs = [*profiles.values(), profile(info.store, index, "departement", "69")]
    monkeypatch.setattr(rl_config, "invariant", 1)  # no creation date nor random document id

    def documents() -> list[bytes]:
        one = [pdf.profile_pdf(p, today=day) for p in profs]
        return [*one, pdf.atlas_pdf("Atlas", profs, "avis", today=day)]

    fast = documents()
    with ThreadPoolExecutor(2) as pool:
        again = list(pool.map(lambda _: documents(), range(2)))
    drawn, replayed = [], []
    with monkeypatch.context() as m:  # once more, counting what is drawn anew
        m.setattr(Paragraph, "draw", lambda self, d=Paragraph.draw: drawn.append(1) or d(self))
        m.setattr(pdf._Text, "draw", lambda self, d=pdf._Text.draw: replayed.append(1) or d(self))
        warm = documents()
    with monkeypatch.context() as m:
        m.setattr(pdf, "_Text", Paragraph)
        plain = documents()
    assert fast == plain and again == [plain, plain] and warm == plain
    assert pdf._parsed.cache_info().hits > 0
    # From the warm caches, nearly every paragraph's operators are replayed, not drawn.
    assert len(replayed) > 500 and len(drawn) < len(replayed) / 10


def test_pdf_drawn_with_reportlabs_c_functions() -> None:
    """rl-accel (a dependency) loaded: without it reportlab falls back to Python versions of
    its text widths and number formatting, the same bytes at about 1.7 times the CPU."""
    from reportlab.lib import rl_accel

    assert {"fp_str", "instanceStringWidthT1", "unicode2T1"} <= set(rl_accel._c_funcs)
