"""Bad input on the HTTP API: schemathesis fuzzes every operation of /api/v1/openapi.json.

Checks: no 5xx, responses (status, content type, body) conform to the OpenAPI file, and every
4xx is the French JSON error `{"erreur", "statut"}`. Bounded and derandomised: the same cases
on every run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.api.openapi import openapi_document

# Werkzeug's and Flask's English defaults, which must never reach an API client.
ENGLISH = ("The requested URL", "Bad Request", "Not Found", "Internal Server Error", "browser")
FRENCH_MARKS = ("é", "è", "à", "«", "ç", "ê", "inconnu", "requis", "invalide", "Paramètre")


@pytest.fixture(scope="module")
def api_schema(request):
    from dashboard.app import create_app

    # conftest's `settings` fixture, by name: hypothesis.settings is imported here; no rate
    # limit (hundreds of cases from one address), tested in test_serving.py
    unlimited = replace(request.getfixturevalue("settings"), rate_limit=None)
    server = create_app(unlimited).server
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", server)


def french_error(ctx, response, case) -> None:
    """A 4xx answers JSON {"erreur": <French message>, "statut": <the code>}."""
    if not 400 <= response.status_code < 500:
        return None
    assert "json" in response.headers.get("content-type", [""])[0], "erreur non JSON"
    body = json.loads(response.content)
    assert set(body) >= {"erreur", "statut"}, f"clés inattendues : {sorted(body)}"
    assert body["statut"] == response.status_code
    message = body["erreur"]
    assert isinstance(message, str) and message.strip(), "message vide"
    assert not any(e in message for e in ENGLISH), f"message anglais : {message}"
    assert any(m in message for m in FRENCH_MARKS), f"message pas en français : {message}"
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    french_error,
]


# Every documented operation, from the document itself: a new route is fuzzed once described.
OPERATIONS = sorted(openapi_document()["paths"])
NO_PARAMETERS = {"/api/v1/catalog", "/api/v1/openapi.json", "/healthz"}  # nothing to negate


# pytest 9 breaks schemathesis' lazy fixture loader: one hypothesis test per operation instead.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", OPERATIONS)
def test_api_fuzz(api_schema, path: str, mode: GenerationMode) -> None:
    if mode is GenerationMode.NEGATIVE and path in NO_PARAMETERS:
        pytest.skip("pas de paramètre à rendre invalide")
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        # The WSGI client does not decode brotli/gzip: ask for the plain body.
        case.call_and_validate(checks=CHECKS, headers={"Accept-Encoding": "identity"})

    fuzz()


@pytest.fixture(scope="module")
def client(request):
    from dashboard.app import create_app

    unlimited = replace(request.getfixturevalue("settings"), rate_limit=None)
    return create_app(unlimited).server.test_client()


# Digits that str.isdigit() accepts but int() refuses ("²", "①"), and other Unicode digits: the
# generators above rarely produce them; they once made every integer parameter answer 500.
ODD_DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4)
INTEGER_PARAMS = [
    "/api/v1/data?indicator=allocataires&level=departement&limit=",
    "/api/v1/data?indicator=allocataires&level=departement&offset=",
    "/api/v1/facilities?commune=69123&limit=",
]


@pytest.mark.parametrize("url", INTEGER_PARAMS)
def test_integer_parameters_refuse_odd_digits(client, url: str) -> None:
    @given(text=ODD_DIGITS)
    @settings(max_examples=30, deadline=None, derandomize=True, database=None)
    def check(text: str) -> None:
        resp = client.get(url + quote(text))
        assert resp.status_code in (200, 400), (text, resp.status_code)
        if resp.status_code == 400:
            assert "invalide" in resp.get_json()["erreur"]

    check()
    assert client.get(url + quote("²")).status_code == 400
