"""The map page's answer kept per worker (dashboard/server/page_answers.py): the same bytes as
Dash makes, in every coding; made again for another URL or another build; profile pages and
forged requests never answered from it."""

from __future__ import annotations

import brotli
import pytest
from dash_support import page_request

from dashboard.pages import embed, explore, profile
from dashboard.server import page_answers
from dashboard.server.page_answers import PageAnswers

UPDATE = "/_dash-update-component"


@pytest.fixture
def counted(settings, monkeypatch: pytest.MonkeyPatch):
    """A fresh app, and how many times the map and profile layouts were made."""
    from dashboard.app import create_app

    made = {"carte": 0, "fiche": 0}
    map_layout, profile_layout = explore.explore_layout, profile.profile_layout

    def count_map(*args, **kwargs):
        made["carte"] += 1
        return map_layout(*args, **kwargs)

    def count_profile(*args, **kwargs):
        made["fiche"] += 1
        return profile_layout(*args, **kwargs)

    monkeypatch.setattr(explore, "explore_layout", count_map)
    monkeypatch.setattr(embed, "explore_layout", count_map)
    monkeypatch.setattr(profile, "profile_layout", count_profile)
    client = create_app(settings).server.test_client()
    # The first update makes every page's layout once (the checks of dash_requests).
    assert client.post(UPDATE, json=page_request("/territoire/region/84")).status_code == 200
    made.update(carte=0, fiche=0)
    return client, made


def test_a_kept_page_is_the_bytes_dash_made_in_every_coding(counted) -> None:
    client, made = counted
    body = page_request("/", "?niveau=departement&indicateur=allocataires")
    plain = client.post(UPDATE, json=body, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and made["carte"] == 1
    for _ in range(2):
        again = client.post(UPDATE, json=body, headers={"Accept-Encoding": "identity"})
        assert again.data == plain.data and "Content-Encoding" not in again.headers
        br = client.post(UPDATE, json=body, headers={"Accept-Encoding": "gzip, br"})
        assert br.headers["Content-Encoding"] == "br"
        assert brotli.decompress(br.data) == plain.data
        assert "Accept-Encoding" in br.headers["Vary"]
    assert made["carte"] == 1
    assert b"cc-page" in plain.data


def test_another_url_or_build_makes_the_page_again(counted, monkeypatch) -> None:
    client, made = counted
    client.post(UPDATE, json=page_request("/", "?niveau=region"))
    client.post(UPDATE, json=page_request("/", "?niveau=region"))
    assert made["carte"] == 1
    other = client.post(UPDATE, json=page_request("/", "?niveau=epci"))
    assert made["carte"] == 2 and b"epci" in other.data
    client.post(UPDATE, json=page_request("/embed", "?niveau=region"))
    assert made["carte"] == 3
    stamp = page_answers.builds_stamp
    monkeypatch.setattr(page_answers, "builds_stamp", lambda s: stamp(s) + "|nouveau")
    client.post(UPDATE, json=page_request("/", "?niveau=region"))
    assert made["carte"] == 4


def test_profile_pages_and_forged_requests_are_not_answered_from_it(counted, settings) -> None:
    client, made = counted
    for _ in range(2):
        resp = client.post(UPDATE, json=page_request("/territoire/departement/69"))
        assert resp.status_code == 200
    assert made["fiche"] == 2
    client.post(UPDATE, json=page_request("/"))
    forged = page_request("/")
    forged["inputs"][1]["value"] = {"niveau": "region"}  # a dict where the search string goes
    resp = client.post(UPDATE, json=forged)
    assert resp.status_code == 400 and "refusée" in resp.get_data(as_text=True)


def test_kept_answers_are_bounded_oldest_out() -> None:
    kept = PageAnswers(size=2)
    for key in ("a", "b", "c"):
        kept.put(key, key.encode() * 100)
    assert kept.get("a", None) is None
    assert kept.get("b", None) == b"b" * 100
    assert brotli.decompress(kept.get("c", "br")) == b"c" * 100
