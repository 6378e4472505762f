"""What an import did: the long-format rows and a report a user can read."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from layers.provenance import empty_provenance

ROW_COLUMNS = ["indicateur", "niveau", "code", "periode", "valeur", "statut"]
PUBLISHED, SECRET = "publie", "secret"


@dataclass
class ImportReport:
    """Everything a user needs to trust (or question) an import. Text fields are French."""

    format: str = ""
    encodage: str = ""
    separateur: str = ""
    niveaux: list[str] = field(default_factory=list)
    periodes: list[str] = field(default_factory=list)
    # source column -> catalogue indicator id
    colonnes_reconnues: dict[str, str] = field(default_factory=dict)
    # source column -> derived id (kept, not in the catalogue)
    colonnes_inconnues: dict[str, str] = field(default_factory=dict)
    # key, label and date columns, and columns set aside
    colonnes_ignorees: list[str] = field(default_factory=list)
    # extra columns set aside (unknown text, numbers without meaning) -> why
    colonnes_ecartees: dict[str, str] = field(default_factory=dict)
    # breakdown dimensions (file column -> number of distinct values)
    dimensions: dict[str, int] = field(default_factory=dict)
    lignes_lues: int = 0  # data lines (headers, repeated headers and blank lines excluded)
    lignes_placees: int = 0
    lignes_non_placees: int = 0
    # reason (French) -> number of lines; codes not placed, distinct and sorted
    non_placees: dict[str, int] = field(default_factory=dict)
    codes_non_places: list[str] = field(default_factory=list)
    # households the portal could not locate (empty, XX, 99, 04XXX...): kept out of the map;
    # their number of lines and the sum of each count column (published cells)
    non_localises_lignes: int = 0
    non_localises_sommes: dict[str, float] = field(default_factory=dict)
    # cells of one territory and period whose repeated values disagree (not imported)
    conflits: int = 0
    entetes_repetees: int = 0
    lignes_vides: int = 0
    doublons_identiques: int = 0
    # current commune -> the older codes summed into it
    communes_fusionnees: dict[str, list[str]] = field(default_factory=dict)
    # older code -> current code, when one older code alone becomes one current commune
    codes_convertis: dict[str, str] = field(default_factory=dict)
    # PLM city code -> number of municipal arrondissements summed into it
    arrondissements_sommes: dict[str, int] = field(default_factory=dict)
    effectifs_arrondis_a_5: bool = False
    avertissements: list[str] = field(default_factory=list)

    def resume(self) -> str:
        """A short French summary, one fact per line."""
        out = [
            f"Format : {self.format} ({self.encodage}, séparateur « {self.separateur} »)",
            f"Niveaux : {', '.join(self.niveaux) or '-'} ; périodes : "
            + (f"{self.periodes[0]} à {self.periodes[-1]}" if self.periodes else "-"),
            f"Lignes lues : {self.lignes_lues} ; placées : {self.lignes_placees} ; "
            f"non placées : {self.lignes_non_placees}",
        ]
        for reason, count in self.non_placees.items():
            out.append(f"  - {reason} : {count} ligne(s)")
        out.extend(self._details())
        if self.colonnes_reconnues:
            pairs = ", ".join(f"{c} → {i}" for c, i in self.colonnes_reconnues.items())
            out.append(f"Colonnes reconnues : {pairs}")
        if self.colonnes_inconnues:
            pairs = ", ".join(f"{c} → {i}" for c, i in self.colonnes_inconnues.items())
            out.append(f"Colonnes conservées hors catalogue : {pairs}")
        if self.communes_fusionnees:
            out.append(f"Communes fusionnées (codes sommés) : {len(self.communes_fusionnees)}")
        if self.codes_convertis:
            out.append(f"Anciens codes convertis : {len(self.codes_convertis)}")
        for city, n in self.arrondissements_sommes.items():
            out.append(f"Arrondissements municipaux sommés dans {city} : {n}")
        out.extend(f"Attention : {w}" for w in self.avertissements)
        return "\n".join(out)

    def _details(self) -> list[str]:
        """Lines on what was set aside: households not located, columns, dimensions."""
        out = []
        if self.non_localises_lignes:
            sums = ", ".join(f"{c} {_number(v)}" for c, v in self.non_localises_sommes.items())
            out.append(
                f"Non localisés (hors carte) : {self.non_localises_lignes} ligne(s)"
                + (f" ; sommes : {sums}" if sums else "")
            )
        if self.entetes_repetees:
            out.append(f"En-têtes répétés ignorés : {self.entetes_repetees}")
        for column, why in self.colonnes_ecartees.items():
            out.append(f"Colonne « {column} » ignorée : {why}")
        if self.dimensions:
            dims = ", ".join(f"{c} ({n} valeurs)" for c, n in self.dimensions.items())
            out.append(f"Dimensions de ventilation : {dims}")
        return out


def _number(value: float) -> str:
    """12345.0 -> "12 345" (French thousands, no decimals for whole numbers)."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return text.replace(",", " ").replace(".", ",")


@dataclass
class ImportResult:
    """Long-format rows (columns `ROW_COLUMNS`), the report of the import, and the provenance
    of each (indicator, level, period) it carries (`layers.provenance.PROVENANCE_COLUMNS`)."""

    rows: pd.DataFrame
    report: ImportReport
    provenance: pd.DataFrame = field(default_factory=empty_provenance)
