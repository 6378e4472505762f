"""`cafcarto sync`: every dataset of the Cafdata portal into the real store, incrementally.

Lists the catalogue, keeps the datasets whose geographic key it recognises, downloads those the
portal republished since the last run (`data_processed`, else `modified`, recorded with each
file's sha256 in `sync-etat.json` at the store's root), parses them, and publishes the ones that
succeeded in one atomic publication (`layers/real_store.py`). A dataset that fails is named and
left out; the store in service keeps serving until the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from geodata.cache import active_dir
from geodata.cog import Cog
from layers.ingest.errors import CafdataDownloadError, CafdataFormatError
from layers.ingest.parse import parse_file
from layers.ingest.portal import PortalClient, PortalDataset
from layers.ingest.report import ImportResult
from layers.ingest.sync_progress import SyncProgress, size_text
from layers.real_store import compact, handed_over, publish_real, read_portal_meta
from layers.store import Store

STATE_FILE = "sync-etat.json"
# Geographic keys of the portal's fields, finest level first: every field of a key must exist.
GEO_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("iris", ("numcomdo", "numirisd")),
    ("qpv", ("numqpv",)),
    ("qpv", ("nomqpv",)),
    ("commune", ("numcomdo",)),
    ("commune", ("numcom",)),
    ("epci", ("numepci",)),
    ("departement", ("numdep",)),
    ("region", ("numregi",)),
    ("france", ("national",)),
)
_KEY_FIELDS = {name for _, names in GEO_KEYS for name in names}
# A field named like a territory code that is none of the keys above (numcaf, numzone...).
_CODE_FIELD = re.compile(r"^(num|cod)[a-z_]*$")
FAILURES = (CafdataDownloadError, CafdataFormatError, ValueError, OSError, pa.ArrowException)


def dataset_level(dataset: PortalDataset) -> tuple[str | None, str]:
    """The level of a dataset from its fields, or None and why it is skipped (French)."""
    if dataset.dataset_id.endswith("-copy"):
        return None, "copie destinée à la datavisualisation"
    names = set(dataset.field_names())
    for level, key in GEO_KEYS:
        if set(key) <= names:
            return level, ""
    unknown = sorted(n for n in names - _KEY_FIELDS if _CODE_FIELD.match(n))
    if unknown:
        return None, f"clé géographique non reconnue ({', '.join(unknown)})"
    return "france", ""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class SyncSummary:
    """What a run did; `lines()` says it in French."""

    kept: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    series: int = 0
    cells: int = 0
    store_bytes: int = 0
    seconds: float = 0.0
    published: Path | None = None
    secrecy: list[str] = field(default_factory=list)  # the secrecy pass's French report

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def lines(self) -> list[str]:
        out = [f"Jeu écarté : {i} ({why})" for i, why in sorted(self.skipped.items())]
        out += [f"Échec : {i} : {why}" for i, why in sorted(self.failed.items())]
        out += self.secrecy
        if not self.downloaded:
            out.append(
                "Aucun jeu republié depuis la dernière synchronisation : rien à télécharger."
            )
        out.append(
            f"Jeux : {len(self.kept)} conservés, {len(self.skipped)} écartés, "
            f"{len(self.unchanged)} inchangés, {len(self.downloaded)} téléchargés, "
            f"{len(self.failed)} en échec ; {self.rows} lignes importées ; "
            f"{self.series} séries ; {self.cells} cellules ; entrepôt "
            f"{size_text(self.store_bytes)} ; {self.seconds:.1f} s"
        )
        if self.published is not None:
            out.append(f"Entrepôt réel publié : {self.published}")
        elif self.failed and not self.downloaded:
            out.append("Rien n'a été publié : l'entrepôt en service reste inchangé.")
        return out


def with_provenance(result: ImportResult, dataset: PortalDataset) -> ImportResult:
    """The result with its provenance dated from the portal's metadata (the parser, given the
    dataset id, already set the regime: `_f` datasets are rounded)."""
    prov = result.provenance.assign(mis_a_jour=dataset.updated)
    # compact at once: a sync holds every dataset's rows until the one publication
    return ImportResult(rows=compact(result.rows), report=result.report, provenance=prov)


class SyncState:
    """`sync-etat.json`: per dataset, the version synced, its file and the file's sha256."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.datasets: dict[str, dict] = {}
        try:
            self.datasets = json.loads(path.read_text(encoding="utf-8")).get("jeux", {})
        except (OSError, ValueError, AttributeError):
            self.datasets = {}  # absent or damaged: every dataset is downloaded again

    def local_file(self, dataset: PortalDataset) -> Path | None:
        """The file of the same version downloaded earlier, when still intact."""
        entry = self.datasets.get(dataset.dataset_id)
        if not entry or entry.get("version") != dataset.version or not dataset.version:
            return None
        path = Path(entry.get("fichier", ""))
        return path if path.is_file() and sha256(path) == entry.get("sha256") else None

    def record(self, dataset: PortalDataset, path: Path) -> None:
        self.datasets[dataset.dataset_id] = {
            "data_processed": dataset.data_processed,
            "modified": dataset.modified,
            "version": dataset.version,
            "fichier": str(path),
            "sha256": sha256(path),
        }

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"jeux": self.datasets}, ensure_ascii=False, indent=1))
        tmp.replace(self.path)


@dataclass
class SyncJob:
    """Where a run reads and writes."""

    client: PortalClient
    store_root: Path
    downloads: Path
    cog: Callable[[], Cog]  # loaded only when a file is parsed
    progress: SyncProgress
    only: list[str] | None = None
    threshold: int = 5  # primary secrecy threshold of the real store


def sync(job: SyncJob) -> SyncSummary:
    """One run (see the module docstring). Raises `PortalError` when the catalogue cannot be
    read (offline: `PortalUnreachable`), before anything is touched."""
    t0 = time.perf_counter()
    summary = SyncSummary()
    catalogue = job.client.catalogue()
    kept = _select(catalogue, job.only, summary)
    state = SyncState(job.store_root / STATE_FILE)
    in_store = read_portal_meta(active_dir(job.store_root))["jeux"]
    results, sources, meta = [], [], {}
    for n, (dataset, _) in enumerate(kept, 1):
        local = state.local_file(dataset)
        if local is not None and in_store.get(dataset.dataset_id, {}).get("traite_le") == (
            dataset.version
        ):
            summary.unchanged.append(dataset.dataset_id)
            job.progress.note(n, len(kept), dataset.dataset_id, "inchangé")
            continue
        if local is not None:
            job.progress.note(n, len(kept), dataset.dataset_id, "déjà téléchargé, relu")
        try:
            path = local or _download(job, dataset, n, len(kept), summary)
            # saved at once: a parse failure or an interruption does not cost the download
            state.record(dataset, path)
            state.save()
            result = with_provenance(
                parse_file(path, job.cog(), dataset_id=dataset.dataset_id), dataset
            )
        except FAILURES as exc:
            summary.failed[dataset.dataset_id] = str(exc)
            job.progress.note(n, len(kept), dataset.dataset_id, f"échec : {exc}")
            continue
        results.append(result)
        sources.append(dataset.dataset_id)
        meta[dataset.dataset_id] = dataset.meta_json()
        summary.rows += len(result.rows)
    if results:
        summary.published = publish_real(
            job.store_root,
            handed_over(results),
            sources,
            {"portail": job.client.base_url, "jeux": meta},
            cog=job.cog(),
            threshold=job.threshold,
            log=summary.secrecy.append,
            bars=job.progress.stream,
        )
    _measure_store(job.store_root, summary)
    summary.seconds = time.perf_counter() - t0
    return summary


def _select(
    catalogue: list[PortalDataset], only: list[str] | None, summary: SyncSummary
) -> list[tuple[PortalDataset, str]]:
    known = {d.dataset_id for d in catalogue}
    for missing in sorted(set(only or ()) - known):
        summary.failed[missing] = "jeu introuvable dans le catalogue du portail"
    kept = []
    for dataset in catalogue:
        if only is not None and dataset.dataset_id not in only:
            continue
        level, why = dataset_level(dataset)
        if level is None:
            summary.skipped[dataset.dataset_id] = why
            continue
        kept.append((dataset, level))
        summary.kept.append(dataset.dataset_id)
    return kept


def _download(
    job: SyncJob, dataset: PortalDataset, n: int, total: int, summary: SyncSummary
) -> Path:
    tag = hashlib.sha256(dataset.version.encode()).hexdigest()[:8]
    job.progress.start(n, total, dataset.dataset_id)
    path = job.client.download(
        dataset.dataset_id, job.downloads, tag=tag, progress=job.progress.bytes
    )
    job.progress.finish(path.stat().st_size)
    summary.downloaded.append(dataset.dataset_id)
    return path


def _measure_store(root: Path, summary: SyncSummary) -> None:
    folder = active_dir(root)
    if folder is None:
        return
    store = Store(folder)
    summary.cells = int(store.meta.get("cellules", 0))
    summary.series = int(store.query("SELECT count(DISTINCT indicateur) AS n FROM v")["n"].iloc[0])
    summary.store_bytes = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
