"""The scale-out topology of docs/deploy.md, run for real (tests/topology.py): nginx with
deploy/nginx.conf in front of two `cafcarto serve --workers 2` instances sharing one build
cache, one Redis and one jobs folder, and a Celery worker. What must be shared is checked
through nginx: the rate limit of a client, the response cache, the builds served, the exports.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from topology import (
    APP_PLACEHOLDERS,
    BIND_PLACEHOLDER,
    DEPLOY,
    EXPORT_LIMIT,
    LISTEN_PLACEHOLDER,
    render_haproxy,
    render_site,
    request,
    start_export,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def _fences(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"```[a-z]*\n(.*?)```", text, re.S)]


@pytest.mark.parametrize("name", sorted(p.name for p in DEPLOY.iterdir()))
def test_the_deployment_guide_quotes_each_deploy_file_verbatim(name: str) -> None:
    # docs/deploy.md and the files the topology runs cannot drift apart.
    text = (DEPLOY / name).read_text()
    assert text in _fences(DOC.read_text()), f"docs/deploy.md ne cite pas deploy/{name} tel quel"


def test_the_nginx_site_is_rendered_on_loopback_ports_only_where_documented() -> None:
    site = (DEPLOY / "nginx.conf").read_text()
    rendered = render_site(site, [9001, 9002], 9000)
    assert "server 127.0.0.1:9001 " in rendered and "server 127.0.0.1:9002 " in rendered
    assert "listen 127.0.0.1:9000;" in rendered
    assert not any(p in rendered for p in (*APP_PLACEHOLDERS, LISTEN_PLACEHOLDER))
    # the rest of the file is untouched: keep-alive, pass-through of compressed bodies
    for line in ("keepalive 32;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";'):
        assert line in rendered
    assert "gzip off;" in rendered
    with pytest.raises(ValueError, match="emplacement"):
        render_site(site.replace(LISTEN_PLACEHOLDER, "listen 8080;"), [1, 2], 3)


def test_the_haproxy_config_is_rendered_on_loopback_ports_only_where_documented() -> None:
    cfg = (DEPLOY / "haproxy.cfg").read_text()
    rendered = render_haproxy(cfg, [9001, 9002], 9000)
    assert "server a 127.0.0.1:9001 check" in rendered
    assert "server b 127.0.0.1:9002 check" in rendered
    assert "bind 127.0.0.1:9000" in rendered
    assert not any(p in rendered for p in (*APP_PLACEHOLDERS, BIND_PLACEHOLDER))
    for line in ("option httpchk GET /healthz", "option forwardfor", "option redispatch 1"):
        assert line in rendered
    with pytest.raises(ValueError, match="emplacement"):
        render_haproxy(cfg.replace(BIND_PLACEHOLDER, "bind :443"), [1, 2], 3)


def test_haproxy_serves_both_instances_with_the_same_builds_and_their_compression(
    topology,
) -> None:
    answers = [request(topology.haproxy_base, p) for p in ["/", "/healthz", "/api/v1/catalog"] * 2]
    assert all(a.status == 200 for a in answers), [(a.status, a.body[:200]) for a in answers]
    assert len({a.headers["x-cafcarto-instance"] for a in answers}) == 2
    through_nginx = request(topology.base, "/healthz").headers["x-cafcarto-build"]
    assert {a.headers["x-cafcarto-build"] for a in answers} == {through_nginx}
    assert set(topology.haproxy_states().values()) == {"UP"}  # its /healthz checks pass
    # the client's address reaches the app through `option forwardfor` (CAFCARTO_PROXIES=1):
    # the export limit counts this address alone, across both hosts
    source = "127.0.0.31"
    statuses = [
        request(topology.haproxy_base, "/export/fichier/inconnu/x.xlsx", source=source).status
        for _ in range(EXPORT_LIMIT + 1)
    ]
    assert statuses == [404] * EXPORT_LIMIT + [429], statuses


def test_both_instances_answer_through_nginx_with_the_same_builds(topology) -> None:
    paths = ["/", "/healthz", "/_dash-layout", "/api/v1/catalog", "/api/v1/territories?q=lyon"]
    answers = [request(topology.base, p) for p in paths * 2]
    assert all(a.status == 200 for a in answers), [(a.status, a.body[:200]) for a in answers]
    instances = {a.headers["x-cafcarto-instance"] for a in answers}
    assert len(instances) == 2, instances  # round robin: both hosts served
    builds = {a.headers["x-cafcarto-build"] for a in answers}
    geometry = (topology.cache / "current").resolve().name
    assert builds == {f"{geometry}|{(topology.cache / 'demo' / 'current').resolve().name}|-"}
    # nginx passes the app's compressed bodies through (no re-compression, no gzip of its own)
    page = request(topology.base, "/api/v1/catalog")
    assert page.headers.get("content-encoding") is None  # the client asked for none


def test_a_response_cached_by_one_instance_is_served_by_the_other(topology) -> None:
    for key in topology.redis_client().scan_iter("cafcarto:reponse:*"):
        topology.redis_client().delete(key)
    path = "/api/v1/data?indicator=allocataires&level=departement"
    first = request(topology.app_urls[0], path)
    second = request(topology.app_urls[1], path)
    assert (first.status, second.status) == (200, 200)
    assert first.headers["x-cafcarto-cache"] == "miss"
    assert second.headers["x-cafcarto-cache"] == "hit"
    assert first.headers["x-cafcarto-instance"] != second.headers["x-cafcarto-instance"]
    assert second.body == first.body


def test_the_rate_limit_of_a_client_counts_across_both_instances(topology) -> None:
    # One client (its own loopback address, seen by the app through X-Forwarded-For) asks
    # an export route nginx spreads over both hosts: the limit is reached after EXPORT_LIMIT
    # answers in all, not EXPORT_LIMIT per host.
    answers = [
        request(topology.base, "/export/fichier/inconnu/x.xlsx", source="127.0.0.21")
        for _ in range(EXPORT_LIMIT + 1)
    ]
    statuses = [a.status for a in answers]
    assert statuses == [404] * EXPORT_LIMIT + [429], statuses
    assert len({a.headers["x-cafcarto-instance"] for a in answers[:EXPORT_LIMIT]}) == 2
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) > 0
    assert "Trop de requêtes" in refused.json()["erreur"]
    # another client is not counted with the first
    assert (
        request(topology.base, "/export/fichier/inconnu/x.xlsx", source="127.0.0.22").status == 404
    )


def test_an_export_started_through_one_instance_runs_on_celery_and_downloads_from_the_other(
    topology,
) -> None:
    from topology import poll_export

    state = {
        "indicateur": "allocataires",
        "niveau": "departement",
        "periode": "2025-06",
        "filtre": None,
    }
    a, b = topology.app_urls
    job, first = start_export(a, "xlsx", state, source="127.0.0.23")
    assert job is not None, (first.status, first.body[:300])
    done, seen = poll_export([b, a], job, source="127.0.0.23", timeout=60)
    assert done.status == 200, done.body[:300]
    outputs = done.json()["response"]
    url = outputs["export-fichier"]["data"]
    assert url.startswith("/export/fichier/") and url.endswith(".xlsx")
    assert "Classeur Excel prêt" in outputs["export-job-statut"]["children"]
    # started through one host, followed through the other (the first poll goes to b); the
    # file, written by the worker, downloaded through b too
    assert seen[0] != first.headers["x-cafcarto-instance"]
    got = request(b, url, source="127.0.0.23")
    assert got.status == 200 and got.body[:2] == b"PK"  # an .xlsx is a zip
    # it ran on the Celery worker: its result went through Redis, and the worker saw no error
    assert any(topology.redis_client().scan_iter("celery-task-meta-*"))
    assert "Traceback" not in topology.celery.tail(20_000)


# -- The pieces the topology relies on, without starting it --------------------------------


def test_healthz_says_degraded_in_french_when_redis_is_unreachable(settings, tmp_path) -> None:
    from dataclasses import replace

    from topology import free_port

    from dashboard.app import create_app

    down = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", jobs=tmp_path)
    answer = create_app(down).server.test_client().get("/healthz")
    assert answer.status_code == 200  # the host still serves: it stays in the rotation
    body = answer.get_json()
    assert body["statut"] == "degrade" and body["redis"] is False
    assert "Redis est injoignable" in body["avertissement"]
    healthy = create_app(replace(settings, jobs=tmp_path)).server.test_client().get("/healthz")
    assert healthy.get_json()["statut"] == "ok" and "avertissement" not in healthy.get_json()


def test_a_request_keeps_the_builds_it_started_with(settings, tmp_path) -> None:
    import os
    import shutil
    from dataclasses import replace

    from flask import Flask

    from dashboard.server.http_cache import builds_stamp
    from layers.appdata import active_dir

    cache = tmp_path / "cache"
    shutil.copytree(settings.cache, cache, symlinks=True)
    old = (cache / "current").resolve()
    new = old.with_name(old.name + "-bis")
    shutil.copytree(old, new)
    copy = replace(settings, cache=cache)
    with Flask(__name__).test_request_context("/"):
        first, stamp = active_dir(cache), builds_stamp(copy)
        os.symlink(f"builds/{new.name}", cache / "lien")
        os.replace(cache / "lien", cache / "current")  # published meanwhile
        assert active_dir(cache) == first == old and builds_stamp(copy) == stamp
    assert active_dir(cache) == new  # the next request sees the new build
    assert builds_stamp(copy).startswith(new.name + "|")


def test_a_failed_job_gets_a_french_status_naming_a_full_or_read_only_folder(tmp_path) -> None:
    from dashboard.jobs import ERR_JOB_FAILED, ERR_JOB_STORAGE, failure_message, signing_secret

    full = {"msg": "[Errno 28] No space left on device: '/srv/jobs/exports/x'", "tb": "..."}
    assert failure_message(full) == ERR_JOB_STORAGE
    assert failure_message({"msg": "division by zero", "tb": "..."}) == ERR_JOB_FAILED
    from dataclasses import dataclass

    @dataclass
    class Jobs:
        jobs_root: object

    secret = signing_secret(Jobs(tmp_path))  # type: ignore[arg-type]
    assert len(secret) >= 32 and signing_secret(Jobs(tmp_path)) == secret  # type: ignore[arg-type]
    assert (tmp_path / "jobs-signing-secret").stat().st_mode & 0o077 == 0


def test_the_host_is_named_in_answers_only_when_asked(settings, tmp_path) -> None:
    from dataclasses import replace

    from dashboard.app import create_app

    quiet = create_app(replace(settings, jobs=tmp_path)).server.test_client().get("/healthz")
    assert "X-Cafcarto-Instance" not in quiet.headers  # the machine's name stays private
    assert quiet.headers["X-Cafcarto-Build"]
    named = replace(settings, jobs=tmp_path, instance_header=True)
    answer = create_app(named).server.test_client().get("/healthz")
    assert answer.headers["X-Cafcarto-Instance"].endswith(f":{settings.port}")
