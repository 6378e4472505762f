"""A real scale-out topology on loopback ports, for the topology tests and bench/proxy_bench.py:
redis-server, two `cafcarto serve --workers 2` instances sharing one build cache, one Redis and
one jobs folder, a Celery worker, and in front of them both nginx running deploy/nginx.conf
and HAProxy running deploy/haproxy.cfg (two balancers, each over the same two instances).

deploy/nginx.conf is the file docs/deploy.md quotes; its placeholders (PLACEHOLDERS: the two
app hosts `hote-a:8050`, `hote-b:8050` and `listen 80;`) are replaced by loopback ports, and a
minimal main configuration (pid, logs and temporary files in a scratch folder) includes it.
Every process runs in its own process group, killed as a whole (SIGKILL when SIGTERM is not
enough) by `Topology.close`, even when a test fails.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
NGINX_SITE = DEPLOY / "nginx.conf"
APP_PLACEHOLDERS = ("hote-a:8050", "hote-b:8050")
LISTEN_PLACEHOLDER = "listen 80;"
HAPROXY_CFG = DEPLOY / "haproxy.cfg"
BIND_PLACEHOLDER = "bind :80"
# The topology's own limits: none on /api/ (the load runs come from one address), a low one
# on /export/ so that the shared counter is quick to prove.
EXPORT_LIMIT = 6
STOP_S = 10.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_programs() -> list[str]:
    """The Debian programs the topology needs and this machine lacks (`make topology-deps`)."""
    return [name for name in ("redis-server", "nginx", "haproxy") if shutil.which(name) is None]


def _render(text: str, name: str, front: tuple[str, str], app_ports: list[int]) -> str:
    """A deploy/ file with its app hosts and its own listening line `front` (placeholder,
    value) replaced by loopback addresses."""
    for placeholder in (*APP_PLACEHOLDERS, front[0]):
        if placeholder not in text:
            raise ValueError(f"deploy/{name} n'a plus l'emplacement « {placeholder} »")
    for placeholder, app_port in zip(APP_PLACEHOLDERS, app_ports, strict=True):
        text = text.replace(placeholder, f"127.0.0.1:{app_port}")
    return text.replace(*front)


def render_site(site: str, app_ports: list[int], port: int) -> str:
    """deploy/nginx.conf on loopback ports."""
    return _render(site, "nginx.conf", (LISTEN_PLACEHOLDER, f"listen 127.0.0.1:{port};"), app_ports)


def render_haproxy(cfg: str, app_ports: list[int], port: int) -> str:
    """deploy/haproxy.cfg on loopback ports."""
    return _render(cfg, "haproxy.cfg", (BIND_PLACEHOLDER, f"bind 127.0.0.1:{port}"), app_ports)


def nginx_main(folder: Path, site: Path) -> str:
    """A main configuration around the site file: everything nginx writes stays in `folder`."""
    temps = "\n".join(
        f"    {name}_temp_path {folder / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'nginx-error.log'} warn;\n"
        "worker_processes 1;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        f"{temps}\n"
        f"    include {site};\n"
        "}\n"
    )


@dataclass
class Proc:
    """One process (group) of the topology, with its log file."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed with its children
            )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                self.popen.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=STOP_S)
            # the group's other members (gunicorn workers, pool children) may outlive the leader
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def request(
    base: str,
    path: str,
    *,
    method: str = "GET",
    body: object = None,
    source: str = "127.0.0.1",
    timeout: float = 30.0,
) -> Answer:
    """One HTTP request from the loopback address `source` (each test client has its own,
    as distinct users do: the rate limits count per address)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(
        url.hostname, url.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        # header names folded to lower case: http.client keeps the server's spelling
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def wait_until(check, timeout: float, what: str, step: float = 0.2) -> float:
    """Poll `check()` until true; returns the seconds waited, raises after `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - t0
        time.sleep(step)
    raise TimeoutError(f"{what} : toujours pas au bout de {timeout:.0f} s")


def healthy(base: str) -> bool:
    return request(base, "/healthz", timeout=5).status == 200


@dataclass
class Topology:
    """The running topology: `base` is nginx, `apps` the two instances' own addresses."""

    folder: Path
    cache: Path
    env: dict[str, str]
    redis: Proc
    apps: list[Proc]
    celery: Proc
    nginx: Proc
    haproxy: Proc
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports['nginx']}"

    @property
    def haproxy_base(self) -> str:
        return f"http://127.0.0.1:{self.ports['haproxy']}"

    def haproxy_states(self) -> dict[str, str]:
        """HAProxy's view of each app server (its stats socket): {"a": "UP", "b": "DOWN"…}."""
        import socket

        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.folder / "haproxy.sock"))
            sock.sendall(b"show stat\n")
            raw = b"".join(iter(lambda: sock.recv(65536), b""))
        rows = [
            line.split(",") for line in raw.decode().splitlines() if line.startswith("cafcarto,")
        ]
        return {row[1]: row[17].split()[0] for row in rows if row[1] in ("a", "b")}

    @property
    def app_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.ports[f'app{i}']}" for i in range(len(self.apps))]

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    def redis_client(self):
        import redis

        return redis.Redis.from_url(self.redis_url, socket_timeout=2)

    # -- readiness -------------------------------------------------------------------------

    def wait_redis(self, timeout: float = 20.0) -> float:
        return wait_until(lambda: self.redis_client().ping(), timeout, "redis-server")

    def wait_app(self, i: int, timeout: float = 90.0) -> float:
        url = self.app_urls[i]

        def ready() -> bool:
            if not self.apps[i].alive:
                raise RuntimeError(f"instance {i} arrêtée :\n{self.apps[i].tail()}")
            return healthy(url)

        return wait_until(ready, timeout, f"instance {i} ({url})")

    def wait_haproxy_up(self, timeout: float = 20.0) -> float:
        """Until HAProxy's checks hold every host UP (`rise 2`: ~4 s after a restart)."""
        return wait_until(lambda: set(self.haproxy_states().values()) == {"UP"}, timeout, "HAProxy")

    def wait_celery(self, timeout: float = 60.0) -> float:
        from celery import Celery

        probe = Celery("sonde", broker=self.redis_url, backend=self.redis_url)
        return wait_until(lambda: probe.control.ping(timeout=0.5), timeout, "worker Celery", 0.5)

    def celery_children(self) -> list[int]:
        """The worker's pool processes (those that run the jobs)."""
        import psutil

        assert self.celery.popen is not None
        return [c.pid for c in psutil.Process(self.celery.popen.pid).children()]

    def restart(self, proc: Proc) -> None:
        proc.kill(signal.SIGKILL)
        proc.start()

    def close(self) -> None:
        for proc in (self.nginx, self.haproxy, self.celery, *self.apps, self.redis):
            with contextlib.suppress(Exception):
                proc.kill(signal.SIGTERM)
        # logs, nginx's files and the jobs' state go with it (CAFCARTO_KEEP_TOPOLOGY keeps them)
        if not os.environ.get("CAFCARTO_KEEP_TOPOLOGY"):
            shutil.rmtree(self.folder, ignore_errors=True)


def _app_env(base_env: dict[str, str], port: int) -> dict[str, str]:
    return {**base_env, "PORT": str(port), "HOST": "127.0.0.1"}


def start_topology(
    cache: Path, vendor: Path, *, export_limit: str = f"{EXPORT_LIMIT}/minute"
) -> Topology:
    """Start everything on free loopback ports; `cache` is only read (the jobs' state and
    files go to the scratch folder)."""
    folder = Path(tempfile.mkdtemp(prefix="cafcarto-topologie-"))
    folder.chmod(0o755)  # nginx's workers run as nobody when the master is root
    ports = {name: free_port() for name in ("redis", "app0", "app1", "nginx", "haproxy")}
    jobs = folder / "jobs"
    jobs.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),  # this checkout's code, in every process
        "CAFCARTO_CACHE": str(cache),
        "CAFCARTO_VENDOR": str(vendor),
        "CAFCARTO_JOBS": str(jobs),
        "CAFCARTO_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
        "CAFCARTO_PROXIES": "1",
        "CAFCARTO_INSTANCE_HEADER": "1",  # the tests tell the hosts apart by it
        "CAFCARTO_RATE_LIMIT": "0",
        "CAFCARTO_RATE_LIMIT_EXPORT": export_limit,
    }
    redis = Proc(
        "redis",
        ["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no", "--dir", str(folder)],
        env,
        folder / "redis.log",
    )
    apps = [
        Proc(
            f"app{i}",
            [sys.executable, "-m", "dashboard.cli", "serve", "--workers", "2"]
            + ["--host", "127.0.0.1", "--port", str(ports[f"app{i}"])],
            _app_env(env, ports[f"app{i}"]),
            folder / f"app{i}.log",
        )
        for i in range(2)
    ]
    celery = Proc(
        "celery",
        [sys.executable, "-m", "celery", "-A", "dashboard.wsgi:celery_app", "worker"]
        + ["--concurrency", "1", "--pool", "prefork", "--loglevel", "WARNING"],
        env,
        folder / "celery.log",
    )
    app_ports = [ports["app0"], ports["app1"]]
    nginx = _nginx_proc(folder, app_ports, ports["nginx"], env)
    haproxy = _haproxy_proc(folder, app_ports, ports["haproxy"], env)
    topo = Topology(folder, cache, env, redis, apps, celery, nginx, haproxy, ports)
    try:
        redis.start()
        topo.wait_redis()
        for proc in (*apps, celery, nginx, haproxy):
            proc.start()
        for i in range(len(apps)):
            topo.wait_app(i)
        wait_until(lambda: healthy(topo.base), 20, "nginx")
        topo.wait_haproxy_up()
        topo.wait_celery()
    except BaseException:
        topo.close()
        raise
    return topo


def _nginx_proc(folder: Path, app_ports: list[int], port: int, env: dict[str, str]) -> Proc:
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / name).mkdir()
        (folder / name).chmod(0o777)  # written by the workers (nobody)
    site = folder / "cafcarto-site.conf"
    site.write_text(render_site(NGINX_SITE.read_text(), app_ports, port))
    main = folder / "nginx-main.conf"
    main.write_text(nginx_main(folder, site))
    cmd = ["nginx", "-p", str(folder), "-c", str(main), "-g", "daemon off;"]
    return Proc("nginx", cmd, env, folder / "nginx.log")


def _haproxy_proc(folder: Path, app_ports: list[int], port: int, env: dict[str, str]) -> Proc:
    cfg = folder / "haproxy.cfg"
    cfg.write_text(render_haproxy(HAPROXY_CFG.read_text(), app_ports, port))
    # a second global section: the stats socket the tests read, in the scratch folder
    extra = folder / "haproxy-stats.cfg"
    extra.write_text(f"global\n    stats socket {folder / 'haproxy.sock'} mode 600 level admin\n")
    cmd = ["haproxy", "-db", "-f", str(cfg), "-f", str(extra)]
    return Proc("haproxy", cmd, env, folder / "haproxy.log")


# -- Dash background jobs over HTTP (what the page's renderer posts) ---------------------------


def end_id(page_html: str) -> str:
    """The signed `end_id` of a page load (Dash's config script), echoed by every callback."""
    start = page_html.index('id="_dash-config"')
    start = page_html.index(">", start) + 1
    config = json.loads(page_html[start : page_html.index("</script>", start)])
    return config["end_id"]


def export_body(deps: list[dict], kind: str, state: dict[str, str | None]) -> dict:
    """The body the page posts when its Excel (kind "xlsx") or atlas button is clicked."""
    dep = next(d for d in deps if "export-job-statut.children" in d["output"])
    button = "export-xlsx" if kind == "xlsx" else "export-atlas"
    inputs = [
        {**i, "value": 1 if i["id"] == button else None}
        for i in dep["inputs"]
        if i["id"] in ("export-xlsx", "export-atlas")
    ]
    states = [{**s, "value": state.get(s["id"])} for s in dep["state"]]
    return {
        "output": dep["output"],
        "outputs": [
            {"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
            for o in dep["output"].strip(".").split("...")
        ],
        "inputs": inputs,
        "state": states,
        "changedPropIds": [f"{button}.n_clicks"],
    }


@dataclass
class Job:
    """A background export started through one address, polled through others."""

    body: dict
    end: str
    handles: dict[str, str]

    def query(self) -> str:
        args = {"endId": self.end, **self.handles}
        return "/_dash-update-component?" + urllib.parse.urlencode(args)


def start_export(base: str, kind: str, state: dict[str, str | None], source: str) -> tuple:
    """Click the export button of the explore page: (Job or None, first answer)."""
    page = request(base, "/", source=source)
    deps = request(base, "/_dash-dependencies", source=source).json()
    end = end_id(page.body.decode())
    body = export_body(deps, kind, state)  # type: ignore[arg-type]
    path = "/_dash-update-component?" + urllib.parse.urlencode({"endId": end})
    first = request(base, path, method="POST", body=body, source=source)
    data = first.json() if first.status == 200 else {}
    if isinstance(data, dict) and "cacheKey" in data:
        handles = {"cacheKey": data["cacheKey"], "job": data["job"]}
        return Job(body, end, handles), first
    return None, first


def poll_export(bases: list[str], job: Job, source: str, timeout: float) -> tuple[Answer, list]:
    """Poll the job through each base in turn until it answers its outputs (not a handle):
    (last answer, the instances that answered)."""
    seen = []
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < timeout:
        ans = request(
            bases[k % len(bases)], job.query(), method="POST", body=job.body, source=source
        )
        k += 1
        seen.append(ans.headers.get("x-cafcarto-instance"))
        data = ans.json() if ans.status == 200 and ans.body else None
        if ans.status != 200 or data is None or "response" in data:
            return ans, seen
        time.sleep(0.5)
    raise TimeoutError(f"export toujours en cours après {timeout:.0f} s (sablier sans fin)")
