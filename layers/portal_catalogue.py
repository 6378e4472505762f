"""The series of a real store that no curated entry describes, titled from the portal's words.

A real store (`cafcarto sync`, `cafcarto import`) holds ids made by
`layers.ingest.columns.series_id` (`indfoy_ndurhd`, `tot_offre`,
`indfoy_rsa.rsa_type_rsa_majore`). Each becomes one `Indicator`: its title from the field's
prefix (`indfoy_`, `indnbp_`, `indmtt_`, `indben_`, `txcouv_`, `pl_`) and the benefit code
dictionary of `portal_catalogue.toml`, falling back to the portal's field label and dataset
title (`portail.json`) when the code is unknown; its levels and first period from the store;
its dataset and field from the store's provenance. No hand-written entry per series.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from layers.catalogue import CURATED, Catalogue, fold
from layers.ingest.columns import infer_nature  # the importer's rule, one home
from layers.model import COUNT, LEVEL_CODES, Indicator
from layers.provenance import PROVENANCE_FILE

WORDS_FILE = Path(__file__).with_name("portal_catalogue.toml")
PORTAL_FILE = "portail.json"
WORDS: dict[str, Any] = tomllib.loads(WORDS_FILE.read_text(encoding="utf-8"))
PORTAL_CATEGORY: str = WORDS["portal"]["category"]
DATASET_URL = "https://data.caf.fr/explore/dataset/{}/"
_LEVEL_SUFFIX = re.compile(r"_(?:nat|fr|reg|dep|caf|epci|com|iris|qpv)$")
_LABEL_HEADS = ("nombre foyers", "nombre personnes", "nombre beneficiaires", "montant total")
OTHER_FAMILY = "Autres séries du portail"


@dataclass(frozen=True)
class Field:
    """A portal field split into its parts: `indfoy_rsa|rsa_type=RSA majoré`."""

    name: str  # without its level suffix: "indfoy_rsa", "txcouv_am_ind", "tot_offre"
    source: str  # as the portal names it ("txcouv_am_ind_com")
    dimension: str | None = None
    value: str | None = None


def parse_field(champ: str) -> Field:
    """The `champ` of a provenance row: "indfoy_rsa" or "indfoy_rsa|rsa_type=RSA majoré"."""
    source, _, breakdown = champ.partition("|")
    dimension, _, value = breakdown.partition("=")
    source = source.strip()
    return Field(_LEVEL_SUFFIX.sub("", source), source, dimension or None, value or None)


def field_of_id(series: str) -> Field:
    """The field of a store id without provenance: "indfoy_rsa.rsa_type_rsa_majore"."""
    base, _, rest = series.partition(".")
    for dim in sorted(WORDS["dimension"], key=len, reverse=True):
        if rest.startswith(dim + "_"):
            return Field(base, base, dim, rest[len(dim) + 1 :].replace("_", " "))
    return Field(base, base, rest or None, None) if rest else Field(base, base)


def _forms(article: str) -> dict[str, str]:
    """« le RSA » -> du RSA, par le RSA, au titre du RSA (and la, l', les, no article)."""
    for head, de in (("le ", "du "), ("la ", "de la "), ("l'", "de l'"), ("les ", "des ")):
        if article.startswith(head):
            de += article[len(head) :]
            break
    else:
        de = ("d'" if fold(article[:1]) in "aeiouy" else "de ") + article
    return {"de": de, "par": f"par {article}", "titre": f"au titre {de}"}


@dataclass(frozen=True)
class Words:
    """What the dictionary says of one field: title, nature, unit, family, sub-theme."""

    title: str
    nature: str
    unit: str
    what: str
    family: str
    subtheme: str
    keywords: tuple[str, ...]


def _benefit_words(prefix: dict, code: str, label: str, dataset_title: str) -> Words:
    benefit = WORDS["benefit"].get(code)
    if benefit is None:  # a code the dictionary lacks: the portal's own words
        rest = label
        for head in _LABEL_HEADS:
            if fold(label).startswith(head):
                rest = label[len(head) :].strip()
        name = rest or code.upper()
        head = prefix["title"].split(" {")[0]
        title = f"{head} – {name}"
        what = f"{prefix['what'].split(' {')[0]} : {name}"
        return Words(
            title, prefix["nature"], prefix["unit"], what, "", dataset_title or name, (name,)
        )
    forms = _forms(benefit["article"])
    return Words(
        prefix["title"].format(**forms),
        prefix["nature"],
        prefix["unit"],
        prefix["what"].format(**forms),
        WORDS["family"][benefit["family"]],
        benefit["name"],
        tuple(benefit.get("keywords", ())),
    )


def _mode_words(prefix: dict, code: str, label: str) -> Words | None:
    mode = WORDS["mode"].get(code)
    if mode is None:
        return None
    forms = {"mode": mode["label"], "en": mode["en"]}
    return Words(
        prefix["title"].format(**forms),
        prefix["nature"],
        prefix["unit"],
        prefix["what"].format(**forms),
        WORDS["family"]["accueil"],
        "Accueil du jeune enfant",
        tuple(mode.get("keywords", ())),
    )


def field_words(field: Field, label: str = "", dataset_title: str = "") -> Words:
    """Title and kind of a field from the dictionary, else from the portal's label."""
    whole = WORDS["field"].get(field.name)
    if whole is not None:
        family = WORDS["family"][whole["family"]]
        return Words(
            whole["title"], whole["nature"], whole["unit"], whole["what"], family, family, ()
        )
    head, _, code = field.name.partition("_")
    prefix = WORDS["prefix"].get(head)
    if prefix is not None and code:
        if head in ("txcouv", "pl"):
            found = _mode_words(prefix, code, label)
            if found is not None:
                return found
        else:
            return _benefit_words(prefix, code, label, dataset_title)
    text = label.strip() or field.name
    title = f"{text[:1].upper()}{text[1:]}" + (f" ({dataset_title})" if dataset_title else "")
    nature = infer_nature(field.name)
    unit = {"taux": "%", "montant": "euros"}.get(nature, "")
    return Words(title, nature, unit, text, "", dataset_title or OTHER_FAMILY, ())


def value_text(dimension: str, value: str) -> str:
    """« quotient familial : moins de 400 euros », « RSA majoré »."""
    first = value.split(" ")[0]
    if not (len(first) > 1 and first.isupper()):
        value = value[:1].lower() + value[1:]
    label = WORDS["dimension"].get(dimension, dimension.replace("_", " "))
    return f"{label} : {value}" if label else value


def _family_of_dataset(dataset: str) -> str:
    for prefix, family in WORDS.get("dataset_family", {}).items():
        if dataset.startswith(prefix + "_"):
            return WORDS["family"][family]
    return ""


@dataclass(frozen=True)
class PortalMeta:
    """`portail.json`: the portal's description of each synced dataset."""

    datasets: dict[str, dict]

    @classmethod
    def read(cls, folder: Path) -> PortalMeta:
        path = Path(folder) / PORTAL_FILE
        if not path.is_file():
            return cls({})
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return cls({})
        return cls(dict(doc.get("jeux") or {}))

    def title(self, dataset: str) -> str:
        return str(self.datasets.get(dataset, {}).get("titre") or "")

    def description(self, dataset: str) -> str:
        return str(self.datasets.get(dataset, {}).get("description") or "")

    def field(self, dataset: str, name: str) -> dict:
        return dict((self.datasets.get(dataset, {}).get("champs") or {}).get(name) or {})


def _read_provenance(folder: Path) -> pd.DataFrame:
    path = Path(folder) / PROVENANCE_FILE
    if not path.is_file():
        return pd.DataFrame(columns=["indicateur", "jeu", "champ", "mis_a_jour"])
    return pd.read_parquet(path, columns=["indicateur", "jeu", "champ", "mis_a_jour"])


@dataclass(frozen=True)
class Origin:
    """Where a store id comes from: its field, datasets and latest portal update."""

    field: Field
    datasets: tuple[str, ...]
    updated: str


def origins(provenance: pd.DataFrame) -> dict[str, Origin]:
    found: dict[str, Origin] = {}
    for ind, rows in provenance.groupby("indicateur", sort=False):
        datasets = tuple(dict.fromkeys(str(d) for d in rows["jeu"] if d))
        champ = str(rows["champ"].iloc[0] or "")
        updated = max((str(u) for u in rows["mis_a_jour"] if u), default="")
        found[str(ind)] = Origin(
            parse_field(champ) if champ else field_of_id(str(ind)), datasets, updated
        )
    return found


def _definition(words: Words, origin: Origin, meta: PortalMeta) -> str:
    parts = [words.what + "."]
    for dataset in origin.datasets[:1]:
        field = meta.field(dataset, origin.field.source)
        parts += [str(field.get("description") or ""), meta.description(dataset)]
    return " ".join(p.strip() for p in parts if p and p.strip())


def portal_indicator(
    series: str, origin: Origin | None, meta: PortalMeta, levels: list[str], periods: list[str]
) -> Indicator:
    """The catalogue entry of one series of a real store that no curated entry describes."""
    origin = origin or Origin(field_of_id(series), (), "")
    field = origin.field
    dataset = origin.datasets[0] if origin.datasets else ""
    label = str(meta.field(dataset, field.source).get("libelle") or "")
    words = field_words(field, label, meta.title(dataset))
    title = words.title
    if field.dimension:
        title += " – " + value_text(field.dimension, field.value or "inconnu")
    family = words.family or _family_of_dataset(dataset) or OTHER_FAMILY
    return Indicator(
        id=series,
        title=title,
        definition=_definition(words, origin, meta),
        unit=words.unit,
        nature=words.nature,
        category=PORTAL_CATEGORY,
        theme=family,
        subtheme=words.subtheme,
        levels=tuple(levels),
        first_period=min(periods)[:4] if periods else "",
        source="Cnaf, data.caf.fr" + (f", jeu {', '.join(origin.datasets)}" if dataset else ""),
        scope=meta.title(dataset),
        last_update=origin.updated,
        keywords=(field.source, field.name, *origin.datasets, *words.keywords),
        labelled_series=words.nature == COUNT,
    )


def _theme_order(theme: str) -> int:
    families = list(WORDS["family"].values())
    return families.index(theme) if theme in families else len(families)


def _categories(indicators: list[Indicator]) -> MappingProxyType:
    """Category -> theme -> sub-themes holding at least one indicator, curated order first."""
    found: dict[str, dict[str, list[str]]] = {}
    for cat, themes in CURATED.categories.items():
        for theme, subs in themes.items():
            for sub in subs:
                if any((i.category, i.theme, i.subtheme) == (cat, theme, sub) for i in indicators):
                    found.setdefault(cat, {}).setdefault(theme, []).append(sub)
    for ind in indicators:
        subs = found.setdefault(ind.category, {}).setdefault(ind.theme, [])
        if ind.subtheme not in subs:
            subs.append(ind.subtheme)
    return MappingProxyType(
        {c: MappingProxyType({t: tuple(s) for t, s in th.items()}) for c, th in found.items()}
    )


def store_catalogue(folder: Path, availability: dict[tuple[str, str], list[str]]) -> Catalogue:
    """Curated indicators the store holds (at the levels it holds), then one portal series per
    other id of the store, grouped by benefit family. Nothing the store lacks is offered."""
    levels: dict[str, list[str]] = {}
    periods: dict[str, list[str]] = {}
    for (ind, level), pers in availability.items():
        if level in LEVEL_CODES:  # a level the model lacks (arrondissements) is not mapped yet
            levels.setdefault(ind, []).append(level)
            periods.setdefault(ind, []).extend(pers)
    for ind in levels:
        levels[ind].sort(key=LEVEL_CODES.index)
    where = origins(_read_provenance(folder))
    meta = PortalMeta.read(folder)
    curated = [
        replace(
            ind,
            levels=tuple(levels[ind.id]),
            keywords=ind.keywords + _codes(where.get(ind.id)),
        )
        for ind in CURATED.indicators
        if ind.id in levels
    ]
    portal = [
        portal_indicator(i, where.get(i), meta, levels[i], periods[i])
        for i in levels
        if i not in CURATED.by_id
    ]
    portal.sort(key=lambda i: (_theme_order(i.theme), fold(i.subtheme), fold(i.title)))
    indicators = [*curated, *portal]
    return Catalogue(
        indicators=tuple(indicators),
        categories=_categories(indicators),
        breakdowns=CURATED.breakdowns,
        geometry_indicators=CURATED.geometry_indicators,
        known=tuple(i for i in CURATED.indicators if i.id not in levels),
    )


def _codes(origin: Origin | None) -> tuple[str, ...]:
    """A curated series found by its portal field and dataset too (« indfoy_rsa »)."""
    if origin is None:
        return ()
    return (origin.field.source, origin.field.name, *origin.datasets)
