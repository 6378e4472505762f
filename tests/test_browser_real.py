"""A real store in the browser: the legend names the portal dataset and the rounding, no
demonstration banner; a screenshot is saved for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_support import LiveServer, hover_lyon, wait_for
from real_store_support import real_settings
from selenium.webdriver.common.by import By

from layers.catalogue import activate

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("CAFCARTO_SCREENSHOTS", "/tmp"))


@pytest.fixture(scope="module")
def real_app(settings, tmp_path_factory):
    from dashboard.app import create_app

    real = real_settings(settings, tmp_path_factory.mktemp("reel-navigateur"))
    with LiveServer(create_app(real).server) as server:
        yield server
    activate(None)


def _legend_text(browser) -> str:
    found = browser.find_elements(By.ID, "cafmap-legend")
    return found[0].text if found else ""


def test_real_store_map_legend_says_source_and_rounding(real_app, browser) -> None:
    browser.get(real_app.url + "/?indicateur=indnbp_ndural&niveau=commune&periode=2024-12")
    wait_for(lambda: "s_ben_com_f" in _legend_text(browser), timeout=60)
    text = _legend_text(browser)
    assert "Personnes couvertes par les aides au logement" in text
    assert "Source : Cnaf, data.caf.fr, jeu s_ben_com_f, mis à jour le 16/01/2026" in text
    assert "arrondies à 5" in text and "un 0 signifie" in text
    assert not browser.find_elements(By.ID, "bandeau-demo")
    assert "Données de démonstration" not in text
    browser.save_screenshot(str(SHOTS / "cafcarto-carte-reelle.png"))


def test_suppressed_year_legend_says_blanks_are_secret(real_app, browser) -> None:
    browser.get(real_app.url + "/?indicateur=rsa&niveau=commune&periode=2019-12")
    wait_for(lambda: "jeu s_ben_com," in _legend_text(browser), timeout=60)
    text = _legend_text(browser)
    assert "Secret statistique : une case vide cache moins de 5 foyers" in text
    assert "arrondies" not in text
    browser.save_screenshot(str(SHOTS / "cafcarto-carte-reelle-supprime.png"))


def test_tooltip_marks_an_approximate_rate(real_app, browser) -> None:
    browser.get(real_app.url + "/?indicateur=part_rsa&niveau=commune&periode=2024-12")
    wait_for(lambda: "≈" in _legend_text(browser), timeout=60)
    # Hover Lyon (its rate is computed from rounded counts over a large denominator).
    text = hover_lyon(browser)
    assert "Part des allocataires percevant le RSA : ≈ " in text
    assert "Valeur approximative" in text
    browser.save_screenshot(str(SHOTS / "cafcarto-infobulle-approx.png"))
