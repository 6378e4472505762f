"""`cafcarto`: build the cache, serve the app, install the front-end libraries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard.server.production import DEFAULT_THREADS, DEFAULT_TIMEOUT
from layers.config import ConfigError, Settings


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from geodata.build import BuildStepError, build
    from geodata.download import download_sources
    from geodata.sources import SourceError, locate_sources, require_sources, verify_sources
    from geodata.tiles import TilesError

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
    try:
        geo = build(sources, settings.cache, departements=deps, force=args.force)
        if args.demo != "aucune":
            from layers.build_store import build_demo_store

            build_demo_store(
                geo.build_dir,
                settings.store_demo,
                force=args.force,
                min_households=settings.infra_min_households,
            )
    except (TilesError, BuildStepError) as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        from dashboard.jobs import STORAGE_ERRNOS

        if exc.errno not in STORAGE_ERRNOS:
            raise
        # The build is written beside the one in service, published by one rename at the end:
        # a cache that is full or read-only leaves the current build serving.
        print(ERR_CACHE_UNWRITABLE.format(cache=settings.cache, err=exc), file=sys.stderr)
        return 1
    return 0


ERR_CACHE_UNWRITABLE = (
    "Erreur : le cache de construction ({cache}) est plein ou en lecture seule ({err}). La "
    "construction en service reste servie ; libérez de la place ou rendez le dossier "
    "inscriptible, puis relancez « cafcarto build »."
)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from geodata.cache import CacheError, active_dir, require_active

    real = active_dir(settings.store_import)
    if real is not None:  # the store in service is real: audit what the app derived from it
        return _audit_real(real, active_dir(settings.cache), settings.infra_min_households)
    from layers.build_store import audit_store, check_lines, store_checks, summarise
    from layers.store import Store, StoreError

    try:
        geo = require_active(settings.cache)
        store = Store(require_active(settings.store_demo))
    except (CacheError, StoreError) as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    periods = args.periodes.split(",") if args.periodes else None
    reports = audit_store(store, geo, protection=args.protection, periods=periods)
    s = summarise(reports)
    width = "—" if s["intervalle_min"] is None else f"{s['intervalle_min']:g}"
    print(
        f"Audit du secret : {s['tableaux']} tableaux, {s['cellules']} cellules vérifiées, "
        f"{s['secretes']} secrètes, intervalle le plus étroit {width}, {s['echecs']} échec(s) "
        f"({s['secondes']} s)"
    )
    checks = store_checks(store, geo, periods, min_households=settings.infra_min_households)
    print("\n".join(check_lines(checks)))
    failed = (
        s["echecs"]
        or checks["cellules_liees"]
        or len(checks["ecarts_arrondi"])
        or len(checks["zones_sous_seuil"])
    )
    return 1 if failed else 0


def _audit_real(folder: Path, build: Path | None, min_households: int) -> int:
    from layers.real_audit import audit_real_store
    from layers.real_derived import geography_of

    found = build is not None and (build / "geo" / "commune.parquet").is_file()
    geography = geography_of(build) if found else None
    report = audit_real_store(folder, geography, min_households)
    for line in [*report.conflicts, *report.failures]:
        print(f"  {line}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from geodata.cog import load_cog
    from geodata.sources import locate_sources
    from layers.ingest import CafdataFormatError, parse_file
    from layers.real_store import publish_real
    from layers.store import StoreError

    cog = load_cog(locate_sources(settings.sources) / "territoires")
    status = 0
    for name in args.fichiers:
        path = Path(name)
        try:
            result = parse_file(path, cog)
            publish_real(
                settings.store_import,
                [result],
                [path.name],
                cog=cog,
                threshold=settings.secrecy_threshold,
                min_households=settings.infra_min_households,
                log=print,
                bars=sys.stderr,
            )
        except (CafdataFormatError, StoreError, OSError) as exc:
            print(f"Erreur dans {path.name} : {exc} (fichier non importé)", file=sys.stderr)
            status = 2
            continue
        print(f"{path.name} : {result.report.resume()}")
    return status


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from functools import cache

    from geodata.cog import load_cog
    from geodata.sources import locate_sources
    from layers.ingest.portal import PortalClient, PortalError
    from layers.ingest.sync import SyncJob, sync
    from layers.ingest.sync_progress import SyncProgress
    from layers.store import StoreError

    only = [i.strip() for i in args.jeux.split(",") if i.strip()] if args.jeux else None
    job = SyncJob(
        client=PortalClient(args.portail or settings.portal, timeout=args.delai),
        store_root=settings.store_import,
        downloads=settings.downloads,
        cog=cache(lambda: load_cog(locate_sources(settings.sources) / "territoires")),
        progress=SyncProgress(),
        only=only,
        threshold=settings.secrecy_threshold,
    )
    try:
        summary = sync(job)
    except PortalError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:  # the publication failed: the store in service is untouched
        print(f"Erreur : {exc} (entrepôt en service inchangé)", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return summary.exit_code


def _facilities(args: argparse.Namespace, settings: Settings) -> int:
    from geodata.cache import CacheError, require_active
    from layers.facility_store import remove_facilities
    from layers.ingest import CafdataFormatError

    root = settings.facilities_import
    if args.retirer:
        done = remove_facilities(root)
        print(
            "Équipements importés retirés : retour aux équipements de démonstration."
            if done
            else "Aucun fichier d'équipements importé."
        )
        return 0
    if not args.fichier and not args.bpe:
        print(
            "Erreur : indiquez un fichier d'équipements (CSV, JSON, GeoJSON), --bpe ou --retirer.",
            file=sys.stderr,
        )
        return 2
    try:
        from layers.facility_cli import import_facilities_file

        geo = require_active(settings.cache)
        for line in import_facilities_file(args, settings, geo):
            print(line)
    except (CafdataFormatError, CacheError, OSError, ValueError) as exc:
        print(
            f"Erreur dans {args.fichier or 'la BPE'} : {exc} (fichier non importé)",
            file=sys.stderr,
        )
        return 2
    return 0


def _facilities_command(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "equipements",
        help="importe une liste d'équipements (crèches, LAEP, RPE) : CSV, JSON ou GeoJSON des "
        "portails open data, ou la BPE de l'Insee ; les fichiers successifs s'ajoutent",
    )
    e.add_argument("fichier", nargs="?", help="CSV, JSON, GeoJSON (ou fichier de la BPE)")
    e.add_argument(
        "--colonnes",
        help='rôle des colonnes, par ex. nom="Nom de la crèche",places=capacite (rôles : nom, '
        "type, longitude, latitude, code_insee, code_postal, commune, adresse, places, "
        "identifiant)",
    )
    e.add_argument("--crs", help="système des coordonnées : 4326 (WGS84) ou 2154 (Lambert-93)")
    e.add_argument(
        "--placer-sans-coordonnees",
        action="store_true",
        help="place les lignes sans coordonnées au centre de leur commune (approximatif)",
    )
    e.add_argument(
        "--bpe",
        action="store_true",
        help="importe la Base permanente des équipements de l'Insee (téléchargée si aucun "
        "fichier n'est donné)",
    )
    e.add_argument(
        "--retirer", action="store_true", help="revient aux équipements de démonstration"
    )
    e.set_defaults(func=_facilities)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    host, port = args.host or settings.host, args.port or settings.port
    if args.workers is not None:
        from dashboard.server.production import serve_production

        serve_production(
            settings,
            host=host,
            port=port,
            workers=args.workers,
            threads=args.threads,
            timeout=args.timeout,
            preload=args.preload,
        )
        return 0
    from dashboard.app import create_app

    # Flask's development server, one process (`make run`); never Dash's debug mode.
    create_app(settings).run(host=host, port=port, debug=False, dev_tools_ui=False)
    return 0


def _positive(text: str) -> int:
    """argparse type: an integer ≥ 1, refused in French otherwise."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"« {text} » : un entier ≥ 1 est attendu")
    return int(text)


def _vendor(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.vendor import install

    install(settings.vendor, force=args.force, dev=args.dev)
    return 0


def _data_commands(sub: argparse._SubParsersAction) -> None:
    """`import` (files) and `sync` (the portal): real Cafdata into the real store."""
    i = sub.add_parser("import", help="importe des fichiers Cafdata (CSV ou Parquet)")
    i.add_argument("fichiers", nargs="+")
    i.set_defaults(func=_import)

    y = sub.add_parser(
        "sync",
        help="télécharge les jeux du portail Cafdata (data.caf.fr) dans l'entrepôt réel ; "
        "seuls les jeux republiés depuis la dernière fois sont téléchargés",
    )
    y.add_argument("--portail", help="adresse du portail (défaut : CAFCARTO_PORTAL ou data.caf.fr)")
    y.add_argument("--jeux", help="seulement ces jeux (ex. s_ben_com_f,s_ben_dep)")
    y.add_argument(
        "--delai", type=_positive, default=60, help="secondes d'attente du portail (défaut 60)"
    )
    y.set_defaults(func=_sync)


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
    b.add_argument(
        "--demo",
        choices=("complete", "aucune"),
        default="complete",
        help="jeu de démonstration : construit après secret statistique (défaut, environ 7 min "
        "pour la France entière sur 2 cœurs) ou aucun",
    )
    b.set_defaults(func=_build)

    a = sub.add_parser("audit", help="vérifie qu'aucune cellule secrète n'est déductible")
    a.add_argument("--protection", type=float, default=5)
    a.add_argument("--periodes", help="périodes à vérifier (ex. 2024-12,2025-03)")
    a.set_defaults(func=_audit)

    _data_commands(sub)

    _facilities_command(sub)

    s = sub.add_parser(
        "serve",
        help="sert l'application (HOST, PORT) : serveur de développement, ou gunicorn avec "
        "--workers (production, voir docs/deploy.md)",
    )
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument(
        "--workers",
        type=_positive,
        help="nombre de processus gunicorn (production) ; sans cette option, serveur de "
        "développement Flask à un processus",
    )
    s.add_argument(
        "--threads",
        type=_positive,
        default=DEFAULT_THREADS,
        help=f"fils par processus gunicorn (défaut {DEFAULT_THREADS})",
    )
    s.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        help="secondes avant qu'une requête bloquée soit abandonnée "
        f"(défaut {DEFAULT_TIMEOUT} : exports PDF)",
    )
    s.add_argument(
        "--no-preload",
        dest="preload",
        action="store_false",
        help="chaque processus gunicorn construit sa propre application (sans partage mémoire)",
    )
    s.set_defaults(func=_serve)

    v = sub.add_parser("vendor", help="installe MapLibre et Bootstrap depuis npm")
    v.add_argument("--force", action="store_true")
    v.add_argument("--dev", action="store_true", help="ajoute axe-core (audit d'accessibilité)")
    v.set_defaults(func=_vendor)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"Erreur de configuration : {exc}", file=sys.stderr)
        return 2
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
