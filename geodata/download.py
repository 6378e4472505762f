"""Download the raw sources listed in the manifest: resumable, verified, atomic.

Each file is fetched into ``<target>.part`` (kept across runs: a restart sends
``Range: bytes=N-`` and appends when the server answers 206, or starts over on 200), checked
against the manifest's size and sha256, then moved into place with ``os.replace``, so a target
is either absent, the previous file, or the verified new one. Files shipped inside an archive
(the npm tarball of @etalab/decoupage-administratif) share one download of that archive, kept
under ``<dest>/.downloads/`` until its members are extracted the same way.

``base_url_override`` (or CAFCARTO_DOWNLOAD_BASE_URL) replaces the scheme and host of every URL
and keeps its path: a mirror serves ``<base>/gregoiredavid/france-geojson/v2.1.1/...`` and
``<base>/@etalab/decoupage-administratif/-/decoupage-administratif-6.0.0.tgz``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from tqdm import tqdm

from geodata.sources import SourceError, SourceFile, load_manifest, verify_sources

ENV_BASE_URL = "CAFCARTO_DOWNLOAD_BASE_URL"
DOWNLOADS_DIR = ".downloads"
USER_AGENT = "cafdata-carto/0.1 (sources download; python-urllib)"
CHUNK = 256 * 1024
# 5xx and these are worth another try; other HTTP errors (404, 403...) will not change.
RETRY_STATUS = {408, 425, 429}
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


@dataclass
class DownloadReport:
    """What `download_sources` did, by relative path."""

    dest: Path
    downloaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes_downloaded: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def notices(self) -> list[str]:
        """French lines for the user about files the build will have to do without."""
        out = [f"Échec pour {path} : {msg}" for path, msg in self.failed.items()]
        out += [
            f"{path} n'a pas de téléchargement automatique : le niveau correspondant sera "
            "ignoré (voir geodata/sources_manifest.json)."
            for path in self.unavailable
        ]
        return out


class _Transient(Exception):
    """A failure worth retrying (network, timeout, cut connection, 5xx)."""


class _Corrupt(Exception):
    """The downloaded bytes do not match the expected size or checksum."""


class _HttpFatal(Exception):
    """An HTTP error that another try will not fix (404, 403...)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"HTTP {code} {reason}")
        self.code = code
        self.reason = reason


@dataclass
class _Fetcher:
    timeout: float
    retries: int
    backoff: float
    bar: tqdm
    report: DownloadReport

    def fetch(
        self,
        url: str,
        dest: Path,
        *,
        size: int | None,
        sha256: str | None,
        label: str,
        place_at: str,
    ) -> None:
        """Download `url` to `dest` (via dest.part) and verify it, or raise SourceError."""
        part = dest.with_name(dest.name + ".part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(
                f"Impossible de créer le dossier {dest.parent} ({exc.strerror}) : "
                f"placez le fichier {label} à {place_at}."
            ) from exc
        attempt = 0
        restarted = resumed = False
        while True:
            try:
                resumed = self._fetch_once(url, part, size)
                _check(part, size, sha256)
                break
            except _Corrupt as exc:
                part.unlink(missing_ok=True)
                if resumed and not restarted:
                    # The server may have changed the file between two runs: one clean retry.
                    restarted = True
                    continue
                raise SourceError(
                    f"Le fichier {label} téléchargé depuis {url} est corrompu ({exc}) ; "
                    "le fichier partiel a été supprimé. Réessayez "
                    f"`cafcarto build --download` ou placez une copie correcte à {place_at}."
                ) from None
            except _Transient as exc:
                attempt += 1
                if attempt > self.retries:
                    raise SourceError(
                        f"Impossible de télécharger {label} depuis {url} ({exc}) : vérifiez "
                        f"votre connexion ou placez le fichier à {place_at}."
                    ) from None
                time.sleep(self.backoff * 2 ** (attempt - 1))
            except OSError as exc:
                raise SourceError(
                    f"Impossible d'écrire {part} ({exc.strerror or exc}) : vérifiez l'espace "
                    f"disque et les droits, ou placez le fichier {label} à {place_at}."
                ) from exc
        try:
            os.replace(part, dest)
        except OSError as exc:
            raise SourceError(f"Impossible de mettre en place {dest} ({exc.strerror}).") from exc

    def _fetch_once(self, url: str, part: Path, size: int | None) -> bool:
        """One HTTP request appending to (or restarting) `part`; True when it resumed."""
        offset = _resume_offset(part, size)
        if size is not None and offset == size and offset > 0:
            return True  # complete from an earlier run; the caller verifies it
        response = _open(url, part, offset, self.timeout)
        with response:
            mode, resumed = _write_mode(response, part, offset)
            with open(part, mode) as out:
                self._copy(response, out)
            # read() returns b"" when the peer closes early: compare with Content-Length.
            if response.length:
                raise _Transient(f"connexion interrompue ({response.length} octets manquants)")
        return resumed

    def _copy(self, response: http.client.HTTPResponse, out: BinaryIO) -> None:
        """The response body into `out`, counted, then flushed to disk."""
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _Transient(f"connexion interrompue : {_reason(exc)}") from None
            if not chunk:
                break
            out.write(chunk)
            self.bar.update(len(chunk))
            self.report.bytes_downloaded += len(chunk)
        out.flush()
        os.fsync(out.fileno())


def _resume_offset(part: Path, size: int | None) -> int:
    """Bytes of `part` left by an earlier run; a part longer than the file is dropped."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    return offset


def _open(url: str, part: Path, offset: int, timeout: float) -> http.client.HTTPResponse:
    """The response to a GET (from `offset` when resuming); failures as _Transient (worth
    another try) or _HttpFatal."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            part.unlink(missing_ok=True)  # our partial file is no prefix of theirs
            raise _Transient("reprise refusée par le serveur (HTTP 416)") from None
        if exc.code >= 500 or exc.code in RETRY_STATUS:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise _HttpFatal(exc.code, str(exc.reason)) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
        raise _Transient(_reason(exc)) from None


def _write_mode(response: http.client.HTTPResponse, part: Path, offset: int) -> tuple[str, bool]:
    """("ab", True) when the server resumes at `offset` (206), ("wb", False) when it sends the
    whole file again (200); an inconsistent partial answer drops `part`."""
    if response.status == 206 and offset:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match[1]) != offset:
            part.unlink(missing_ok=True)
            raise _Transient("réponse partielle incohérente du serveur")
        return "ab", True
    return "wb", False


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason) or type(exc).__name__


def _check(path: Path, size: int | None, sha256: str | None) -> None:
    # Called after a complete response only: a size mismatch means the server's file differs.
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise _Corrupt(f"{actual} octets au lieu de {size}")
    if sha256 is not None:
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        if digest != sha256:
            raise _Corrupt(f"sha256 {digest[:12]}… au lieu de {sha256[:12]}…")


def resolve_url(url: str, base_url_override: str | None = None) -> str:
    """`url` with its scheme and host replaced by `base_url_override` (path kept)."""
    if not base_url_override:
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return base_url_override.rstrip("/") + parts.path + query


def _extract_members(tarball: Path, members: list[SourceFile], dest: Path) -> dict[str, str]:
    """Extract each member to its target atomically after verification; {path: error}."""
    errors: dict[str, str] = {}
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for f in members:
                target = f.target(dest)
                part = target.with_name(target.name + ".part")
                try:
                    info = tar.getmember(f.member or "")
                    source = tar.extractfile(info) if info.isfile() else None
                    if source is None:
                        raise KeyError(f.member)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    digest = hashlib.sha256()
                    with source, open(part, "wb") as out:
                        # Copy by hand (never tar.extract): no path from the archive is trusted.
                        while chunk := source.read(CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                        out.flush()
                        os.fsync(out.fileno())
                    got = part.stat().st_size
                    if got != f.size or digest.hexdigest() != f.sha256:
                        part.unlink(missing_ok=True)
                        errors[f.path] = (
                            f"le membre {f.member} de l'archive ne correspond pas au manifeste "
                            f"({got} octets, sha256 {digest.hexdigest()[:12]}…) ; placez une "
                            f"copie correcte à {target}."
                        )
                        continue
                    os.replace(part, target)
                except KeyError:
                    errors[f.path] = (
                        f"le membre {f.member} est absent de l'archive ; placez le fichier "
                        f"à {target}."
                    )
                except OSError as exc:
                    part.unlink(missing_ok=True)
                    errors[f.path] = f"impossible d'écrire {target} ({exc.strerror or exc})."
    except (tarfile.TarError, EOFError, OSError) as exc:
        for f in members:
            errors.setdefault(f.path, f"archive {tarball.name} illisible ({exc}).")
    return errors


def download_sources(
    dest: Path,
    files: list[SourceFile] | None = None,
    *,
    base_url_override: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    cache_dir: Path | None = None,
) -> DownloadReport:
    """Download every missing or corrupt file of `files` (default: the manifest) into `dest`.

    Files already present and valid are left alone. Optional files without a URL are listed in
    `report.unavailable`; optional files that fail are listed in `report.failed`. Raises
    SourceError (French, naming the files, URLs and target paths) when a required file could not
    be obtained; the files that did succeed stay in place for the next run.
    `cache_dir` is where the sha256 cache of `verify_sources` lives (optional).
    """
    dest = Path(dest)
    files = load_manifest() if files is None else list(files)
    base = base_url_override or os.environ.get(ENV_BASE_URL) or None
    report = DownloadReport(dest=dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SourceError(
            f"Impossible de créer le dossier des sources {dest} ({exc.strerror}) : choisissez "
            "un autre dossier avec CAFCARTO_SOURCES."
        ) from exc

    bad = {p.file.path for p in verify_sources(dest, deep=True, cache_dir=cache_dir, files=files)}
    todo = [f for f in files if f.path in bad]
    report.present = [f.path for f in files if f.path not in bad]
    direct = [f for f in todo if f.url and not f.member]
    archives: dict[str, list[SourceFile]] = {}
    for f in todo:
        if f.url and f.member:
            archives.setdefault(f.url, []).append(f)
    _note_without_url(todo, dest, report)

    total = sum(f.size for f in direct) + sum(
        (members[0].archive_size or 0) for members in archives.values()
    )
    with _progress_bar(total, progress) as bar:
        fetcher = _Fetcher(timeout, max(0, retries), backoff, bar, report)
        for f in direct:
            _download_file(fetcher, f, resolve_url(f.url or "", base), dest, report)
        for archive_url, members in archives.items():
            _download_archive(fetcher, resolve_url(archive_url, base), members, dest, report)
    _raise_on_required(report, files, dest)
    return report


def _note_without_url(todo: list[SourceFile], dest: Path, report: DownloadReport) -> None:
    """Files to fetch with no URL: failed when required, unavailable otherwise."""
    for f in todo:
        if f.url:
            continue
        if f.required:
            report.failed[f.path] = (
                f"aucune adresse de téléchargement connue ({f.origin}) ; placez le fichier "
                f"à {f.target(dest)}."
            )
        else:
            report.unavailable.append(f.path)


def _progress_bar(total: int, progress: bool) -> tqdm:
    """A byte counter on stderr, shown only on a terminal."""
    show = progress and sys.stderr.isatty()
    return tqdm(
        total=total or None,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="Sources",
        disable=not show,
        leave=False,
    )


def _download_file(
    fetcher: _Fetcher, f: SourceFile, url: str, dest: Path, report: DownloadReport
) -> None:
    fetcher.bar.set_postfix_str(Path(f.path).name, refresh=False)
    try:
        fetcher.fetch(
            _checked_url(url),
            f.target(dest),
            size=f.size,
            sha256=f.sha256,
            label=f.path,
            place_at=str(f.target(dest)),
        )
        report.downloaded.append(f.path)
    except (SourceError, _HttpFatal) as exc:
        report.failed[f.path] = _http_message(exc, f.path, url, str(f.target(dest)))


def _raise_on_required(report: DownloadReport, files: list[SourceFile], dest: Path) -> None:
    """SourceError listing the required files that failed, if any."""
    failed_required = {
        p: m for p, m in report.failed.items() if any(f.path == p and f.required for f in files)
    }
    if not failed_required:
        return
    lines = [
        f"Téléchargement des sources incomplet dans {dest} : "
        f"{len(failed_required)} fichier(s) obligatoire(s) en échec."
    ]
    lines += [f"  - {path} : {msg}" for path, msg in failed_required.items()]
    lines.append(
        "Les fichiers déjà téléchargés sont conservés ; relancez `cafcarto build --download` "
        "pour reprendre."
    )
    raise SourceError("\n".join(lines), report=report)


def _checked_url(url: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError(f"Adresse de téléchargement non prise en charge : {url} (http/https).")
    return url


def _http_message(exc: Exception, label: str, url: str, place_at: str) -> str:
    if isinstance(exc, _HttpFatal):
        return (
            f"Impossible de télécharger {label} depuis {url} : le serveur a répondu "
            f"HTTP {exc.code} ({exc.reason}). Placez le fichier à {place_at}, ou signalez "
            "l'adresse à mettre à jour dans geodata/sources_manifest.json."
        )
    return str(exc)


def _download_archive(
    fetcher: _Fetcher,
    url: str,
    members: list[SourceFile],
    dest: Path,
    report: DownloadReport,
) -> None:
    """Fetch one archive once, extract the needed members, then drop the archive."""
    name = Path(urlsplit(url).path).name or "archive"
    tarball = dest / DOWNLOADS_DIR / name
    first = members[0]
    label = f"l'archive {name} ({', '.join(f.path for f in members)})"
    place_at = ", ".join(str(f.target(dest)) for f in members)
    try:
        if not _valid_archive(tarball, first.archive_size, first.archive_sha256):
            fetcher.fetch(
                _checked_url(url),
                tarball,
                size=first.archive_size,
                sha256=first.archive_sha256,
                label=label,
                place_at=place_at,
            )
    except (SourceError, _HttpFatal) as exc:
        message = _http_message(exc, label, url, place_at)
        for f in members:
            report.failed[f.path] = message
        return
    errors = _extract_members(tarball, members, dest)
    report.failed.update(errors)
    report.downloaded += [f.path for f in members if f.path not in errors]
    # The archive is only a vehicle: once its members are handled (or found bad) it goes.
    tarball.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty (another archive) or already gone
        tarball.parent.rmdir()


def _valid_archive(path: Path, size: int | None, sha256: str | None) -> bool:
    """An archive left by an earlier run is reused only when it can be verified."""
    if not path.is_file() or sha256 is None:
        return False
    try:
        _check(path, size, sha256)
    except _Corrupt:
        return False
    return True
