"""geodata.download against a local HTTP server: resume, corruption, HTTP errors, tarballs."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from geodata.download import DOWNLOADS_DIR, ENV_BASE_URL, download_sources
from geodata.sources import SourceError, SourceFile, load_manifest, verify_sources

SHARED = Path("/work/shared/data")
COMMUNES = [
    "geo/communes-2018/communes-75-paris.geojson",
    "geo/communes-2018/communes-92-hauts-de-seine.geojson",
]
MEMBERS = ["territoires/regions.json", "territoires/departements.json"]
FAST = {"progress": False, "timeout": 5.0, "retries": 0, "backoff": 0.0}


def _content(rel: str) -> bytes:
    """A small cut of the real sources when present, else stand-in bytes of similar size."""
    real = SHARED / rel
    if real.is_file():
        return real.read_bytes()
    seed = hashlib.sha256(rel.encode()).digest()
    return (seed * 800)[: 24_000 + len(rel)]


def _url_path(f: SourceFile) -> str:
    return urlsplit(f.url or "").path


@dataclass
class FakeRemote:
    """What the test server serves and how it misbehaves; records every request."""

    files: dict[str, bytes]
    url: str = ""
    log: list[dict] = field(default_factory=list)
    cut: dict[str, list[int]] = field(default_factory=dict)  # path -> [bytes to send, times]
    status: dict[str, int] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    ignore_range: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, path: str) -> list[dict]:
        return [r for r in self.log if r["path"] == path]

    def take_cut(self, path: str) -> int | None:
        with self.lock:
            rule = self.cut.get(path)
            if not rule or rule[1] <= 0:
                return None
            rule[1] -= 1
            return rule[0]


def _handler(remote: FakeRemote) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            entry = {"path": path, "range": self.headers.get("Range"), "status": 0, "sent": 0}
            with remote.lock:
                remote.log.append(entry)
            data = remote.files.get(path)
            code = remote.status.get(path, 200 if data is not None else 404)
            if code != 200 or data is None:
                entry["status"] = code
                self.send_error(code)
                return
            if path in remote.corrupt:
                data = bytes(b ^ 0x5A for b in data)
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", entry["range"] or "")
            if match and not remote.ignore_range:
                start = int(match[1])
                if start >= len(data):
                    entry["status"] = 416
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                entry["status"] = 206
            else:
                self.send_response(200)
                entry["status"] = 200
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            cut = remote.take_cut(path)
            if cut is not None:
                body = body[:cut]  # then the connection closes: a download cut half-way
            self.wfile.write(body)
            self.wfile.flush()
            entry["sent"] = len(body)

    return Handler


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def remote() -> Iterator[FakeRemote]:
    served = FakeRemote(files={})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def catalog(remote: FakeRemote) -> dict[str, SourceFile]:
    """Manifest entries for 2 commune files + 2 tarball members, served by `remote`."""
    manifest = {f.path: f for f in load_manifest()}
    out: dict[str, SourceFile] = {}
    for rel in COMMUNES:
        data = _content(rel)
        out[rel] = replace(manifest[rel], size=len(data), sha256=hashlib.sha256(data).hexdigest())
        remote.files[_url_path(out[rel])] = data
    member_data = {manifest[rel].member: _content(rel) for rel in MEMBERS}
    tgz = _tarball({"package/README.md": b"# test\n", **member_data})
    for rel in MEMBERS:
        data = member_data[manifest[rel].member]
        out[rel] = replace(
            manifest[rel],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            archive_size=len(tgz),
            archive_sha256=hashlib.sha256(tgz).hexdigest(),
        )
    remote.files[_url_path(out[MEMBERS[0]])] = tgz
    return out


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def test_fresh_download_of_a_subset_verifies(remote, catalog, tmp_path: Path) -> None:
    dest = tmp_path / "sources"
    files = list(catalog.values())
    report = download_sources(dest, files, base_url_override=remote.url, **FAST)
    assert sorted(report.downloaded) == sorted(catalog) and report.ok
    assert verify_sources(dest, deep=True, files=files) == []
    for rel in catalog:
        assert (dest / rel).read_bytes() == _content(rel)
    assert not list(dest.rglob("*.part"))
    assert not (dest / DOWNLOADS_DIR).exists()  # the tarball is dropped after extraction
    tgz_path = _url_path(catalog[MEMBERS[0]])
    assert tgz_path.startswith("/@etalab/decoupage-administratif/-/")
    assert len(remote.requests(tgz_path)) == 1  # one download for both members

    remote.log.clear()
    again = download_sources(dest, files, base_url_override=remote.url, **FAST)
    assert remote.log == [] and sorted(again.present) == sorted(catalog)


def test_interrupted_download_keeps_part_then_resumes(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[1]]
    path, data = _url_path(f), _content(COMMUNES[1])
    target = f.target(tmp_path)
    remote.cut[path] = [8_000, 99]
    with pytest.raises(SourceError) as err:
        download_sources(tmp_path, [f], base_url_override=remote.url, **{**FAST, "retries": 1})
    message = str(err.value)
    assert "Impossible de télécharger" in message and "vérifiez votre connexion" in message
    assert str(target) in message
    assert not target.exists()
    assert _part(target).stat().st_size == 16_000  # first try + one resumed retry
    assert [r["range"] for r in remote.requests(path)] == [None, "bytes=8000-"]

    remote.cut.clear()
    report = download_sources(tmp_path, [f], base_url_override=remote.url, **FAST)
    last = remote.requests(path)[-1]
    assert last["range"] == "bytes=16000-" and last["status"] == 206
    assert last["sent"] == len(data) - 16_000
    assert report.downloaded == [f.path] and report.bytes_downloaded == len(data) - 16_000
    assert target.read_bytes() == data and not _part(target).exists()


def test_cut_once_is_resumed_within_the_same_call(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[1]]
    remote.cut[_url_path(f)] = [5_000, 1]
    download_sources(tmp_path, [f], base_url_override=remote.url, **{**FAST, "retries": 2})
    assert [r["range"] for r in remote.requests(_url_path(f))] == [None, "bytes=5000-"]
    assert f.target(tmp_path).read_bytes() == _content(f.path)


def test_server_ignoring_range_restarts_from_zero(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[1]]
    data = _content(f.path)
    target = f.target(tmp_path)
    target.parent.mkdir(parents=True)
    _part(target).write_bytes(data[:3_000])
    remote.ignore_range = True
    download_sources(tmp_path, [f], base_url_override=remote.url, **FAST)
    assert remote.requests(_url_path(f))[0]["status"] == 200
    assert target.read_bytes() == data


def test_stale_part_not_matching_is_restarted_once(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[1]]
    target = f.target(tmp_path)
    target.parent.mkdir(parents=True)
    _part(target).write_bytes(b"x" * 1_000)  # left by a run against another file version
    download_sources(tmp_path, [f], base_url_override=remote.url, **FAST)
    assert [r["range"] for r in remote.requests(_url_path(f))] == ["bytes=1000-", None]
    assert target.read_bytes() == _content(f.path)


def test_corrupt_content_fails_in_french_and_leaves_nothing(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[0]]
    target = f.target(tmp_path)
    remote.corrupt.add(_url_path(f))
    with pytest.raises(SourceError) as err:
        download_sources(tmp_path, [f], base_url_override=remote.url, **FAST)
    message = str(err.value)
    assert "est corrompu" in message and "sha256" in message and f.path in message
    assert str(target) in message
    assert not target.exists() and not _part(target).exists()


def test_corrupt_download_never_replaces_an_existing_file(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[0]]
    target = f.target(tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old, wrong content")
    remote.corrupt.add(_url_path(f))
    with pytest.raises(SourceError):
        download_sources(tmp_path, [f], base_url_override=remote.url, **FAST)
    assert target.read_bytes() == b"old, wrong content"
    remote.corrupt.clear()
    download_sources(tmp_path, [f], base_url_override=remote.url, **FAST)
    assert target.read_bytes() == _content(f.path)


def test_http_404_names_the_file(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[0]]
    remote.status[_url_path(f)] = 404
    with pytest.raises(SourceError) as err:
        download_sources(tmp_path, [f], base_url_override=remote.url, **{**FAST, "retries": 3})
    message = str(err.value)
    assert f.path in message and "HTTP 404" in message and str(f.target(tmp_path)) in message
    assert f"{remote.url}{_url_path(f)}" in message
    assert len(remote.requests(_url_path(f))) == 1  # a 404 is not retried
    assert err.value.report.failed.keys() == {f.path}


def test_http_500_is_retried_a_bounded_number_of_times(remote, catalog, tmp_path) -> None:
    f = catalog[COMMUNES[0]]
    remote.status[_url_path(f)] = 500
    with pytest.raises(SourceError, match="HTTP 500"):
        download_sources(tmp_path, [f], base_url_override=remote.url, **{**FAST, "retries": 2})
    assert len(remote.requests(_url_path(f))) == 3


def test_no_network_message(catalog, tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    f = catalog[COMMUNES[0]]
    with pytest.raises(SourceError) as err:
        download_sources(tmp_path, [f], base_url_override=f"http://127.0.0.1:{port}", **FAST)
    message = str(err.value)
    assert "Impossible de télécharger" in message and "vérifiez votre connexion" in message
    assert f"placez le fichier à {f.target(tmp_path)}" in message


def test_env_var_redirects_downloads(remote, catalog, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_BASE_URL, remote.url + "/")
    f = catalog[COMMUNES[0]]
    download_sources(tmp_path, [f], **FAST)
    assert f.target(tmp_path).read_bytes() == _content(f.path)


def test_tarball_member_mismatch_is_reported(remote, catalog, tmp_path) -> None:
    good = catalog[MEMBERS[0]]
    bad = replace(catalog[MEMBERS[1]], sha256="0" * 64)
    with pytest.raises(SourceError) as err:
        download_sources(tmp_path, [good, bad], base_url_override=remote.url, **FAST)
    assert bad.path in str(err.value) and "membre" in str(err.value)
    assert good.target(tmp_path).read_bytes() == _content(good.path)  # the good one is kept
    assert not bad.target(tmp_path).exists() and not _part(bad.target(tmp_path)).exists()


def test_corrupt_tarball_is_rejected_before_extraction(remote, catalog, tmp_path) -> None:
    members = [catalog[rel] for rel in MEMBERS]
    remote.corrupt.add(_url_path(members[0]))
    with pytest.raises(SourceError, match="corrompu"):
        download_sources(tmp_path, members, base_url_override=remote.url, **FAST)
    assert not any(m.target(tmp_path).exists() for m in members)
    assert not list(tmp_path.rglob("*.part"))


def test_optional_and_url_less_files(remote, catalog, tmp_path) -> None:
    optional = replace(catalog[COMMUNES[0]], required=False)
    remote.status[_url_path(optional)] = 404
    no_url = replace(catalog[COMMUNES[1]], required=False, url=None, origin="IGN CONTOURS-IRIS")
    report = download_sources(tmp_path, [optional, no_url], base_url_override=remote.url, **FAST)
    assert not report.ok and optional.path in report.failed
    assert report.unavailable == [no_url.path]
    assert any("HTTP 404" in line for line in report.notices())

    required_no_url = replace(no_url, required=True)
    with pytest.raises(SourceError, match="aucune adresse de téléchargement"):
        download_sources(tmp_path, [required_no_url], **FAST)
