"""Faults of the scale-out topology (tests/topology.py), each played for real: an app instance
killed during a load run, Redis stopped then back, a build published while both instances
serve, the Celery worker's process killed during an atlas. Each test puts back what it broke,
and prints what it saw (errors, recovery times) for the closing note of issue 14.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from topology import EXPORT_LIMIT, poll_export, request, start_export, wait_until

from bench.load_bench import run_load

# A short load: a few users with short think times, no PDF (the load is on the two instances).
USERS = 6
THINK_S = (0.1, 0.4)
XLSX_STATE = {"indicateur": "allocataires", "niveau": "departement", "periode": "2025-06"}
# An EPCI of the small cut whose atlas has 17 communes: a few seconds of work on the worker,
# long enough to kill the worker in the middle.
ATLAS_STATE = {**XLSX_STATE, "niveau": "commune", "filtre": "epci:200040590"}


def _load(base: str, seconds: float, during=None, at: float = 0.0):
    """Run the load bench's users against `base`; `during()` is called `at` seconds in."""

    async def scenario():
        task = asyncio.create_task(
            run_load(base, USERS, seconds, think=THINK_S, max_sessions=50, export_share=0.0)
        )
        if during is not None:
            await asyncio.sleep(at)
            await asyncio.to_thread(during)
        return await task

    return asyncio.run(scenario())


def _instance_of(answer) -> str:
    return answer.headers["x-cafcarto-instance"]


@pytest.mark.load
def test_an_instance_killed_during_load_leaves_the_other_serving_then_rejoins(topology) -> None:
    killed = topology.apps[0]
    stats = _load(topology.base, 10.0, during=lambda: killed.kill(signal.SIGKILL), at=4.0)
    print(
        f"\n[instance tuée] {stats.requests} requêtes, {len(stats.errors)} erreurs : "
        f"{stats.errors[:5]}"
    )
    assert stats.requests > 50
    # at most the requests in flight on the killed host when it died (one per user); nginx
    # sends the idempotent ones again to the other host, the next ones go there directly
    assert len(stats.errors) <= USERS, stats.errors
    t0 = time.monotonic()
    killed.start()
    up = topology.wait_app(0)
    # nginx takes it back once its fail_timeout (10 s) is over
    port = f":{topology.ports['app0']}"  # the instance header is <host>:<port>

    def rejoined() -> bool:
        answers = [request(topology.base, "/healthz") for _ in range(4)]
        return any(_instance_of(a).endswith(port) for a in answers)

    wait_until(rejoined, 30, "instance relancée de retour dans la rotation")
    print(
        f"[instance tuée] relancée et prête en {up:.1f} s, de retour derrière nginx en "
        f"{time.monotonic() - t0:.1f} s"
    )


def test_haproxy_sends_the_requests_of_a_killed_instance_to_the_other_then_takes_it_back(
    topology,
) -> None:
    # Pages, API answers and a Dash callback (a POST) keep answering while one host is dead:
    # HAProxy retries on the other host (`retry-on conn-failure`, `option redispatch`), its
    # /healthz check takes the host out, then back once restarted.
    deps = request(topology.haproxy_base, "/_dash-dependencies").json()
    dep = next(d for d in deps if d["output"] == "resultats-recherche.children")
    body = {
        "output": dep["output"],
        "outputs": {"id": "resultats-recherche", "property": "children"},
        "inputs": [{**i, "value": "crèche"} for i in dep["inputs"]],
        "changedPropIds": ["recherche-indicateur.value"],
    }
    # an earlier test restarts host a: nginx takes it back at once, HAProxy only after two
    # checks, and killing b before that leaves HAProxy with no host (503)
    topology.wait_haproxy_up()
    killed = topology.apps[1]
    killed.kill(signal.SIGKILL)
    t0 = time.monotonic()
    answers = []
    for _ in range(8):
        answers.append(request(topology.haproxy_base, "/api/v1/catalog"))
        answers.append(
            request(topology.haproxy_base, "/_dash-update-component", method="POST", body=body)
        )
    assert [a.status for a in answers] == [200] * len(answers), [a.body[:200] for a in answers]
    down = wait_until(lambda: topology.haproxy_states()["b"] == "DOWN", 20, "hôte b écarté")
    print(f"\n[HAProxy] hôte tué : 0 erreur sur {len(answers)} requêtes, écarté en {down:.1f} s")
    killed.start()
    topology.wait_app(1)
    back = wait_until(lambda: topology.haproxy_states()["b"] == "UP", 30, "hôte b de retour")
    port = f":{topology.ports['app1']}"
    served = [request(topology.haproxy_base, "/healthz") for _ in range(4)]
    assert any(_instance_of(a).endswith(port) for a in served)
    print(f"[HAProxy] relancé, de retour dans la rotation {time.monotonic() - t0:.1f} s après")
    assert back < 30


# Redis killed (connections refused at once) or frozen (SIGSTOP: connections accepted by the
# kernel, never answered, as a host lost behind a network partition).
REDIS_FAULTS = {
    "arrete": (signal.SIGKILL, lambda redis: redis.start()),
    "fige": (signal.SIGSTOP, lambda redis: redis.kill(signal.SIGCONT)),
}


@pytest.mark.load
@pytest.mark.parametrize("fault", sorted(REDIS_FAULTS))
def test_redis_down_keeps_maps_profiles_and_api_served_and_recovers_without_restart(
    topology, fault: str
) -> None:
    sig, back_up = REDIS_FAULTS[fault]
    topology.redis.kill(sig)
    try:
        health = request(topology.base, "/healthz")
        assert health.status == 200  # degraded, not out of rotation: every host shares Redis
        assert health.json()["statut"] == "degrade"
        assert "Redis est injoignable" in health.json()["avertissement"]
        stats = _load(topology.base, 6.0)
        print(f"\n[Redis {fault}] {stats.requests} requêtes, {len(stats.errors)} erreurs")
        assert stats.requests > 30 and not stats.errors, stats.errors[:5]
        # the rate-limited routes too: their counters fall back to each process's memory
        limited = [request(topology.base, "/export/fichier/inconnu/x.xlsx") for _ in range(4)]
        assert [a.status for a in limited] == [404] * 4
        t0 = time.monotonic()
        job, first = start_export(topology.app_urls[0], "xlsx", XLSX_STATE, "127.0.0.31")
        took = time.monotonic() - t0
        print(f"[Redis {fault}] export refusé en {took:.1f} s : {first.status}")
        assert job is None and first.status == 200
        status = first.json()["response"]["export-job-statut"]["children"]
        assert "momentanément indisponibles" in status
        assert took < 10
    finally:
        back_up(topology.redis)
    t0 = time.monotonic()
    topology.wait_redis()
    back = wait_until(
        lambda: all(request(u, "/healthz").json()["statut"] == "ok" for u in topology.app_urls),
        30,
        "/healthz de retour à « ok »",
    )
    _export_runs(topology, "127.0.0.32")
    # a process that met the outage skips the shared cache for a few seconds (OUTAGE_PAUSE_S)
    periods = iter(["2021-12", "2022-12", "2023-12", "2024-12", "2025-03", "2025-06"] * 3)

    def shared_again() -> bool:
        path = f"/api/v1/data?indicator=allocataires&level=region&period={next(periods)}"
        first, second = (request(u, path) for u in topology.app_urls)
        cached = (first.headers["x-cafcarto-cache"], second.headers["x-cafcarto-cache"])
        return cached == ("miss", "hit")

    wait_until(shared_again, 15, "cache de réponses de nouveau partagé", step=1.0)
    # the rate counters leave their per-process fallback: one count for both hosts again
    sources = iter(f"127.0.1.{k}" for k in range(1, 60))
    wait_until(lambda: _one_count(topology, next(sources)), 30, "compteurs de nouveau partagés")
    print(
        f"[Redis {fault}, rétabli] santé « ok » en {back:.1f} s, export, cache et compteurs "
        f"partagés en {time.monotonic() - t0:.1f} s, sans redémarrage"
    )


def _one_count(topology, source: str) -> bool:
    """A new client is refused after EXPORT_LIMIT answers in all, spread over both hosts."""
    answers = [
        request(topology.base, "/export/fichier/inconnu/x.xlsx", source=source)
        for _ in range(EXPORT_LIMIT + 1)
    ]
    both = len({a.headers["x-cafcarto-instance"] for a in answers[:EXPORT_LIMIT]}) == 2
    return both and [a.status for a in answers][-1] == 429


def _export_runs(topology, source: str) -> None:
    a, b = topology.app_urls
    job, first = start_export(a, "xlsx", XLSX_STATE, source)
    assert job is not None, first.body[:300]
    done, _ = poll_export([b, a], job, source, timeout=60)
    assert "Classeur Excel prêt" in done.json()["response"]["export-job-statut"]["children"]


def _publish_copy(cache) -> str:
    """Publish a new geometry build the way `cafcarto build` does: the folder written beside
    the old one, then the `current` link replaced by one rename."""
    old = (cache / "current").resolve()
    new = old.with_name(old.name + "-bis")
    shutil.copytree(old, new)
    tmp_link = cache / "current.nouveau"
    os.symlink(os.path.relpath(new, cache), tmp_link)
    os.replace(tmp_link, cache / "current")
    return new.name


def test_a_build_published_while_serving_never_mixes_two_builds(topology) -> None:
    old = (topology.cache / "current").resolve().name
    seen: list[tuple[float, str, str]] = []  # (answer time, instance, build)
    stop = threading.Event()
    paths = ["/api/v1/data?indicator=allocataires&level=commune", "/api/v1/catalog", "/"]

    def hammer() -> None:
        k = 0
        while not stop.is_set():
            ans = request(topology.base, paths[k % len(paths)])
            k += 1
            assert ans.status == 200
            seen.append((time.monotonic(), _instance_of(ans), ans.headers["x-cafcarto-build"]))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    published_at = time.monotonic()
    new = _publish_copy(topology.cache)
    time.sleep(2.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    geometries = {build.split("|")[0] for _, _, build in seen}
    assert geometries == {old, new}, geometries  # nothing but the two, each whole
    late = [b for at, _, b in seen if at > published_at + 0.5]
    assert late and all(b.startswith(new + "|") for b in late)
    print(
        f"\n[construction publiée] {len(seen)} réponses, {len(late)} après 0,5 s toutes sur "
        "la nouvelle construction"
    )


def test_the_worker_process_killed_during_an_atlas_never_leaves_a_spinner(topology) -> None:
    a, b = topology.app_urls
    job = _atlas_running(topology, "127.0.0.33")
    # the job is running on the worker's pool process: kill that process
    children = topology.celery_children()
    assert children
    t0 = time.monotonic()
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    done, _ = poll_export([b, a], job, "127.0.0.33", timeout=90)
    took = time.monotonic() - t0
    assert done.status == 200, done.body[:300]
    status = done.json()["response"]["export-job-statut"]["children"]
    print(f"\n[worker tué] fin de la tâche {took:.1f} s après : {status}")
    # retried on a new pool process, or ended with the French error: never a spinner
    assert "Atlas PDF prêt" in status or "interrompu" in status
    assert topology.celery.alive


def _atlas_running(topology, source: str):
    """An atlas started through the first instance, once the worker has started it."""
    client = topology.redis_client()
    for key in client.scan_iter("celery-task-meta-*"):  # earlier jobs' states: not this one
        client.delete(key)
    job, first = start_export(topology.app_urls[0], "atlas", ATLAS_STATE, source)
    assert job is not None, first.body[:300]

    def started() -> bool:
        metas = (client.get(key) or b"" for key in client.scan_iter("celery-task-meta-*"))
        return any(b'"STARTED"' in meta for meta in metas)

    wait_until(started, 30, "atlas commencé")
    return job


@pytest.fixture(autouse=True)
def _back_in_shape(topology):
    """Whatever a test broke is running again for the next one."""
    yield
    if not topology.redis.alive:
        topology.redis.start()
        topology.wait_redis()
    for i, app in enumerate(topology.apps):
        if not app.alive:
            app.start()
            topology.wait_app(i)
    if not topology.celery.alive:
        topology.celery.start()
        topology.wait_celery()


def test_the_whole_worker_killed_during_an_atlas_ends_in_a_french_error(topology) -> None:
    # The worker and its pool killed together (its host lost): the job is not re-queued
    # before Redis's visibility timeout, so the page must learn that it is lost.
    a, b = topology.app_urls
    job = _atlas_running(topology, "127.0.0.34")
    t0 = time.monotonic()
    topology.celery.kill(signal.SIGKILL)
    topology.celery.start()  # restarted as systemd would: it does not know the job
    done, _ = poll_export([b, a], job, "127.0.0.34", timeout=60)
    took = time.monotonic() - t0
    assert done.status == 200, done.body[:300]
    status = done.json()["response"]["export-job-statut"]["children"]
    print(f"\n[worker entier tué] message au bout de {took:.1f} s : {status}")
    assert "interrompu" in status
    topology.wait_celery()
    _export_runs(topology, "127.0.0.35")  # the restarted worker takes new jobs


@contextlib.contextmanager
def _read_only(*folders: Path):
    """The folders read-only, even for root (immutable attribute), restored after."""
    if os.geteuid() != 0:
        for folder in folders:
            folder.chmod(0o555)
    elif any(
        subprocess.run(["chattr", "+i", str(f)], capture_output=True).returncode for f in folders
    ):
        pytest.skip(
            "chattr +i refusé ici : impossible de rendre un dossier lecture seule pour root"
        )
    try:
        yield
    finally:
        for folder in folders:
            if os.geteuid() == 0:
                subprocess.run(["chattr", "-i", str(folder)], check=False)
            else:
                folder.chmod(0o755)


def test_a_read_only_shared_folder_gives_a_french_message_and_keeps_serving(topology) -> None:
    cache = topology.cache
    before = request(topology.base, "/healthz").headers["x-cafcarto-build"]
    with _read_only(cache, cache / "builds"):
        built = subprocess.run(
            [sys.executable, "-m", "dashboard.cli", "build", "--force", "--departements", "2A"]
            + ["--demo", "aucune", "--no-download"],
            env=topology.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        health = request(topology.base, "/healthz")
    print(
        f"\n[cache en lecture seule] cafcarto build : {built.returncode}, "
        f"{built.stderr.strip()[:160]}"
    )
    assert built.returncode == 1 and "Traceback" not in built.stderr
    assert "est plein ou en lecture seule" in built.stderr
    assert health.status == 200 and health.headers["x-cafcarto-build"] == before
    exports = Path(topology.env["CAFCARTO_JOBS"]) / "exports"
    exports.mkdir(exist_ok=True)
    with _read_only(exports):
        a, b = topology.app_urls
        job, first = start_export(a, "xlsx", XLSX_STATE, "127.0.0.36")
        assert job is not None, first.body[:300]
        done, _ = poll_export([b, a], job, "127.0.0.36", timeout=60)
    status = done.json()["response"]["export-job-statut"]["children"]
    print(f"[exports en lecture seule] {status}")
    assert "plein ou en lecture seule" in status


@contextlib.contextmanager
def _full(folder: Path):
    """The folder on a tiny tmpfs filled to the last byte (a really full disk), removed after."""
    folder.mkdir(exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=128k,mode=0777", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("mount tmpfs refusé ici (il faut root et le droit de monter)")
    try:
        with contextlib.suppress(OSError), (folder / "remplissage").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_really_full_exports_folder_gives_a_french_message_then_recovers(topology) -> None:
    exports = Path(topology.env["CAFCARTO_JOBS"]) / "exports"
    a, b = topology.app_urls
    with _full(exports):
        job, first = start_export(a, "xlsx", XLSX_STATE, "127.0.0.37")
        assert job is not None, first.body[:300]
        done, _ = poll_export([b, a], job, "127.0.0.37", timeout=60)
        page = request(topology.base, "/healthz")
    status = done.json()["response"]["export-job-statut"]["children"]
    print(f"\n[exports sur un disque plein] {status}")
    assert "plein ou en lecture seule" in status
    logs = "".join(p.tail(100_000) for p in (topology.celery, *topology.apps))
    assert "No space left" in logs  # a real ENOSPC, whose details go to the log only
    assert page.status == 200
    # space again: the same export is ready, no restart
    job, first = start_export(b, "xlsx", XLSX_STATE, "127.0.0.37")
    assert job is not None, first.body[:300]
    done, _ = poll_export([a, b], job, "127.0.0.37", timeout=60)
    assert "Classeur Excel prêt" in done.json()["response"]["export-job-statut"]["children"]
