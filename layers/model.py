"""The domain vocabulary, declared once: geographic levels, indicators, facility types.

Every package imports its words from here (geodata included): this module imports nothing of
the project. Identifiers are English; the values the user reads (labels) and the stored column
names stay French. Indicators themselves are data (`layers/catalogue.toml`), loaded by
`layers.catalogue` into the `Indicator` class below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

# ---------------------------------------------------------------------------------------------
# Geographic levels

QUARTERLY, ANNUAL = "trimestrielle", "annuelle"
# Which Cafdata files publish a level: national and départemental files (quarterly), communal
# files (annual), infra-communal zones (annual, larger secrecy threshold).
NATIONAL, LOCAL, INFRA = "national", "local", "infra"


@dataclass(frozen=True)
class Level:
    """A geographic level: its code (in URLs, the store and the build cache) and its words.

    `plural` labels the level picker, `singular` follows « par » in a map title, `short` names
    a territory's level (« Lyon (commune 69123) »). `parents` are the columns of the level's
    table, nearest first. `tier` says which Cafdata files publish it (hence its frequency).
    """

    code: str
    plural: str
    singular: str
    short: str
    parents: tuple[str, ...] = ()
    tier: str = LOCAL
    geometry: str = "polygon"
    neighbours: bool = False  # shared borders computed at build (neighbours, profile)
    mappable: bool = True  # offered in the map's level picker
    # Shown beside a finer territory's values (series, profile); the Caf is an administrative
    # reference, not a geographic one.
    reference: bool = False
    # A view made of other levels' territories (« communes et arrondissements »: the communes,
    # with Paris, Lyon and Marseille replaced by their municipal arrondissements).
    composite: tuple[str, ...] = ()

    @property
    def frequency(self) -> str:
        return QUARTERLY if self.tier == NATIONAL else ANNUAL

    @property
    def order(self) -> int:
        """Rank from the coarsest (France) to the finest level."""
        return LEVEL_CODES.index(self.code)


# fmt: off
LEVELS: tuple[Level, ...] = (
    Level("france", "France", "France", "France", tier=NATIONAL, mappable=False, reference=True),
    Level(
        "region", "Régions", "région", "région", tier=NATIONAL, neighbours=True, reference=True,
    ),
    Level(
        "departement", "Départements", "département", "département", ("region",),
        tier=NATIONAL, neighbours=True, reference=True,
    ),
    Level(
        "caf", "Territoires des Caf", "territoire de Caf", "Caf", ("departement", "region"),
        tier=NATIONAL, neighbours=True,
    ),
    Level(
        "epci", "EPCI", "EPCI", "EPCI", ("departement", "region"), neighbours=True,
        reference=True,
    ),
    Level(
        "commune", "Communes", "commune", "commune", ("epci", "caf", "departement", "region"),
        neighbours=True,
    ),
    # The 45 municipal arrondissements of Paris, Lyon and Marseille (INSEE type « ARM »).
    Level(
        "arm", "Arrondissements municipaux", "arrondissement municipal",
        "arrondissement municipal",
        ("commune", "epci", "caf", "departement", "region"), neighbours=True,
    ),
    Level(
        "commune_arm", "Communes et arrondissements", "commune ou arrondissement", "commune",
        ("epci", "caf", "departement", "region"), neighbours=True, composite=("commune", "arm"),
    ),
    Level(
        "qpv", "Quartiers prioritaires (QPV)", "QPV", "QPV",
        ("commune", "epci", "caf", "departement", "region"), tier=INFRA, neighbours=True,
    ),
    Level(
        "iris", "IRIS", "IRIS", "IRIS",
        ("commune", "epci", "caf", "departement", "region"), tier=INFRA, neighbours=True,
    ),
)
# fmt: on
LEVEL_CODES: tuple[str, ...] = tuple(level.code for level in LEVELS)
LEVEL: MappingProxyType[str, Level] = MappingProxyType({lv.code: lv for lv in LEVELS})
MAP_LEVELS: tuple[str, ...] = tuple(lv.code for lv in LEVELS if lv.mappable)
# A map can be restricted to one of the communes' parents (région, département, Caf, EPCI).
FILTER_LEVELS: tuple[str, ...] = tuple(c for c in LEVEL_CODES if c in LEVEL["commune"].parents)
# A bare parent code (`filtre=69`) is tried at these levels in turn.
BARE_CODE_LEVELS: tuple[str, ...] = ("departement", "region", "epci", "caf", "commune")
# Nearest first: EPCI, département, région, France.
REFERENCE_LEVELS: tuple[str, ...] = tuple(lv.code for lv in reversed(LEVELS) if lv.reference)


def level_name(code: str | None) -> str:
    """« commune », « Caf »...: the short name of a level, the code itself when unknown."""
    found = LEVEL.get(str(code))
    return found.short if found is not None else str(code)


def singular_name(code: str | None) -> str:
    """The level as a page title names it (« par commune », « Lyon (commune) »); "" for France
    and unknown codes, which no map shows."""
    found = LEVEL.get(str(code))
    return found.singular if found is not None and found.mappable else ""


def levels_of_tier(*tiers: str) -> tuple[str, ...]:
    return tuple(lv.code for lv in LEVELS if lv.tier in tiers)


def parent_levels(code: str) -> tuple[str, ...]:
    """The level's parents (nearest first), France last for every level but France."""
    return (*LEVEL[code].parents, *(("france",) if code != "france" else ()))


# INSEE's IRIS type of a commune not split into IRIS: its one IRIS is the commune itself, so
# its values are the commune's (the Caf publishes none at IRIS level).
SINGLE_IRIS = "Z"


# ---------------------------------------------------------------------------------------------
# Indicators

COUNT, RATE, AMOUNT = "effectif", "taux", "montant"


@dataclass(frozen=True)
class Indicator:
    """One published series: what it measures, where and how often, for reading a map.

    Declared in `layers/catalogue.toml` (curated) and, later, from the portal's metadata.
    `nature` is a stored word (effectif, taux, montant); `computed_from` names the numerator
    and denominator of a rate; `rounding` the portal's rounding of counts and amounts.
    """

    id: str
    title: str
    definition: str
    unit: str  # foyers, personnes, euros, %, places
    nature: str  # effectif, taux, montant
    category: str
    theme: str
    subtheme: str
    levels: tuple[str, ...]
    first_period: str = "2015"
    source: str = ""
    scope: str = ""
    granularity: str = ""
    observations: str = ""
    last_update: str = ""
    keywords: tuple[str, ...] = ()
    labelled_series: bool = False
    computed_from: tuple[str, str] | None = None
    rounding: int | None = None
    # Indicators computed from the geometry tables (population, density), not in the store.
    from_geometry: bool = field(default=False, compare=False)

    def frequency(self, level: str) -> str:
        return LEVEL[level].frequency

    @property
    def is_rate(self) -> bool:
        return self.nature == RATE

    @property
    def decimals(self) -> int:
        return 1 if self.nature == RATE else 0

    @property
    def api_kind(self) -> str:
        """count, rate, share or amount (a share is a part of the allocataires)."""
        if self.nature == COUNT:
            return "count"
        if self.nature == AMOUNT:
            return "amount"
        return "share" if self.id.startswith("part_") else "rate"


# ---------------------------------------------------------------------------------------------
# Facilities

EAJE, LAEP_CATEGORY, RPE_CATEGORY = "EAJE", "LAEP", "RPE"


@dataclass(frozen=True)
class FacilityType:
    """A kind of facility: URL/API slug, label (as in the facilities file), family, map colour,
    and the words (regular expressions on folded text: lower case, no accents) by which the
    open-data files of towns, départements and INSEE's BPE name it.

    Its position in `FACILITY_TYPES` is its code in the map's point layer and legend."""

    slug: str
    label: str
    category: str  # EAJE (crèches), LAEP or RPE (relais petite enfance)
    colour: str
    synonyms: tuple[str, ...] = ()

    @property
    def code(self) -> int:
        return FACILITY_TYPES.index(self)


# Colours: the eight of Okabe-Ito (distinguishable with the common colour-vision deficiencies),
# plus Paul Tol's wine for the relais (a service for childminders, not a place of care) and a
# neutral grey for an EAJE whose kind the source does not say (the BPE's generic code).
# Yellow goes to a rare kind (halte-garderie) and sky blue beside blue to the two collective
# kinds most lists contain, so the common points stay the most readable on a light basemap.
# fmt: off
FACILITY_TYPES: tuple[FacilityType, ...] = (
    FacilityType("creche_collective", "Crèche collective", EAJE, "#0072B2",
                 (r"collecti", r"\bcreches?\b")),
    FacilityType("micro_creche", "Micro-crèche", EAJE, "#E69F00", (r"micro",)),
    FacilityType("creche_familiale", "Crèche familiale", EAJE, "#009E73",
                 (r"familial",)),
    FacilityType("creche_parentale", "Crèche parentale", EAJE, "#CC79A7", (r"parental",)),
    FacilityType("laep", "Lieu d'accueil enfants-parents", LAEP_CATEGORY, "#D55E00",
                 (r"\blaep\b", r"lieux? d.?accueil enfants?.?parents?")),
    FacilityType("halte_garderie", "Halte-garderie", EAJE, "#F0E442",
                 (r"halte", r"accueil occasionnel", r"garderie")),
    FacilityType("multi_accueil", "Multi-accueil", EAJE, "#56B4E9", (r"multi.?accueil",)),
    FacilityType("jardin_enfants", "Jardin d'enfants", EAJE, "#000000",
                 (r"jardins? d.?enfants?",)),
    FacilityType("relais_petite_enfance", "Relais petite enfance", RPE_CATEGORY, "#882255",
                 (r"\brpe\b", r"\bram\b", r"\bripe\b", r"relais (petite enfance|assistant)")),
    FacilityType("eaje_non_precise", "EAJE (type non précisé)", EAJE, "#999999",
                 (r"\beaje\b", r"accueil (du|des|de) jeunes? enfants?", r"accueil collectif")),
)
# fmt: on
FACILITY_BY_SLUG: MappingProxyType[str, FacilityType] = MappingProxyType(
    {ft.slug: ft for ft in FACILITY_TYPES}
)
FACILITY_BY_LABEL: MappingProxyType[str, FacilityType] = MappingProxyType(
    {ft.label: ft for ft in FACILITY_TYPES}
)
# The order in which a free type name is matched: the most specific words first (« Micro-crèche
# collective » is a micro-crèche, « Crèche familiale » no generic crèche, « Halte-garderie
# multi-accueil »... a multi-accueil is the kind that includes the occasional care).
FACILITY_MATCH_ORDER: tuple[FacilityType, ...] = tuple(
    FACILITY_BY_SLUG[slug]
    for slug in (
        "laep", "relais_petite_enfance", "micro_creche", "creche_familiale",
        "creche_parentale", "jardin_enfants", "multi_accueil", "halte_garderie",
        "creche_collective", "eaje_non_precise",
    )
)  # fmt: skip
FACILITY_CATEGORY: MappingProxyType[str, str] = MappingProxyType(
    {ft.label: ft.category for ft in FACILITY_TYPES}
)
FACILITY_CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(ft.category for ft in FACILITY_TYPES))
LAEP = FACILITY_BY_SLUG["laep"].label
EAJE_LABELS: tuple[str, ...] = tuple(ft.label for ft in FACILITY_TYPES if ft.category == EAJE)
# Kinds without approved places (a file's 0 there means "not applicable").
PLACELESS_LABELS: frozenset[str] = frozenset(
    ft.label for ft in FACILITY_TYPES if ft.category != EAJE
)
