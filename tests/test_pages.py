"""Pages and callbacks of several apps in one process: each has every callback (Dash keeps
module-level ones in process-wide lists) and each page reads the data of the app serving it
(Dash pages keeps one process-wide registry)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest
from dash_support import page_request

from dashboard.pages import embed, explore, profile
from dashboard.pages.explore import NO_STORE

PANEL_TOGGLE_JS = "document.body.classList.toggle('cc-panel-open'"


@pytest.fixture(scope="module")
def apps(settings, tmp_path_factory):
    """An app on the test data, then one on an empty cache, created after it."""
    from dashboard.app import create_app

    built = create_app(settings)
    built.server.test_client().get("/_dash-dependencies")  # serves first: Dash starts it
    empty = create_app(replace(settings, cache=tmp_path_factory.mktemp("vide")))
    return built, empty


def _outputs(app) -> set[str]:
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    return {d["output"] for d in deps}


def _page(app, path: str, search: str = "") -> str:
    """The page content the router callback sends for a URL (as the browser asks it)."""
    body = page_request(path, search)
    resp = app.server.test_client().post("/_dash-update-component", json=body)
    assert resp.status_code == 200
    return json.dumps(resp.get_json(), ensure_ascii=False)


def _stores(page) -> dict:
    return {c.id: getattr(c, "data", None) for c in page.children if type(c).__name__ == "Store"}


def test_every_app_of_the_process_has_every_callback(apps) -> None:
    built, empty = apps
    outputs = _outputs(built)
    assert outputs == _outputs(empty)
    for output in (
        "..map-spec.data...export-csv.href...export-geojson.href..",
        "..export-fichier.data...export-job-statut.children..",
        "export-annuler.id",  # the background export's cancel callback, made per app
        "comparaison.children",
        "zone-applied.data",
    ):
        assert output in outputs
    for app in apps:  # the inline clientside function is served by each app
        assert PANEL_TOGGLE_JS in app.server.test_client().get("/").get_data(as_text=True)


def test_each_app_serves_pages_from_its_own_data(apps) -> None:
    built, empty = apps
    assert "Rhône (département 69)" in _page(built, "/")  # the filter's territories
    assert NO_STORE not in _page(built, "/")
    assert NO_STORE in _page(empty, "/")
    assert "Fiche territoire : Lyon" in _page(built, "/territoire/commune/69123")
    assert "Les données ne sont pas construites" in _page(empty, "/territoire/commune/69123")


def test_profile_title_names_the_territory_of_the_app_serving_it(apps) -> None:
    built, empty = apps
    with built.server.test_request_context("/territoire/commune/69123"):
        assert (
            profile.title("commune", "69123") == "Fiche territoire : Lyon (commune) – Cafdata Carto"
        )
        assert profile.title("pays", "x" * 40) == f"Fiche territoire : {'x' * 20} – Cafdata Carto"
    with empty.server.test_request_context("/territoire/commune/69123"):
        assert profile.title("commune", "69123").startswith("Fiche territoire : 69123 (commune)")
    page = built.server.test_client().get("/territoire/commune/69123").get_data(as_text=True)
    assert 'content="Fiche territoire : Lyon (commune) – Cafdata Carto"' in page


def test_the_page_callback_titles_the_map_with_its_view(apps) -> None:
    """Dash pages sets `document.title` from its page callback, with the path variables only:
    the map's view (in the query string) must name it there too, not the generic title that
    replaced the HTML's until cafmap.js named the view again."""
    built, _ = apps
    for path in ("/", "/embed"):
        answer = json.loads(_page(built, path, "?niveau=commune&indicateur=rsa"))
        named = answer["response"]["_pages_store"]["data"]["title"]
        assert named == "Bénéficiaires du revenu de solidarité active (RSA) par commune – " + (
            "Cafdata Carto"
        )
    plain = json.loads(_page(built, "/"))["response"]["_pages_store"]["data"]["title"]
    assert plain == "Carte des indicateurs – Cafdata Carto"
    forged = json.loads(_page(built, "/", "?indicateur=%3Cb%3E&niveau=x"))
    assert forged["response"]["_pages_store"]["data"]["title"] == plain
    # outside a callback (the HTML's meta tags, in a new thread: no callback context at all)
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(explore.title()))
    worker.start()
    worker.join()
    assert done == [plain]


def test_explore_layout_from_the_url_with_a_french_notice_for_what_it_drops(apps) -> None:
    built, _ = apps
    with built.server.test_request_context("/"):
        page = explore.layout(indicateur="rsa", niveau="commune", vue="ici", classes="12")
        notice = page.children[0]
        assert notice.id == "url-notice" and notice.children.endswith(": classes, vue.")
        assert page.className == "cc-page"
        assert _stores(page)["etat-initial"] == {"vue": "", "territoire": ""}
        framed = embed.layout(indicateur="rsa", territoire="commune:69123")
        assert framed.className == "cc-page cc-embed"
        assert _stores(framed)["selection-territoire"] == "commune:69123"


def test_query_parameters_named_like_arguments_are_just_ignored(apps) -> None:
    built, _ = apps
    with built.server.test_request_context("/"):
        # Passed by Dash pages as keywords: they neither embed the page nor replace its data.
        page = explore.layout(embed="1", data="x", query="y")
        assert page.className == "cc-page" and "url-notice" not in str(page)
        fiche = profile.layout(niveau="commune", code="69123", data="x")
        assert "cc-profile" in fiche.className
