"""Which column is a key, a label, a date or a value, and which indicator a value column is."""

from __future__ import annotations

import re
from dataclasses import dataclass

from layers.catalogue import CURATED
from layers.ingest.dates import strip_accents
from layers.model import AMOUNT, COUNT, RATE

# Territory keys, finest level first: the finest key present gives the file's level.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "commune": ("numcomdo", "numcom", "codes_insee", "code_insee", "codgeo", "depcom", "insee_com"),
    "qpv": ("numqpv", "code_qpv", "codeqpv", "code_qp", "numqp"),
    "epci": ("numepci", "code_epci", "siren_epci"),
    "caf": ("numcaf", "codecaf", "code_caf", "caf"),
    "departement": ("numdep", "dep", "code_dep", "coddep"),
    "region": ("numreg", "numregi", "code_reg", "codreg"),
}
LEVELS_BY_FINENESS = tuple(KEY_COLUMNS)
# Date columns: a month ("dtreffre", "dtref") or a year ("annee").
DATE_COLUMNS = ("dtreffre", "dtref", "date_ref", "dtrefm", "periode", "date")
YEAR_COLUMNS = ("annee", "an", "year")
# Label and attribute columns: never values.
LABEL_COLUMNS = {
    "communes",
    "depsepci",
    "reg",
    "typepci",
    "type_epci",
    "nature_epci",
    "geo_point_2d",
    "geo_shape",
    "geo_point",
    "zone",
    "national",  # "FRANCE ENTIERE HORS MAYOTTE"
    "lieures",  # "LA REUNION/LA REUNION": département and région names
    "commune",
    "territoire",
}
LABEL_PREFIXES = ("nom", "lib", "geo_")
LABEL_SUFFIXES = ("lib", "_nom", "_libelle")

# Known source columns -> catalogue ids (lower case). Older-portal names were seen in public
# code quoting the 2009-2015 headers (Communes;Codes_Insee;NB_Allocataires;ALL_PAJE;...).
KNOWN: dict[str, str] = {
    "indfoy_ndur": "allocataires",
    "indnbp_ndur": "personnes_couvertes",
    "indfoy_af": "af",
    "indfoy_cf": "cf",
    "indfoy_asf": "asf",
    "indfoy_ars": "ars",
    "indfoy_ab": "paje_ab",
    "indfoy_cmg": "paje_cmg",
    "indfoy_prepare": "paje_prepare",
    "indfoy_ndurpaje": "paje",
    "indfoy_ndural": "aides_logement",
    "indfoy_apl": "apl",
    "indfoy_als": "als",
    "indfoy_alf": "alf",
    "indfoy_rsa": "rsa",
    "indfoy_ppa": "ppa",
    "indfoy_aah": "aah",
    "indfoy_aeeh": "aeeh",
    "indmtt_rsa": "rsa_montant",
    "indmtt_ppa": "ppa_montant",
    # older portal (2009-2015)
    "nb_allocataires": "allocataires",
    "nb_allocataire": "allocataires",
    "nb_pers_couv": "personnes_couvertes",
    "nb_personnes_couvertes": "personnes_couvertes",
    "all_paje": "paje",
    "all_basep": "paje_ab",
    "all_cmg": "paje_cmg",
    "all_af": "af",
    "all_cf": "cf",
    "all_asf": "asf",
    "all_ars": "ars",
    "all_apl": "apl",
    "all_alf": "alf",
    "all_als": "als",
    "all_rsa": "rsa",
    "all_ppa": "ppa",
    "all_aah": "aah",
    "all_aeeh": "aeeh",
}
_SCALES = r"(?:nat|fr|reg|dep|caf|epci|com)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"^txcouv_{_SCALES}$"), "taux_couverture_global"),
    (re.compile(rf"^txcouvglo_{_SCALES}$"), "taux_couverture_global"),
    (re.compile(rf"^txcouv_?eaje_{_SCALES}$"), "taux_couverture_eaje"),
    (re.compile(rf"^(?:pl|nbpla|nbpl)_?eaje_{_SCALES}$"), "places_eaje"),
)
_YEAR_SUFFIX = re.compile(r"^(.*?)_?((?:19|20)\d{2})$")

# Quarterly wide files: the indicator comes from the dataset id or the file name.
_STEM_PREFIXES: tuple[tuple[str, str], ...] = (
    ("aeeh", "aeeh"),
    ("aah", "aah"),
    ("asf", "asf"),
    ("ars", "ars"),
    ("af", "af"),
    ("cf", "cf"),
    ("rsa", "rsa"),
    ("ppa", "ppa"),
    ("primeactivite", "ppa"),
    ("pajeab", "paje_ab"),
    ("pajecmg", "paje_cmg"),
    ("paje", "paje"),
    ("apl", "apl"),
    ("alf", "alf"),
    ("als", "als"),
    ("aideslogement", "aides_logement"),
    ("al", "aides_logement"),
    ("allocataires", "allocataires"),
    ("nballoc", "allocataires"),
    ("personnescouvertes", "personnes_couvertes"),
    ("perscouv", "personnes_couvertes"),
)
_STEM_FOLLOW = r"(?=caf|dep|depuis|par|trim|foyers|nb|\d|$)"


# Value fields: a column whose name says it holds numbers (portal prefixes `indfoy_`, `indnbp_`,
# `indmtt_`, `indben_`, childcare `txcouv*` / `pl_*` / `tot_offre*`, older `NB_*` / `ALL_*`).
# A numeric column with any other name has no known meaning: reported and set aside.
_VALUE_NAME = re.compile(
    r"^(?:ind(?:foy|nbp|mtt|ben)_|txcouv|tx_|taux|pl_|nbpla|nbpl_|tot_|nb_|all_|mtt_|montant"
    r"|part_|pct_|eff_|nb[a-z]+_)"
)
# Breakdown dimensions seen on the portal (catalogue §3 C); any other bounded text column too.
DIMENSION_NAMES = re.compile(r"^(?:rsa_type|qf_\d+|aah_|al_|ars_|asf_|cmg_|af_|sitfam|prepare_)")
# Level suffix of a field ("txcouv_eaje_dep") -> level of the values the column holds.
SUFFIX_LEVELS = {
    "nat": "france",
    "fr": "france",
    "reg": "region",
    "dep": "departement",
    "caf": "caf",
    "epci": "epci",
    "com": "commune",
    "iris": "iris",
    "qpv": "qpv",
}


# Labelled CSV exports (`use_labels=true`, catalogue §6) carry French labels as headers:
# "Date référence", "Numéro commune", "Nombre foyers NDUR", "Montant total RSA"...
_LABELLED_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^nombre_foyers_([a-z0-9]+)$"), r"indfoy_\1"),
    (re.compile(r"^nombre_personnes_([a-z0-9]+)$"), r"indnbp_\1"),
    (re.compile(r"^montant_total_([a-z0-9]+)$"), r"indmtt_\1"),
    (re.compile(r"^nombre_beneficiaires_([a-z0-9]+)$"), r"indben_\1"),
)
_LABELLED_NAMES = {
    "date_reference": "dtreffre",
    "numero_commune": "numcomdo",
    "num_commune": "numcomdo",
    "numero_departement": "numdep",
    "numero_epci": "numepci",
    "numero_region": "numregi",
    "lieu_residence": "lieures",
    "type_de_rsa": "rsa_type",
}


def field_of_label(header: str) -> str | None:
    """The portal field a labelled export's header stands for, None when not a known label."""
    name = slug(header)
    if name in _LABELLED_NAMES:
        return _LABELLED_NAMES[name]
    for pattern, field in _LABELLED_VALUES:
        if pattern.match(name):
            return pattern.sub(field, name)
    return None


@dataclass(frozen=True)
class ValueColumn:
    source: str  # as written in the file
    indicator: str  # store series id (`series_id`)
    nature: str  # effectif, taux, montant
    known: bool  # in the catalogue
    period: str | None = None  # from a year suffix ("TXCOUVGLO_COM_2014")
    level: str | None = None  # from a level suffix ("_dep"), None when the name has none
    field: str = ""  # canonical name without year suffix ("txcouvglo_com")


def canonical(name: str) -> str:
    return re.sub(r"\s+", "_", strip_accents(name).strip().lower())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", strip_accents(text).lower()).strip("_") or "fichier"


def is_label(name: str) -> bool:
    return (
        name in LABEL_COLUMNS
        or name.startswith(LABEL_PREFIXES)
        or name.endswith(LABEL_SUFFIXES)
        or any(name in aliases for aliases in KEY_COLUMNS.values())
    )


def infer_nature(name: str) -> str:
    """Nature of a column not in the catalogue, from its name (a count unless it says otherwise)."""
    if re.match(r"^(tx|taux|part|pct|pourc|ratio)", name) or "_tx" in name:
        return RATE
    if re.match(r"^(indmtt|mtt|mt_|montant)", name):
        return AMOUNT
    return COUNT


def catalogue_id(name: str) -> str | None:
    if name in KNOWN:
        return KNOWN[name]
    for pattern, indicator in _PATTERNS:
        if pattern.match(name):
            return indicator
    return None


def _without_year(name: str) -> str:
    match = _YEAR_SUFFIX.match(name)
    return match.group(1).rstrip("_") if match and match.group(1) else name


def is_value_name(name: str) -> bool:
    """Whether a canonical column name says it holds values (with or without a year suffix):
    a catalogue field or a portal value prefix; a text cell there is an error."""
    base = _without_year(name)
    return bool(catalogue_id(base) or _VALUE_NAME.match(base))


def may_be_values(name: str) -> bool:
    """A name ending with a level suffix (`..._epci`): values when its cells are numbers."""
    return level_of_suffix(_without_year(name)) is not None


def level_of_suffix(name: str) -> str | None:
    """Level named by a field's suffix (`txcouv_eaje_dep` -> departement), else None."""
    head, _, tail = name.rpartition("_")
    return SUFFIX_LEVELS.get(tail) if head else None


def field_nature(name: str) -> str:
    known = catalogue_id(name)
    return CURATED.by_id[known].nature if known else infer_nature(name)


def value_column(source: str, *, year_suffix: bool) -> ValueColumn:
    """Series of a value column; `year_suffix` splits "TXCOUVGLO_COM_2014" into name + year."""
    name = canonical(source)
    period = None
    if year_suffix:
        match = _YEAR_SUFFIX.match(name)
        if match and match.group(1):
            name, period = match.group(1).rstrip("_"), f"{match.group(2)}-12"
    known = catalogue_id(name) is not None
    return ValueColumn(
        source, series_id(name), field_nature(name), known, period, level_of_suffix(name), name
    )


_LEVEL_SUFFIX = re.compile(r"_(?:nat|fr|reg|dep|caf|epci|com|iris|qpv)$")


def series_id(field: str, dimension: str | None = None, value: str | None = None) -> str:
    """Store id of a portal field, the same at every level: the curated indicator when the
    field is one (and not split by a breakdown), else the field without its level suffix
    (`txcouv_eaje_com` -> `txcouv_eaje`); a breakdown value appends `.<dimension>_<value>`
    (`indfoy_rsa.rsa_type_rsa_majore`)."""
    name = canonical(field)
    if dimension is None:
        known = catalogue_id(name)
        if known:
            return known
    base = _LEVEL_SUFFIX.sub("", name)
    if dimension is None:
        return base
    return f"{base}.{slug(dimension)}_{slug(value or 'inconnu')}"


def has_year_suffix(name: str) -> bool:
    match = _YEAR_SUFFIX.match(canonical(name))
    return bool(match and match.group(1))


def quarterly_indicator(name: str) -> tuple[str, str, bool]:
    """(indicator, nature, known) for a quarterly wide file named `name` ("AFCafdepuis1993")."""
    compact = re.sub(r"[^a-z0-9]", "", strip_accents(name).lower())
    for prefix, indicator in _STEM_PREFIXES:
        if re.match(prefix + _STEM_FOLLOW, compact):
            return indicator, CURATED.by_id[indicator].nature, True
    generic = slug(name)
    return generic, infer_nature(generic), False
