"""The territory profile: key figures, context, rank in the EPCI, neighbours, figures and PDF.

Checked against the store cells directly (recomputed here, not through the profile code), on
real communes of the test cut: Lyon, Villeurbanne and a small commune of Rhône whose key
figures are secret.
"""

from __future__ import annotations

import base64
import math
import re
import zlib

import flask
import pytest

from dashboard.api import exports
from layers.appdata import AppData, init_app
from layers.catalogue import BY_ID
from layers.profile import (
    BENEFITS,
    composition_figure,
    neighbours_figure,
    profile,
    series_figure,
)
from layers.profile_pdf import profile_pdf
from layers.store import PUBLISHED, SECRET
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
def profiles(data, secret_code) -> dict[str, dict]:
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


def test_identity_and_key_figures_match_the_store(data, profiles) -> None:
    index, info = data
    prof = profiles[LYON]
    ident = prof["identite"]
    assert ident["nom"] == "Lyon" and ident["code"] == LYON
    assert {p["niveau"]: p["code"] for p in ident["parents"]}["epci"] == "200046977"
    assert ident["population"] == index.get("commune", LYON).population
    assert "69001" in ident["codes_postaux"]
    key = prof["chiffres_cles"]
    latest = info.store.periods("allocataires", "commune")[-1]
    assert key["periode"] == latest == prof["periode"]
    for ident_ in ("allocataires", "personnes_couvertes", "taux_personnes_couvertes"):
        v, s = _cell(info.store, ident_, "commune", LYON, latest)
        assert (key[ident_]["valeur"], key[ident_]["statut"]) == (v, s) and s == PUBLISHED
    total = key["allocataires"]["valeur"]
    shares = [c["part"] for c in key["composition"]]
    assert [c["indicateur"] for c in key["composition"]] == [
        "isoles",
        "monoparentales",
        "couples_sans_enfant",
        "couples_avec_enfants",
    ]
    for c in key["composition"]:
        v, _ = _cell(info.store, c["indicateur"], "commune", LYON, latest)
        assert c["valeur"] == v and c["part"] == pytest.approx(v / total * 100)
    assert sum(shares) == pytest.approx(100, abs=0.5)  # the demo's breakdown adds up
    benefits = key["prestations"]
    assert {b["indicateur"] for b in benefits} <= set(BENEFITS)
    values = [b["valeur"] for b in benefits if b["statut"] == PUBLISHED]
    assert values == sorted(values, reverse=True) and len(values) >= 10
    assert "\u202f" in key["allocataires"]["texte"]  # French thousands separator


def test_secrets_stay_none_and_go_last(profiles, secret_code) -> None:
    key = profiles[secret_code]["chiffres_cles"]
    alloc = key["allocataires"]
    assert alloc["statut"] == SECRET and alloc["valeur"] is None and alloc["texte"] == "secret"
    statuses = [b["statut"] for b in key["prestations"]]
    # secrets after every published benefit, never as 0
    assert statuses == sorted(statuses, key=lambda s: s != PUBLISHED)
    for b in key["prestations"]:
        assert (b["valeur"] is None) == (b["statut"] != PUBLISHED)
    for c in key["composition"]:  # no share without a published total
        assert c["part"] is None
    row = next(
        r
        for t in profiles[secret_code]["themes"]
        for r in t["indicateurs"]
        if r["indicateur"] == "allocataires"
    )
    assert row["valeur"] is None and row["statut"] == SECRET and row["rang_epci"] is None


def test_context_equals_the_store_cells(data, profiles) -> None:
    _, info = data
    prof = profiles[VILLEURBANNE]
    refs = {r["niveau"]: r["code"] for r in prof["references"]}
    assert refs == {"epci": "200046977", "departement": "69", "region": "84", "france": "FR"}
    themes = {t["theme"] for t in prof["themes"]}
    assert {"Données socio-démographiques", "Logement", "Solidarité et insertion"} <= themes
    checked = 0
    for theme in prof["themes"]:
        for row in theme["indicateurs"]:
            periode = row["periode"]
            assert periode == info.store.periods(row["indicateur"], "commune")[-1]
            v, s = _cell(info.store, row["indicateur"], "commune", VILLEURBANNE, periode)
            assert (row["valeur"], row["statut"]) == (v, s)
            for ref in row["references"]:
                # references at the commune's own (annual) period, although they are quarterly
                assert ref["periode"] == periode
                assert (ref["valeur"], ref["statut"]) == _cell(
                    info.store, row["indicateur"], ref["niveau"], ref["code"], periode
                )
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("code", [LYON, VILLEURBANNE])
def test_rank_within_the_epci(data, profiles, code) -> None:
    index, info = data
    table = index.table("commune")
    epci = table.loc[table["code"] == code, "epci"].iloc[0]
    members = set(table.loc[table["epci"] == epci, "code"])
    for theme in profiles[code]["themes"]:
        for row in theme["indicateurs"]:
            cells = info.store.layer(row["indicateur"], "commune", row["periode"])
            cells = cells[cells["code"].isin(members) & (cells["statut"] == PUBLISHED)]
            own = cells.loc[cells["code"] == code, "valeur"]
            if own.empty:
                assert row["rang_epci"] is None
                continue
            expected = 1 + int((cells["valeur"] > own.iloc[0]).sum())
            rk = row["rang_epci"]
            assert (rk["rang"], rk["sur"]) == (expected, len(cells))
            assert rk["texte"] == f"{expected} sur {len(cells)}"


def test_evolution_is_first_to_latest_published(data, profiles) -> None:
    _, info = data
    row = next(
        r
        for t in profiles[LYON]["themes"]
        for r in t["indicateurs"]
        if r["indicateur"] == "allocataires"
    )
    series = info.store.series("allocataires", "commune", LYON)
    pub = series[series["statut"] == PUBLISHED]
    evo = row["evolution"]
    assert evo["debut"]["valeur"] == pub["valeur"].iloc[0]
    assert evo["fin"]["valeur"] == pub["valeur"].iloc[-1]
    assert evo["ecart"] == pytest.approx(pub["valeur"].iloc[-1] - pub["valeur"].iloc[0])
    rate = next(
        r
        for t in profiles[LYON]["themes"]
        for r in t["indicateurs"]
        if r["indicateur"] == "part_aides_logement"
    )
    assert "point" in rate["evolution"]["texte"] and rate["evolution"]["ecart_pct"] is None


@pytest.mark.parametrize("code", [LYON, "secret"])
def test_neighbours_are_the_index_neighbours_sorted(data, profiles, secret_code, code) -> None:
    index, info = data
    code = secret_code if code == "secret" else code
    vois = profiles[code]["voisins"]
    assert vois["indicateur"] == "part_aides_logement"
    rows = vois["lignes"]
    assert {r["code"] for r in rows} == {code, *index.neighbours("commune", code)}
    assert [r["code"] for r in rows if r["territoire"]] == [code]
    values = [r["valeur"] for r in rows if r["valeur"] is not None]
    assert values == sorted(values, reverse=True)
    hidden = [r for r in rows if r["statut"] != PUBLISHED]
    assert all(r["valeur"] is None for r in hidden)
    assert rows[len(rows) - len(hidden) :] == hidden  # hidden cells last
    for r in rows:
        assert (r["valeur"], r["statut"]) == _cell(
            info.store, "part_aides_logement", "commune", r["code"], vois["periode"]
        )


def test_figures_keep_secrets_as_gaps(data, profiles, secret_code) -> None:
    index, info = data
    vois = profiles[secret_code]["voisins"]
    own = next(r for r in vois["lignes"] if r["territoire"])
    fig = neighbours_figure(vois, secret_code)
    bar = fig.data[0]
    assert fig.layout.separators == ", "
    pos = [i for i, y in enumerate(bar.y) if "(territoire)" in y]
    assert len(pos) == 1 and bar.marker.pattern.shape[pos[0]] == "/"  # not colour alone
    if own["statut"] == SECRET:
        assert bar.x[pos[0]] is None
        assert any(a.text == "secret" for a in fig.layout.annotations)
    assert 0 not in [
        x for x, r in zip(bar.x, vois["lignes"], strict=True) if r["statut"] != PUBLISHED
    ]

    ind = BY_ID["allocataires"]
    df = series_with_references(info.store, index, ind, "commune", secret_code)
    fig = series_figure(df, ind)
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

    comp = composition_figure(profiles[secret_code])
    assert all(x is None for x in comp.data[0].x)  # total secret: no share at all


def _pdf_text(pdf: bytes) -> list[str]:
    """The strings drawn in a reportlab PDF (standard fonts), in drawing order."""
    try:
        from pypdf import PdfReader
    except ImportError:
        PdfReader = None  # noqa: N806
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
    name = profiles[secret_code]["identite"]["nom"]
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
    assert prof["periode"] == info.store.periods("allocataires", "departement")[-1]
    assert [r["niveau"] for r in prof["references"]] == ["region", "france"]
    assert all(r["rang_epci"] is None for t in prof["themes"] for r in t["indicateurs"])
    assert prof["avertissement"] is None
    text = "\n".join(_pdf_text(profile_pdf(prof, compress=False)))
    assert "Fiche territoire : Rhône (69)" in text and "démonstration" not in text
    epci = profile(info.store, index, "epci", "200046977")
    assert epci["voisins"] and epci["voisins"]["lignes"][0]["valeur"] is not None
    assert not math.isnan(epci["chiffres_cles"]["allocataires"]["valeur"])
