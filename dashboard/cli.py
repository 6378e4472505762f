"""`cafcarto`: build the cache, serve the app, install the front-end libraries."""

from __future__ import annotations

import argparse
import sys

from dashboard.config import Settings


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from geodata.build import build
    from geodata.download import download_sources
    from geodata.sources import SourceError, locate_sources, require_sources, verify_sources

    try:
        sources = locate_sources(settings.sources, allow_missing=True)
        missing = [p for p in verify_sources(sources) if p.file.required]
        if args.download or (missing and not args.no_download):
            if missing:
                print(
                    f"{len(missing)} fichier(s) source manquant(s) : téléchargement dans {sources}"
                )
            report = download_sources(sources, cache_dir=settings.cache)
            for notice in report.notices():
                print(notice)
        for notice in require_sources(sources, deep=args.verify, cache_dir=settings.cache):
            print(notice)
    except SourceError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    deps = [d.strip().upper() for d in args.departements.split(",")] if args.departements else None
    build(sources, settings.cache, departements=deps, force=args.force)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.app import create_app

    app = create_app(settings)
    app.run(host=args.host or settings.host, port=args.port or settings.port, debug=False)
    return 0


def _vendor(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.vendor import install

    install(settings.vendor, force=args.force)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cafcarto", description="Cafdata Carto")
    sub = root.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="construit le cache (géométries, voisinages, géométrie web)")
    b.add_argument("--force", action="store_true", help="reconstruit même si le cache est à jour")
    b.add_argument(
        "--download",
        action="store_true",
        help="vérifie et complète les sources officielles dans CAFCARTO_SOURCES",
    )
    b.add_argument(
        "--no-download",
        action="store_true",
        help="échoue au lieu de télécharger les sources manquantes",
    )
    b.add_argument("--verify", action="store_true", help="vérifie les sommes de contrôle")
    b.add_argument("--departements", help="ne construit que ces départements (ex. 40,64)")
    b.set_defaults(func=_build)

    s = sub.add_parser("serve", help="sert l'application (HOST, PORT)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=_serve)

    v = sub.add_parser("vendor", help="installe MapLibre et Bootstrap depuis npm")
    v.add_argument("--force", action="store_true")
    v.set_defaults(func=_vendor)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args, Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
