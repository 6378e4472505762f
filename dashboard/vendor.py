"""Front-end libraries (MapLibre GL JS, Bootstrap) installed from npm into the vendor directory.

The app never loads anything from a CDN: `install()` runs `npm ci` on the pinned manifest
in `dashboard/frontend/` and the Flask route `/vendor/<name>` serves the few files listed in
`VENDOR_FILES`, nothing else.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

FRONTEND_DIR = Path(__file__).resolve().parent / "frontend"
MANIFEST_FILES = ("package.json", "package-lock.json")

# Public name (URL) -> path inside the vendor directory. The only files /vendor/ will serve.
# MapLibre 6 ships ES modules only; its worker is loaded relative to the main module URL, so
# both must be served from the same folder.
VENDOR_FILES: dict[str, str] = {
    "maplibre-gl.mjs": "node_modules/maplibre-gl/dist/maplibre-gl.mjs",
    "maplibre-gl-worker.mjs": "node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs",
    "maplibre-gl.css": "node_modules/maplibre-gl/dist/maplibre-gl.css",
    "bootstrap.min.css": "node_modules/bootstrap/dist/css/bootstrap.min.css",
}


# Installed with `dev=True` only (npm devDependencies), for the tests; never served.
TEST_FILES: dict[str, str] = {"axe.min.js": "node_modules/axe-core/axe.min.js"}

MIME_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".css": "text/css"}


def vendor_path(vendor_dir: Path, name: str) -> Path | None:
    """Return the file behind a whitelisted public name, or None if unknown or not installed."""
    rel = VENDOR_FILES.get(name)
    if rel is None:
        return None
    path = vendor_dir / rel
    return path if path.is_file() else None


@lru_cache(maxsize=32)
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def file_version(vendor_dir: Path, name: str) -> str | None:
    """Short content hash of a vendor file (its `?v=`), None when not installed."""
    path = vendor_path(vendor_dir, name)
    if path is None:
        return None
    stat = path.stat()
    return _file_hash(str(path), stat.st_mtime_ns, stat.st_size)


def package_version(vendor_dir: Path, name: str) -> str | None:
    """npm version of the package a vendor file comes from (MapLibre asks for its worker as
    `maplibre-gl-worker.mjs?v=<version>`); the pinned package-lock makes it name one content."""
    rel = VENDOR_FILES.get(name)
    if rel is None:
        return None
    package = vendor_dir / Path(rel).parts[0] / Path(rel).parts[1] / "package.json"
    try:
        return str(json.loads(package.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def vendor_url(vendor_dir: Path, name: str) -> str:
    """`/vendor/<name>?v=<hash>`: a content-hashed URL that browsers may keep for a year."""
    version = file_version(vendor_dir, name)
    return f"/vendor/{name}" + (f"?v={version}" if version else "")


def missing_files(vendor_dir: Path) -> list[str]:
    """Public names of the vendor files that are not installed yet."""
    return [name for name in VENDOR_FILES if vendor_path(vendor_dir, name) is None]


def dev_file(vendor_dir: Path, name: str) -> Path | None:
    """A test-only front-end file (axe-core for the accessibility audit), if installed."""
    path = vendor_dir / TEST_FILES[name]
    return path if path.is_file() else None


def is_installed(vendor_dir: Path, dev: bool = False) -> bool:
    """True when every served file exists and the installed manifest matches the pinned one
    (and, with `dev`, the test-only files too)."""
    if missing_files(vendor_dir):
        return False
    if dev and any(dev_file(vendor_dir, name) is None for name in TEST_FILES):
        return False
    return all(
        (vendor_dir / f).is_file() and filecmp.cmp(FRONTEND_DIR / f, vendor_dir / f, shallow=False)
        for f in MANIFEST_FILES
    )


def install(
    vendor_dir: Path, *, force: bool = False, quiet: bool = False, dev: bool = False
) -> Path:
    """Install the pinned front-end packages into `vendor_dir` with `npm ci` (idempotent);
    `dev` adds the test-only packages."""
    vendor_dir = Path(vendor_dir)
    if not force and is_installed(vendor_dir, dev):
        return vendor_dir
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm est introuvable : installez Node.js (npm) pour récupérer MapLibre et Bootstrap."
        )
    vendor_dir.mkdir(parents=True, exist_ok=True)
    for name in MANIFEST_FILES:
        shutil.copyfile(FRONTEND_DIR / name, vendor_dir / name)
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    if not dev:
        cmd.append("--omit=dev")
    if quiet:
        cmd.append("--silent")
    subprocess.run(cmd, cwd=vendor_dir, check=True)
    still_missing = missing_files(vendor_dir)
    if still_missing:
        raise RuntimeError(f"npm ci n'a pas installé : {', '.join(still_missing)}")
    return vendor_dir


def main(argv: list[str] | None = None) -> int:
    """`python -m dashboard.vendor [--force]`: install the front-end libraries."""
    from layers.config import Settings

    args = sys.argv[1:] if argv is None else argv
    target = install(Settings.from_env().vendor, force="--force" in args)
    print(f"Bibliothèques front-end installées dans {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
