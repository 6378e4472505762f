"""Raw sources: the manifest of expected files, their verification and the build fingerprint.

The build reads raw public files from a sources directory (CAFCARTO_SOURCES, see
dashboard/config.py). `geodata/sources_manifest.json` lists every expected file with its size,
sha256, whether the build needs it, and where the official copy can be downloaded. That manifest
is generated from a reference copy of the sources with::

    python -m geodata.sources --write-manifest --from /work/shared/data

and a sources directory can be checked with ``python -m geodata.sources --check [DIR] [--deep]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

MANIFEST_PATH = Path(__file__).with_name("sources_manifest.json")
MANIFEST_FORMAT = 1
SHA_CACHE_NAME = "sources-sha256.json"
# Bump when the fingerprint recipe changes, so old build caches are seen as stale.
FINGERPRINT_VERSION = 1

FRANCE_GEOJSON_RAW = "https://raw.githubusercontent.com/gregoiredavid/france-geojson/v2.1.1"
DECOUPAGE_TGZ = (
    "https://registry.npmjs.org/@etalab/decoupage-administratif/-/decoupage-administratif-6.0.0.tgz"
)
# Pinned commits: the samples were taken from these public repository states (sizes checked).
HACKAVIZ_RAW = "https://raw.githubusercontent.com/ToulouseDataViz/Hackaviz2021"
HACKAVIZ_QP_GEOJSON = f"{HACKAVIZ_RAW}/cfe2140ab661b24a604d125b577618e949826821/data/qp.geojson"
HACKAVIZ_QP_CSV = f"{HACKAVIZ_RAW}/2bb03347613dbe86aa41a71cbf0a0408d572bfb2/data/qp.csv"

# Official addresses of the national infra-communal files. The local copies are not byte for
# byte those downloads (the QPV shapefile comes from a CGET bundle, the IRIS were rebuilt from
# IGN's vector tiles), so they are not downloaded automatically: `url` stays empty and `official`
# says where a user gets the producer's file (same codes, same columns).
QPV_DATASET = (
    "https://www.data.gouv.fr/fr/datasets/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/"
)
QPV_2024_DATASET = "https://www.data.gouv.fr/datasets/quartiers-prioritaires-politique-de-la-ville-anct-26avril2024/"
QPV_ATLAS = "https://sig.ville.gouv.fr/Atlas/QP/"
IRIS_PAGE = "https://geoservices.ign.fr/contoursiris"
IRIS_2020_7Z = (
    "https://data.geopf.fr/telechargement/download/CONTOURS-IRIS/"
    "CONTOURS-IRIS_2-1__SHP__FRA_2020-01-01/CONTOURS-IRIS_2-1__SHP__FRA_2020-01-01.7z"
)
LICENCE_OUVERTE = "Licence Ouverte / Open Licence (Etalab)"

DOWNLOAD_HINT = "cafcarto build --download"
ProblemKind = Literal["missing", "size", "checksum"]


class SourceError(Exception):
    """A raw source is missing, corrupt or cannot be downloaded; the message is for users (French).

    `problems` lists the files concerned when known, `report` carries a download report when the
    error comes from `geodata.download.download_sources`.
    """

    def __init__(
        self,
        message: str,
        problems: list[SourceProblem] | None = None,
        *,
        report: object | None = None,
    ) -> None:
        super().__init__(message)
        self.problems: list[SourceProblem] = list(problems or [])
        self.report = report

    @classmethod
    def from_problems(
        cls, root: Path, problems: list[SourceProblem], *, limit: int = 5
    ) -> SourceError:
        """One French message naming each bad file, its download location and its full path."""
        root = Path(root)
        required = [p for p in problems if p.file.required]
        shown = required or problems
        if len(shown) == 1:
            count = f"1 fichier {'obligatoire' if required else 'optionnel'} manquant ou corrompu"
        else:
            kind = "obligatoires" if required else "optionnels"
            count = f"{len(shown)} fichiers {kind} manquants ou corrompus"
        lines = [f"Sources brutes incomplètes dans {root} : {count}."]
        if len(shown) >= 10 and all(p.kind == "missing" for p in shown):
            lines.append("Vérifiez que CAFCARTO_SOURCES désigne le bon dossier.")
        for problem in shown[:limit]:
            lines.append(f"  - {problem.file.path} : {problem.describe()}")
            lines.append(f"      {problem.file.where_to_download()}")
            lines.append(f"      à placer dans {problem.target}")
        if len(shown) > limit:
            rest = len(shown) - limit
            lines.append(
                f"  … et {rest} autre{'s' if rest > 1 else ''} fichier{'s' if rest > 1 else ''} "
                f"(liste complète : python -m geodata.sources --check {root}). Provenance :"
            )
            for url, target, count in _download_groups(root, [p.file for p in shown]):
                lines.append(f"  - {url} → {target} ({_plural(count, 'fichier')})")
        lines.append(
            f"Pour tout télécharger automatiquement : `{DOWNLOAD_HINT}` "
            "(ou définissez CAFCARTO_SOURCES vers un dossier qui contient ces fichiers)."
        )
        return cls("\n".join(lines), problems)

    @classmethod
    def missing_root(cls, root: Path, files: list[SourceFile] | None = None) -> SourceError:
        """The sources directory itself does not exist: say what goes in it and from where."""
        root = Path(root)
        files = load_manifest() if files is None else files
        total = sum(f.size for f in files)
        lines = [
            f"Le dossier des sources brutes {root} n'existe pas.",
            f"Lancez `{DOWNLOAD_HINT}` pour y télécharger les {len(files)} fichiers "
            f"({total / 1e6:.0f} Mo), ou définissez CAFCARTO_SOURCES vers un dossier qui les "
            "contient (organisation décrite dans geodata/sources_manifest.json).",
            "Provenance officielle des fichiers :",
        ]
        for url, target, count in _download_groups(root, files):
            lines.append(f"  - {url} → {target} ({_plural(count, 'fichier')})")
        return cls("\n".join(lines), [SourceProblem(f, "missing", f.target(root)) for f in files])


@dataclass(frozen=True)
class SourceFile:
    """One expected raw file, relative to the sources directory (POSIX path)."""

    path: str
    size: int
    sha256: str
    required: bool
    level: str
    url: str | None
    # For files shipped inside an archive (npm tarball): the member name; `url` is the archive's.
    member: str | None = None
    archive_size: int | None = None
    archive_sha256: str | None = None
    origin: str = ""
    # The producer's own download page or file, when the local copy is not byte for byte it.
    official: str | None = None
    licence: str = ""

    def target(self, root: Path) -> Path:
        return Path(root) / self.path

    def where_to_download(self) -> str:
        """French one-liner: where a user gets this file by hand."""
        if self.url and self.member:
            return f"à extraire de l'archive {self.url} (membre {self.member})"
        if self.url:
            return f"à télécharger depuis {self.url}"
        official = f" ; fichier du producteur : {self.official}" if self.official else ""
        return (
            f"pas de téléchargement automatique : {self.origin or 'source non documentée'}"
            f"{official}"
        )


@dataclass(frozen=True)
class SourceProblem:
    file: SourceFile
    kind: ProblemKind
    target: Path
    actual_size: int | None = None
    actual_sha256: str | None = None

    def describe(self) -> str:
        if self.kind == "missing":
            return "manquant"
        if self.kind == "size":
            return f"taille incorrecte ({self.actual_size} octets au lieu de {self.file.size})"
        return (
            f"contenu corrompu (sha256 {str(self.actual_sha256)[:12]}… "
            f"au lieu de {self.file.sha256[:12]}…)"
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def _download_groups(root: Path, files: list[SourceFile]) -> list[tuple[str, Path, int]]:
    """(common URL prefix, target folder, count) per folder, to keep messages short."""
    groups: dict[str, list[SourceFile]] = {}
    for f in files:
        groups.setdefault(str(Path(f.path).parent), []).append(f)
    out = []
    for folder, members in groups.items():
        urls = sorted({f.url for f in members if f.url})
        target = Path(root) / folder
        if not urls:
            out.append(
                (f"sans téléchargement automatique ({members[0].origin})", target, len(members))
            )
            continue
        if len(urls) == 1:
            url = urls[0]
            if all(f.member for f in members):
                url += " (membres " + ", ".join(f.member or "" for f in members) + ")"
        else:
            prefix = os.path.commonprefix(urls)
            url = prefix[: prefix.rfind("/") + 1] + "…"
        out.append((url, target, len(members)))
    return out


# --------------------------------------------------------------------------- manifest


@lru_cache(maxsize=4)
def _load_manifest_cached(path: str, mtime_ns: int) -> tuple[SourceFile, ...]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != MANIFEST_FORMAT:
        raise SourceError(f"Manifeste des sources {path} : format {data.get('format')} inconnu.")
    archives = data.get("archives", {})
    files = []
    for entry in data["files"]:
        archive = archives.get(entry.get("url") or "", {}) if entry.get("member") else {}
        files.append(
            SourceFile(
                path=entry["path"],
                size=int(entry["size"]),
                sha256=entry["sha256"],
                required=bool(entry["required"]),
                level=entry["level"],
                url=entry.get("url"),
                member=entry.get("member"),
                archive_size=archive.get("size"),
                archive_sha256=archive.get("sha256"),
                origin=entry.get("origin", ""),
                official=entry.get("official"),
                licence=entry.get("licence", ""),
            )
        )
    return tuple(files)


def load_manifest(path: Path | None = None) -> list[SourceFile]:
    """The expected raw files (geodata/sources_manifest.json unless `path` is given)."""
    path = Path(path or MANIFEST_PATH)
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise SourceError(f"Manifeste des sources introuvable : {path}.") from exc
    return list(_load_manifest_cached(str(path), mtime_ns))


_COMMUNES_RE = re.compile(
    r"^geo/communes-2018/communes-(?P<slug>[0-9AB]{2,3}-[a-z0-9-]+)\.geojson$"
)

_IRIS_ORIGIN = (
    "échantillon IRIS de la métropole de Lyon (~2012) tiré d'un dépôt public non retrouvé ; "
    "contours nationaux officiels : IGN CONTOURS-IRIS, https://geoservices.ign.fr/contoursiris"
)
_QPV_ORIGIN = (
    "échantillon QPV 2015 Occitanie du dépôt public ToulouseDataViz/Hackaviz2021 ; contours "
    "nationaux officiels : ANCT, https://sig.ville.gouv.fr (QPV 2024 sur data.gouv.fr)"
)


def describe_path(rel: str) -> dict[str, object] | None:
    """Manifest fields (level, required, url, member, origin) for a path of the layout.

    Returns None for files that are not part of the layout (SOURCES.md, stray files).
    """
    if m := _COMMUNES_RE.match(rel):
        slug = m["slug"]
        return {
            "level": "communes",
            "required": True,
            "url": f"{FRANCE_GEOJSON_RAW}/departements/{slug}/communes-{slug}.geojson",
            "origin": "gregoiredavid/france-geojson v2.1.1 (IGN Admin Express COG 2018)",
        }
    if rel in (
        "geo/departements-regions/departements-avec-outre-mer.geojson",
        "geo/departements-regions/regions-avec-outre-mer.geojson",
    ):
        name = rel.rsplit("/", 1)[1]
        return {
            "level": "departements" if name.startswith("dep") else "regions",
            "required": True,
            "url": f"{FRANCE_GEOJSON_RAW}/{name}",
            "origin": "gregoiredavid/france-geojson v2.1.1 (IGN Admin Express COG 2018)",
        }
    if m := re.match(
        r"^territoires/(communes|epci|departements|regions|arrondissements|ept)\.json$", rel
    ):
        return {
            "level": "territoires",
            "required": True,
            "url": DECOUPAGE_TGZ,
            "member": f"package/data/{m[1]}.json",
            "origin": "npm @etalab/decoupage-administratif 6.0.0 (COG 2026)",
        }
    if rel == "territoires/LICENSE-code-MIT":
        return {
            "level": "licence",
            "required": False,
            "url": DECOUPAGE_TGZ,
            "member": "package/LICENSE",
            "origin": "licence MIT du code de @etalab/decoupage-administratif",
        }
    if rel == "qpv/qp-2015-occitanie.geojson":
        return {
            "level": "qpv",
            "required": False,
            "url": HACKAVIZ_QP_GEOJSON,
            "origin": _QPV_ORIGIN,
        }
    if rel == "qpv/qp-2015-occitanie-indicateurs-insee.csv":
        return {"level": "qpv", "required": False, "url": HACKAVIZ_QP_CSV, "origin": _QPV_ORIGIN}
    if rel == "iris/iris-lyon-metropole.geojson":
        return {"level": "iris", "required": False, "url": None, "origin": _IRIS_ORIGIN}
    return _national_infra(rel)


def _national_infra(rel: str) -> dict[str, object] | None:
    """The national QPV 2015 shapefile (5 files) and the national IRIS 2020 file."""
    if rel.startswith("qpv/qpv-2015-france/"):
        return {
            "level": "qpv",
            "required": False,
            "url": None,
            "official": QPV_DATASET,
            "licence": LICENCE_OUVERTE,
            "origin": (
                "QPV 2015 de métropole et d'outre-mer (CGET, aujourd'hui ANCT), copie inchangée "
                f"du lot CGET « qp-politiquedelaville-shp » ; atlas : {QPV_ATLAS} ; "
                f"contours des QPV 2024 : {QPV_2024_DATASET}"
            ),
        }
    if rel == "iris/iris-2020-metropole.geojson.gz":
        return {
            "level": "iris",
            "required": False,
            "url": None,
            "official": IRIS_2020_7Z,
            "licence": LICENCE_OUVERTE,
            "origin": (
                "IRIS 2020 de métropole (IGN CONTOURS-IRIS 2-1) reconstitués depuis les tuiles "
                f"vectorielles publiées par un dépôt public ; édition officielle : {IRIS_PAGE} "
                "(adresse du fichier 2020 selon le modèle de data.geopf.fr, non vérifiée en ligne)"
            ),
        }
    return None


def build_manifest(root: Path, archives: dict[str, dict[str, object]] | None = None) -> dict:
    """Scan a reference sources directory and return the manifest document."""
    root = Path(root)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        meta = describe_path(rel)
        if meta is None:
            continue
        entry: dict[str, object] = {"path": rel, "size": path.stat().st_size}
        entry["sha256"] = sha256_file(path)
        entry.update({k: v for k, v in meta.items() if v is not None or k == "url"})
        files.append(entry)
    communes = sum(1 for f in files if f["level"] == "communes")
    if communes != 101:
        print(f"attention : {communes} fichiers de communes au lieu de 101", file=sys.stderr)
    return {
        "format": MANIFEST_FORMAT,
        "description": (
            "Raw sources expected under CAFCARTO_SOURCES; generated by "
            "`python -m geodata.sources --write-manifest`. sha256/size are those of the files "
            "as placed in the sources directory (for archive members: of the extracted member)."
        ),
        "notes": [
            "france-geojson: contents matched the 2018 files of gregoiredavid/france-geojson "
            "(checked at commits 45daa2d0 and 5e94d651 in a code index); the v2.1.1 tag itself "
            "could not be checked offline.",
            "territoires: the 6 JSON files and LICENSE are byte-identical to the members of the "
            "npm tarball @etalab/decoupage-administratif@6.0.0 (npm shasum "
            "0330556cf07e21fff21111e5775a316ec18b9636).",
            "qpv: pinned commits of ToulouseDataViz/Hackaviz2021; sizes matched in a code index, "
            "bytes not checked online. National QPV: ANCT sig.ville.gouv.fr / data.gouv.fr.",
            "iris: original public repository not found; no URL. National IRIS contours: "
            "IGN CONTOURS-IRIS (https://geoservices.ign.fr/contoursiris).",
            "national QPV 2015 and IRIS 2020: local copies are not the producers' bytes, so no "
            "automatic download (url null); `official` gives the producer's address, `licence` "
            "its licence.",
        ],
        "archives": archives or {},
        "files": files,
    }


def write_manifest(root: Path, out: Path = MANIFEST_PATH) -> Path:
    """Regenerate the manifest from `root`, keeping the known archive checksums."""
    archives: dict[str, dict[str, object]] = {}
    if Path(out).exists():
        archives = json.loads(Path(out).read_text(encoding="utf-8")).get("archives", {})
    archives.setdefault(DECOUPAGE_TGZ, {"size": 1603831, "sha256": _DECOUPAGE_TGZ_SHA256})
    doc = build_manifest(root, archives)
    _atomic_write_text(Path(out), _dump_manifest(doc))
    return Path(out)


# sha256 of the npm tarball as served by registry.npmjs.org (npm shasum 0330556c…).
_DECOUPAGE_TGZ_SHA256 = "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a"


# --------------------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _atomic_write_text(path: Path, text: str) -> None:
    # Same folder so os.replace is atomic; a plain open() keeps the usual umask permissions.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _dump_manifest(doc: dict) -> str:
    """Indented header, one file per line: small and readable in diffs."""
    head = {k: v for k, v in doc.items() if k != "files"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    rows = ",\n".join("  " + json.dumps(f, ensure_ascii=False) for f in doc["files"])
    return f'{text},\n "files": [\n{rows}\n ]\n}}\n'


@dataclass
class ShaCache:
    """sha256 of files keyed by (absolute path, size, mtime_ns), persisted as a small JSON.

    With `cache_dir=None` nothing is persisted (every checksum is computed).
    """

    cache_dir: Path | None
    entries: dict[str, list] = field(default_factory=dict)
    dirty: bool = False

    def __post_init__(self) -> None:
        if self.cache_dir is None:
            return
        try:
            data = json.loads((Path(self.cache_dir) / SHA_CACHE_NAME).read_text("utf-8"))
            if isinstance(data, dict):
                self.entries = data
        except (OSError, ValueError):
            # A missing or damaged cache only costs a recomputation.
            self.entries = {}

    def sha256(self, path: Path, stat: os.stat_result | None = None) -> str:
        stat = stat or path.stat()
        key = str(path.resolve())
        cached = self.entries.get(key)
        if (
            isinstance(cached, list)
            and len(cached) == 3
            and cached[0] == stat.st_size
            and cached[1] == stat.st_mtime_ns
        ):
            return cached[2]
        digest = sha256_file(path)
        self.entries[key] = [stat.st_size, stat.st_mtime_ns, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        if self.cache_dir is None or not self.dirty:
            return
        try:
            _atomic_write_text(Path(self.cache_dir) / SHA_CACHE_NAME, json.dumps(self.entries))
            self.dirty = False
        except OSError:
            pass  # read-only cache dir: verification still works, only slower next time


# --------------------------------------------------------------------------- public API


def default_sources_dir() -> Path:
    """../shared/data beside the checkout when present, else .cache/sources (download target)."""
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo.parent / "shared" / "data", repo / "sources"):
        if candidate.is_dir():
            return candidate
    return repo / ".cache" / "sources"


def locate_sources(configured: Path | None = None, *, allow_missing: bool = False) -> Path:
    """The sources directory to use: `configured`, else the Settings default (CAFCARTO_SOURCES).

    Raises SourceError (French, naming the download URLs and target folders) when the directory
    does not exist, unless `allow_missing` (the caller is about to download into it).
    """
    if configured is None:
        configured = Path(os.environ.get("CAFCARTO_SOURCES") or default_sources_dir())
    root = Path(configured).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise SourceError(
            f"Le chemin des sources brutes {root} est un fichier, pas un dossier : "
            "corrigez CAFCARTO_SOURCES."
        )
    if not root.is_dir() and not allow_missing:
        raise SourceError.missing_root(root)
    return root


def verify_sources(
    root: Path,
    *,
    deep: bool = False,
    cache_dir: Path | None = None,
    files: Iterable[SourceFile] | None = None,
) -> list[SourceProblem]:
    """Problems (missing / wrong size / wrong checksum when `deep`) of the files under `root`.

    Optional files are reported too (check `problem.file.required`). Checksums are cached in
    `cache_dir`/sources-sha256.json by (path, size, mtime_ns), so a warm deep check only stats.
    """
    root = Path(root)
    files = load_manifest() if files is None else list(files)
    cache = ShaCache(cache_dir) if deep else None
    problems: list[SourceProblem] = []
    for f in files:
        target = f.target(root)
        try:
            stat = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            problems.append(SourceProblem(f, "missing", target))
            continue
        if stat.st_size != f.size:
            problems.append(SourceProblem(f, "size", target, actual_size=stat.st_size))
            continue
        if cache is not None:
            digest = cache.sha256(target, stat)
            if digest != f.sha256:
                problems.append(
                    SourceProblem(f, "checksum", target, stat.st_size, actual_sha256=digest)
                )
    if cache is not None:
        cache.save()
    return problems


def require_sources(root: Path, *, deep: bool = False, cache_dir: Path | None = None) -> list[str]:
    """Raise SourceError when a required file is bad; return French notices for optional ones."""
    problems = verify_sources(root, deep=deep, cache_dir=cache_dir)
    if any(p.file.required for p in problems):
        raise SourceError.from_problems(root, problems)
    return [
        f"Source optionnelle {p.file.path} {p.describe()} ({p.target}) : le niveau "
        f"« {p.file.level} » sera ignoré. {p.file.where_to_download()}."
        for p in problems
    ]


def fingerprint(
    root: Path, *, cache_dir: Path | None = None, files: Iterable[SourceFile] | None = None
) -> str:
    """Content hash of the sources as the build sees them (hex sha256).

    Based on each expected file's actual sha256 (cached like `verify_sources`) or its absence,
    so it ignores mtimes and copies, and changes when a file is fixed, replaced or added.
    """
    root = Path(root)
    files = load_manifest() if files is None else list(files)
    cache = ShaCache(cache_dir)
    h = hashlib.sha256(f"cafcarto-sources-v{FINGERPRINT_VERSION}\n".encode())
    for f in sorted(files, key=lambda f: f.path):
        target = f.target(root)
        try:
            stat = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            h.update(f"{f.path}\tabsent\n".encode())
            continue
        h.update(f"{f.path}\t{stat.st_size}\t{cache.sha256(target, stat)}\n".encode())
    cache.save()
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geodata.sources", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-manifest", action="store_true", help="regenerate the manifest")
    action.add_argument("--check", nargs="?", const="", metavar="DIR", help="verify a sources dir")
    parser.add_argument("--from", dest="source", type=Path, help="reference sources directory")
    parser.add_argument("--deep", action="store_true", help="also verify sha256 checksums")
    parser.add_argument("--cache-dir", type=Path, help="where to keep the sha256 cache")
    args = parser.parse_args(argv)
    try:
        if args.write_manifest:
            root = locate_sources(args.source)
            out = write_manifest(root)
            print(f"{out} écrit depuis {root} ({len(load_manifest(out))} fichiers)")
            return 0
        root = locate_sources(Path(args.check) if args.check else None)
        problems = verify_sources(root, deep=args.deep, cache_dir=args.cache_dir)
        for p in problems:
            flag = "OBLIGATOIRE" if p.file.required else "optionnel"
            print(f"[{flag}] {p.file.path} : {p.describe()} → {p.target}")
            print(f"    {p.file.where_to_download()}")
        print(f"{root} : {_plural(len(problems), 'problème')}")
        return 1 if any(p.file.required for p in problems) else 0
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
