"""What users do, in real Chromium: click through to a profile, compare with neighbours, find
crèches nearby, export CSV and PNG, copy a URL and get the same view, survive a forged URL."""

from __future__ import annotations

import base64
import csv
import io
import urllib.request

import pytest
from browser_support import wait_for
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser

LYON = (4.8297, 45.7573)


def _rendered(driver, niveau: str, indicateur: str | None = None) -> bool:
    return driver.execute_script(
        "const t = window.cafmap && window.cafmap.state.lastTiming;"
        "return !!(t && window.cafmap.state.confirmed && t.niveau === arguments[0]"
        " && (!arguments[1] || t.indicateur === arguments[1]))",
        niveau,
        indicateur,
    )


def _payload(driver) -> dict:
    return driver.execute_script(
        "const s = window.cafmap.state; return s.levels[s.current.niveau].payload;"
    )


def _open(driver, url: str, niveau: str, indicateur: str | None = None) -> None:
    driver.get(url)
    wait_for(lambda: _rendered(driver, niveau, indicateur), timeout=60)


def _point_on_map(driver, lon: float, lat: float, zoom: float = 10) -> tuple[int, int]:
    offset = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const map = window.cafmap.map;
        map.jumpTo({center: [arguments[0], arguments[1]], zoom: arguments[2]});
        map.once('idle', () => {
          const p = map.project([arguments[0], arguments[1]]);
          const c = map.getCanvas();
          done([p.x - c.clientWidth / 2, p.y - c.clientHeight / 2]);
        });
        """,
        lon,
        lat,
        zoom,
    )
    return int(offset[0]), int(offset[1])


# The features drawn under a pixel: their ids and the property names their tiles carry.
FEATURES_AT_JS = """
const map = window.cafmap.map, c = map.getCanvas();
const p = [c.clientWidth / 2 + arguments[0], c.clientHeight / 2 + arguments[1]];
return map.queryRenderedFeatures(p, {layers: ['fill-commune']})
  .map(f => [f.id, Object.keys(f.properties)]);
"""


def test_click_a_commune_see_its_series_then_its_profile(live_app, browser) -> None:
    _open(browser, live_app.url + "/?niveau=commune&indicateur=allocataires", "commune")
    dx, dy = _point_on_map(browser, *LYON)
    # The tiles carry feature ids only (no code, no name): the tooltip and the click take
    # them from the level's names by id.
    under = browser.execute_script(FEATURES_AT_JS, dx, dy)
    assert len(under) == 1 and under[0][1] == [], under
    canvas = browser.find_element(By.CSS_SELECTOR, "#cafmap canvas.maplibregl-canvas")
    ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).perform()
    tooltip = browser.find_element(By.ID, "cafmap-tooltip")
    wait_for(lambda: tooltip.is_displayed() and "69123" in tooltip.text, timeout=10)
    assert tooltip.text.startswith("Lyon\n69123\nFoyers allocataires : "), tooltip.text
    ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).click().perform()
    title = browser.find_element(By.ID, "selection-titre")
    wait_for(lambda: "Lyon" in title.text, timeout=20)
    assert "territoire=commune%3A69123" in browser.current_url
    # The series beside its references: one line each, secrets as gaps, never 0.
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#graphe-serie .scatterlayer .trace"))
    traces = browser.find_elements(By.CSS_SELECTOR, "#graphe-serie .scatterlayer .trace")
    assert len(traces) >= 4  # Lyon, its EPCI, Rhône, Auvergne-Rhône-Alpes, France
    browser.find_element(By.ID, "lien-fiche").click()
    heading = wait_for(lambda: browser.find_elements(By.ID, "fiche-titre"), timeout=30)
    assert heading[0].text == "Fiche territoire : Lyon"
    assert browser.current_url.endswith("/territoire/commune/69123")
    assert "Fiche territoire" in browser.title
    cards = browser.find_element(By.CSS_SELECTOR, ".cc-cards").text
    assert "Foyers allocataires" in cards and "foyers" in cards

    # Neighbours: a sorted bar chart with Lyon highlighted, Villeurbanne among them.
    bars = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#graphe-voisins .ytick"))
    labels = [b.text for b in bars]
    assert any("Villeurbanne" in t for t in labels)
    assert any("Lyon" in t and "territoire" in t for t in labels)

    # Crèches and LAEP in Lyon and its neighbours, nearest first.
    rows = wait_for(
        lambda: browser.find_elements(
            By.CSS_SELECTOR, "#equipements-table tbody tr td[data-dash-column='distance']"
        ),
        timeout=20,
    )
    distances = [float(r.text.replace(",", ".")) for r in rows]
    assert distances and distances == sorted(distances)


def test_compare_with_another_territory(live_app, browser) -> None:
    browser.get(live_app.url + "/territoire/commune/69266")
    wait_for(lambda: browser.find_elements(By.ID, "fiche-titre"), timeout=30)
    # Dash 4's dropdown: the button opens a popover whose search box takes the focus.
    # (the dropdown's code loads asynchronously, after the page)
    wait_for(lambda: browser.find_elements(By.ID, "comparer"), timeout=20)[0].click()
    wait_for(lambda: browser.find_element(By.ID, "comparer").get_attribute("data-state") == "open")
    browser.switch_to.active_element.send_keys("perpignan")
    xpath = "//span[text()='Perpignan (commune 66136)']"
    option = wait_for(lambda: browser.find_elements(By.XPATH, xpath), timeout=20)
    option[0].click()
    wait_for(
        lambda: "Perpignan" in browser.find_element(By.ID, "table-comparaison").text, timeout=20
    )
    text = browser.find_element(By.ID, "table-comparaison").text
    assert "Villeurbanne" in text and "Part des allocataires percevant le RSA" in text


def test_export_csv_and_png_of_the_view(live_app, browser) -> None:
    url = live_app.url + "/?niveau=commune&indicateur=rsa&filtre=departement%3A66"
    _open(browser, url, "commune", "rsa")
    href = wait_for(
        lambda: (
            (browser.find_element(By.ID, "export-csv").get_attribute("href") or "").count(
                "format=csv"
            )
            and browser.find_element(By.ID, "export-csv").get_attribute("href")
        )
    )
    assert "parent=departement%3A66" in href
    with urllib.request.urlopen(href) as resp:
        assert "attachment" in resp.headers["Content-Disposition"]
        text = resp.read().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert {"code", "nom", "valeur", "statut", "unite", "periode", "source"} <= set(rows[0])
    assert all(r["code"].startswith("66") for r in rows) and len(rows) > 200
    secret = [r for r in rows if r["statut"] == "secret"]
    assert secret and all(r["valeur"] == "" for r in secret)
    assert all(r["source"].startswith("Source : données de démonstration") for r in rows)
    assert all("démonstration" in r["avertissement"] for r in rows)

    # PNG: capture the download the button triggers (a data URL) and decode it.
    browser.execute_script(
        "window.__downloads = [];"
        "HTMLAnchorElement.prototype.click = function () {"
        "  window.__downloads.push([this.download, this.href]); };"
    )
    browser.find_element(By.ID, "export-png").click()
    name, data_url = wait_for(
        lambda: browser.execute_script(
            "return window.__downloads.length ? window.__downloads[0] : null"
        ),
        timeout=30,
    )
    assert name.endswith(".png") and "rsa_commune" in name
    png = base64.b64decode(data_url.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    width = int.from_bytes(png[16:20], "big")
    assert width > browser.execute_script("return window.cafmap.map.getCanvas().width")
    assert "Image exportée" in browser.find_element(By.ID, "export-status").text


def test_copied_url_restores_the_view(live_app, browser) -> None:
    url = (
        live_app.url + "/?indicateur=part_rsa&niveau=commune&periode=2022-12&palette=RdBu"
        "&classes=4&filtre=departement%3A69&vue=4.8%2C45.75%2C9.5"
    )
    _open(browser, url, "commune", "part_rsa")
    payload = _payload(browser)
    assert payload["periode"] == "2022-12" and payload["palette"] == "RdBu"
    assert len(payload["bornes"]) <= 5 and payload["reference"] is not None
    copied = browser.current_url
    for part in (
        "indicateur=part_rsa",
        "periode=2022-12",
        "palette=RdBu",
        "classes=4",
        "filtre=departement%3A69",
        "vue=",
    ):
        assert part in copied
    zoom = browser.execute_script("return window.cafmap.map.getZoom()")
    assert abs(zoom - 9.5) < 0.3
    browser.get("about:blank")
    _open(browser, copied, "commune", "part_rsa")
    again = _payload(browser)
    assert (again["periode"], again["palette"], again["bornes"]) == (
        payload["periode"],
        payload["palette"],
        payload["bornes"],
    )
    assert abs(browser.execute_script("return window.cafmap.map.getZoom()") - zoom) < 0.3


def test_forged_url_falls_back_with_a_notice(live_app, browser) -> None:
    url = (
        live_app.url + "/?indicateur=%3Cscript%3Ealert(1)%3C/script%3E&niveau=canton"
        "&periode=1999-99&classes=99&filtre=departement%3A99&equipements=piscine"
    )
    _open(browser, url, "departement")
    notice = browser.find_element(By.ID, "url-notice").text
    for name in ("indicateur", "niveau", "periode", "classes", "filtre", "equipements"):
        assert name in notice
    assert _payload(browser)["indicateur"] == "taux_personnes_couvertes"
    assert not browser.execute_script("return window.__xss === true")


def test_find_a_commune_by_postal_code_and_open_its_profile(live_app, browser) -> None:
    _open(browser, live_app.url + "/", "departement")
    wait_for(lambda: browser.find_elements(By.ID, "recherche-territoire"), timeout=20)[0].click()
    browser.switch_to.active_element.send_keys("20000")  # Ajaccio's postal code
    xpath = "//span[text()='Ajaccio (commune 2A004)']"
    wait_for(lambda: browser.find_elements(By.XPATH, xpath), timeout=20)[0].click()
    heading = wait_for(lambda: browser.find_elements(By.ID, "fiche-titre"), timeout=30)
    assert heading[0].text == "Fiche territoire : Ajaccio"
    assert browser.current_url.endswith("/territoire/commune/2A004")


def test_facilities_on_the_map_clustered_filtered_and_listed(live_app, browser) -> None:
    url = (
        live_app.url + "/?niveau=commune&indicateur=taux_couverture_eaje&territoire=commune%3A69123"
    )
    _open(browser, url, "commune")
    boxes = browser.find_elements(By.CSS_SELECTOR, "#carte-equipements input")
    labels = browser.find_element(By.ID, "carte-equipements").text
    assert "Micro-crèche" in labels and "Lieu d'accueil enfants-parents" in labels
    boxes[0].click()  # crèches collectives
    boxes[1].click()  # micro-crèches
    # Zoomed out, the points are clusters: buttons that say how many they hold.
    labels = wait_for(
        lambda: browser.execute_script(
            "return [...document.querySelectorAll('.cc-cluster')].map(e => e.ariaLabel)"
        ),
        timeout=30,
    )
    assert all(label.endswith(" équipements : zoomer ici") for label in labels)
    with urllib.request.urlopen(
        live_app.url + "/api/v1/facilities?commune=69123&near=1"
        "&type=creche_collective,micro_creche&limit=500"
    ) as resp:
        api = __import__("json").load(resp)
    wait_for(lambda: browser.execute_script("return window.cafequip.shown()") > api["total"])
    # Shared with the rest of the view: the URL says which types are shown, and restores them.
    wait_for(lambda: "equipements=creche_collective%2Cmicro_creche" in browser.current_url)
    _open(browser, browser.current_url, "commune")
    checked = browser.execute_script(
        "return [...document.querySelectorAll("
        "'#carte-equipements input:checked')].map(i => i.value)"
    )
    assert checked == ["creche_collective", "micro_creche"]

    # The list below the map: Lyon and its neighbours, only the ticked types, nearest first.
    heading = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#equipements-liste h2"))
    wait_for(lambda: "Lyon et des communes voisines" in heading[0].text, timeout=20)
    assert f"({api['total']})" in heading[0].text
    types = {
        c.text
        for c in browser.find_elements(
            By.CSS_SELECTOR, "#equipements-liste td[data-dash-column='type']"
        )
    }
    assert types <= {"Crèche collective", "Micro-crèche"} and types
    cells = browser.find_elements(
        By.CSS_SELECTOR, "#equipements-liste td[data-dash-column='distance']"
    )
    distances = [float(c.text.replace(",", ".")) for c in cells]
    assert distances == sorted(distances)
    assert "Taux de couverture en EAJE" in browser.find_element(By.ID, "equipements-liste").text

    # Zoomed in on the nearest one, a click on its point opens its details.
    first = api["facilities"][0]
    dx, dy = _point_on_map(browser, first["lon"], first["lat"], zoom=14.5)
    canvas = browser.find_element(By.CSS_SELECTOR, "#cafmap canvas.maplibregl-canvas")
    ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).click().perform()
    popup = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".cc-equip-popup"))
    assert first["name"] in popup[0].text and "Type : " in popup[0].text
    # Unticking every type removes the points and the list.
    for box in browser.find_elements(By.CSS_SELECTOR, "#carte-equipements input")[:2]:
        box.click()
    wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, ".cc-cluster"))
    # The list's callback may answer after the map has dropped the points (a loaded machine).
    wait_for(lambda: not browser.find_element(By.ID, "equipements-liste").is_displayed())


def test_long_exports_run_in_the_background_with_progress(live_app, browser) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    url = live_app.url + "/?niveau=commune&indicateur=rsa&filtre=epci%3A242010056"
    _open(browser, url, "commune", "rsa")
    browser.execute_script(
        "window.__downloads = [];"
        "HTMLAnchorElement.prototype.click = function () {"
        "  window.__downloads.push([this.download, this.href]); };"
    )
    atlas = browser.find_element(By.ID, "export-atlas")
    browser.execute_script("arguments[0].scrollIntoView()", atlas)
    atlas.click()
    # The job shows its progress and can be cancelled; the buttons wait for it.
    wait_for(lambda: browser.find_element(By.ID, "export-progression-bloc").is_displayed())
    assert browser.find_element(By.ID, "export-annuler").is_displayed()
    assert not browser.find_element(By.ID, "export-xlsx").is_enabled()
    # Meanwhile the page stays usable: the map switches level.
    browser.execute_script("document.querySelector('#niveau input[value=\"epci\"]').click()")
    wait_for(lambda: _rendered(browser, "epci", "rsa"), timeout=30)
    name, href = wait_for(
        lambda: browser.execute_script(
            "return window.__downloads.length ? window.__downloads[0] : null"
        ),
        timeout=90,
    )
    assert name == "atlas_epci_242010056.pdf"
    assert "Atlas PDF prêt" in browser.find_element(By.ID, "export-job-statut").text
    assert not browser.find_element(By.ID, "export-progression-bloc").is_displayed()
    with urllib.request.urlopen(href) as resp:
        pages = PdfReader(io.BytesIO(resp.read())).pages
    text = "\n".join(p.extract_text() for p in pages)
    assert "Ajaccio" in text and text.count("Fiche territoire : ") == 11  # EPCI + 10 communes

    # Excel of the view (EPCI level now, whole cut): every row, secrets kept, source line.
    browser.find_element(By.ID, "export-xlsx").click()
    name, href = wait_for(
        lambda: browser.execute_script("return window.__downloads[1] || null"), timeout=60
    )
    assert name.startswith("cafdata_rsa_epci_") and name.endswith(".xlsx")
    with urllib.request.urlopen(href) as resp:
        sheet = load_workbook(io.BytesIO(resp.read()))["donnees"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[:2] == ("code", "nom") and all(
        r[9].startswith("Source : données de démonstration") for r in rows[1:]
    )
    assert len(rows) - 1 == int(
        browser.execute_script(
            "const p = window.cafmap.state.levels.epci.payload;"
            "return p.legende.reduce((n, r) => n + r.effectif, 0)"
        )
    )
