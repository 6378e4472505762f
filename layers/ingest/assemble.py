"""From the value blocks of a file (one per level its columns describe) to long rows, report and
provenance: place the codes, report what cannot be placed, collapse repeated rows, spread the
breakdown dimensions, bring older communes and arrondissements to current ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geodata.cog import Cog
from layers.ingest.breakdown import DIM_PREFIX, Field, spread
from layers.ingest.epci_history import map_old_epci
from layers.ingest.harmonise import (
    WideBlock,
    arrondissement_rows,
    merge_to_current,
    prefer_city_rows,
    to_long,
)
from layers.ingest.infra_codes import sample_iris_codes
from layers.ingest.places import (
    NOT_LOCATED,
    QPV_2024,
    Placement,
    arrondissement_counts,
    is_qpv2024,
    place_codes,
)
from layers.ingest.provenance_rows import Regime, infer_regime, provenance_of
from layers.ingest.repeats import collapse_repeats
from layers.ingest.report import ImportReport, ImportResult
from layers.model import COUNT, level_name
from layers.provenance import empty_provenance
from layers.secrecy import primary_mask


@dataclass
class LevelBlock:
    """The values a file gives at one level: raw codes and periods, one column per field."""

    level: str
    keys: pd.DataFrame  # raw, periode, line (+ "dim:<column>" for breakdown dimensions)
    values: pd.DataFrame
    secret: pd.DataFrame  # 1 hidden, 0 published, NaN absent
    natures: dict[str, str]
    fields: dict[str, Field]  # column -> the file's field
    champs: dict[tuple[str, str | None], str]  # (column, period or None) -> provenance field
    finest: bool = True  # the rows' own level (else values repeated from a coarser level)
    communes: pd.Series | None = None  # raw commune code of each key row, when the file has one
    regime: Regime = field(default_factory=Regime)


def _placement(block: LevelBlock, cog: Cog, report: ImportReport) -> Placement:
    iris = sample_iris_codes() if block.level == "iris" else frozenset()
    placement = place_codes(block.keys["raw"], block.level, cog, iris)
    if block.level == "epci" and block.communes is not None:
        mapped, reasons = map_old_epci(block.keys["raw"], block.communes, cog)
        for raw in placement.source.index:
            code = placement.source[raw]
            if code in mapped:
                placement.target[raw], placement.reason[raw] = mapped[code], None
        for old, new in sorted(mapped.items()):
            report.avertissements.append(
                f"EPCI {old} d'un ancien millésime converti en {new} (même périmètre)"
            )
        for old, why in sorted(reasons.items()):
            report.avertissements.append(f"EPCI {old} d'un ancien millésime non converti : {why}")
    return placement


def _placed_keys(block: LevelBlock, placement: Placement) -> pd.DataFrame:
    raw = block.keys["raw"].fillna("").astype(str)
    at = placement.source.index.get_indexer(raw)  # one lookup, four columns

    def take(column: pd.Series) -> np.ndarray:
        return column.to_numpy(dtype=object)[at]

    keys = pd.DataFrame(
        {
            "source": take(placement.source),
            "target": take(placement.target),
            "niveau": take(placement.level),
            "reason": take(placement.reason),
            "periode": block.keys["periode"].to_numpy(dtype=object),
            "line": block.keys["line"].to_numpy(),
        }
    )
    for column in block.keys.columns:
        if column.startswith(DIM_PREFIX):
            keys[column] = block.keys[column].to_numpy(dtype=object)
    return keys


def _is_qpv2024_key(code: object) -> bool:
    return isinstance(code, str) and is_qpv2024(code)


def _report_unplaced(block: LevelBlock, keys: pd.DataFrame, report: ImportReport) -> None:
    unplaced = keys["reason"].notna().to_numpy()
    if not block.finest:
        codes = sorted({str(c) or "(vide)" for c in keys.loc[unplaced, "source"]})
        if codes:
            report.avertissements.append(
                f"valeurs de niveau {level_name(block.level)} non placées : codes "
                + ", ".join(codes[:10])
                + (" ..." if len(codes) > 10 else "")
            )
        return
    lost = keys[unplaced].drop_duplicates("line")
    report.lignes_non_placees = len(lost)
    report.non_placees = lost["reason"].value_counts().sort_index().astype(int).to_dict()
    report.codes_non_places = sorted({c if c else "(vide)" for c in lost["source"].astype(str)})
    report.lignes_placees = report.lignes_lues - report.lignes_non_placees
    qpv = int(keys.loc[keys["target"].map(_is_qpv2024_key), "line"].nunique())
    if qpv:
        report.avertissements.append(
            f"{QPV_2024} : {qpv} lignes (gardées, listées avec leur commune)"
        )
    located = ~keys["reason"].isin(NOT_LOCATED).to_numpy()
    if located.all():
        return
    report.non_localises_lignes = int(keys.loc[~located, "line"].nunique())
    for column, nature in block.natures.items():
        published = (block.secret[column].to_numpy() == 0) & ~located
        if nature == COUNT and published.any():
            name = block.fields[column].source if column in block.fields else column
            total = float(block.values[column].to_numpy()[published].sum())
            report.non_localises_sommes[name] = report.non_localises_sommes.get(name, 0) + total


def _cells(wide: WideBlock) -> pd.DataFrame:
    """(indicateur, niveau, periode) of every series-level-period the block holds (read on
    the wide block: far fewer rows than the long one)."""
    if not len(wide.keys) or wide.values.empty:
        return pd.DataFrame(columns=["indicateur", "niveau", "periode"])
    present = wide.secret.notna()
    by = [wide.keys["niveau"].to_numpy(dtype=object), wide.keys["periode"].to_numpy(dtype=object)]
    stacked = present.groupby(by).any().stack()
    stacked = stacked[stacked.to_numpy(dtype=bool)]
    index = stacked.index
    return pd.DataFrame(
        {
            "indicateur": index.get_level_values(2).astype(str),
            "niveau": index.get_level_values(0).astype(str),
            "periode": index.get_level_values(1).astype(str),
        }
    )


def _level_rows(
    block: LevelBlock, cog: Cog, report: ImportReport
) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, str | None], str], dict[str, str]]:
    """Long rows of one block, its (series, level, period) cells, and the provenance field
    and nature of each output column."""
    keys = _placed_keys(block, _placement(block, cog, report))
    _report_unplaced(block, keys, report)
    placed = keys["reason"].isna().to_numpy()
    wide = WideBlock(
        keys.loc[placed].drop(columns="reason").reset_index(drop=True),
        block.values[placed].reset_index(drop=True),
        block.secret[placed].reset_index(drop=True),
        block.natures,
    )
    champs = dict(block.champs)
    repeated = None if block.finest else block.level
    if len(wide.keys) and any(c.startswith(DIM_PREFIX) for c in wide.keys.columns):
        dims = [c for c in wide.keys.columns if c.startswith(DIM_PREFIX)]
        wide = collapse_repeats(wide, report, ["niveau", "source", "periode", *dims])
        wide, spread_champs = spread(wide, block.fields, report, block.regime.rounded)
        champs = {(c, None): f for c, f in spread_champs.items()}
    if len(wide.keys):
        wide = collapse_repeats(
            wide, report, ["niveau", "source", "periode"], repeated_level=repeated
        )
        arms = arrondissement_rows(wide)
        wide = prefer_city_rows(wide, report)
        wide = merge_to_current(wide, report, arrondissement_counts(cog)).plus(arms)
    return to_long(wide), _cells(wide), champs, wide.natures


def assemble(
    blocks: list[LevelBlock], cog: Cog, report: ImportReport, dataset: str
) -> ImportResult:
    """Rows, report and provenance of a whole file (its blocks in order, the finest first)."""
    regime = infer_regime(blocks, dataset)
    parts, provenance, all_natures = [], [], {}
    for block in blocks:
        block.regime = regime
        rows, cells, champs, natures = _level_rows(block, cog, report)
        parts.append(rows)
        all_natures.update(natures)
        provenance.append(provenance_of(cells, champs, natures, dataset, regime))
    rows = parts[0] if len(parts) == 1 else _merge_levels(parts, report)
    prov = pd.concat(provenance, ignore_index=True) if provenance else empty_provenance()
    prov = prov.drop_duplicates(["indicateur", "niveau", "periode"]).reset_index(drop=True)
    _summarise(rows, all_natures, report)
    return ImportResult(rows=rows, report=report, provenance=prov)


def _merge_levels(parts: list[pd.DataFrame], report: ImportReport) -> pd.DataFrame:
    """The rows of several levels in one sorted table (each part is sorted and unique)."""
    rows = pd.concat(parts, ignore_index=True)
    key = ["indicateur", "niveau", "code", "periode"]
    clash = rows.duplicated(key, keep="first").to_numpy()
    if clash.any():
        report.avertissements.append(
            f"{int(clash.sum())} valeur(s) données par deux colonnes de niveaux différents : "
            "la première est retenue"
        )
        rows = rows[~clash]
    return rows.sort_values(key, kind="stable").reset_index(drop=True)


def _summarise(rows: pd.DataFrame, natures: dict[str, str], report: ImportReport) -> None:
    report.niveaux = sorted(rows["niveau"].unique().tolist())
    report.periodes = sorted(rows["periode"].unique().tolist())
    counts = rows["indicateur"].isin([c for c, n in natures.items() if n == COUNT])
    published = rows.loc[counts & (rows["statut"] == "publie"), "valeur"]
    report.effectifs_arrondis_a_5 = bool(len(published)) and bool(
        (np.mod(published.to_numpy(), 5) == 0).all()
    )
    small = int(primary_mask(published.to_numpy()).sum())
    if small:
        # exact files (national, départemental) publish counts of 1 to 4: the store's secrecy
        # pass must hide them before any of them is shown
        report.avertissements.append(
            f"{small} effectif(s) de 1 à 4 publiés tels quels par la source (fichier exact) : "
            "soumis au secret statistique primaire avant publication"
        )
    if not len(rows):
        report.avertissements.append("aucune ligne n'a pu être placée sur un territoire actuel")
