"""The indicator catalogue: categories -> themes -> sub-themes -> indicators, as Cafdata files them.

Each indicator carries the metadata a user needs to read a map (definition, unit, source, field,
frequency...) and the levels where it exists. `BREAKDOWNS` lists the linked tables (a total and
its parts) that statistical secrecy must treat together.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

COUNT, RATE, AMOUNT = "effectif", "taux", "montant"
QUARTERLY, ANNUAL = "trimestrielle", "annuelle"

# Where Cafdata publishes each kind of level, and how often.
LEVELS_NATIONAL = ("france", "region", "departement", "caf")
LEVELS_LOCAL = ("epci", "commune")
LEVELS_INFRA = ("qpv", "iris")
FREQUENCY_BY_LEVEL = {
    **dict.fromkeys(LEVELS_NATIONAL, QUARTERLY),
    **dict.fromkeys(LEVELS_LOCAL, ANNUAL),
    **dict.fromkeys(LEVELS_INFRA, ANNUAL),
}

SOURCE_BENETRIM = "Cnaf, fichier FILEAS - BENETRIM"
SOURCE_EAJE = "Cnaf, fichiers SIAS (Mtéor, Omega) et FILEAS - BENETRIM ; Insee, recensement"
SOURCE_PAJE = "Cnaf, fichier FILEAS - BENETRIM ; MSA"
FIELD_DEFAULT = "France, régime général + régime agricole dans les Dom"
FIELD_EAJE = "France, tous régimes"
LAST_UPDATE = "2025-06-30"

CATEGORIES: dict[str, dict[str, list[str]]] = {
    # category -> theme -> sub-themes
    "Données générales": {
        "Données socio-démographiques": ["Allocataires", "Composition familiale", "Ressources"],
    },
    "Prestations légales": {
        "Petite enfance": ["Prestation d'accueil du jeune enfant"],
        "Enfance et jeunesse": ["Rentrée scolaire"],
        "Soutien aux familles": ["Prestations d'entretien"],
        "Logement": ["Aides personnelles au logement"],
        "Solidarité et insertion": ["Revenu de solidarité active", "Prime d'activité"],
        "Handicap et autonomie": [
            "Allocation aux adultes handicapés",
            "Éducation de l'enfant handicapé",
        ],
    },
    "Action sociale": {
        "Petite enfance": ["Accueil du jeune enfant"],
    },
}


@dataclass(frozen=True)
class Indicator:
    id: str
    titre: str
    definition: str
    unite: str  # foyers, personnes, euros, %, places
    nature: str  # effectif, taux, montant
    categorie: str
    theme: str
    sous_theme: str
    niveaux: tuple[str, ...]
    premiere_periode: str = "2015"
    source: str = SOURCE_BENETRIM
    champ: str = FIELD_DEFAULT
    granularite: str = "décembre de chaque année (communes, EPCI) ; trimestre (autres niveaux)"
    observations: str = ""
    mise_a_jour: str = LAST_UPDATE
    mots_cles: tuple[str, ...] = ()
    serie_labellisee: bool = False
    # For a rate: the indicators it is computed from (numerator, denominator).
    calcul: tuple[str, str] | None = None
    arrondi: int | None = 5  # counts are rounded to multiples of 5 by the portal
    parametres: dict = field(default_factory=dict)

    def frequence(self, niveau: str) -> str:
        return FREQUENCY_BY_LEVEL[niveau]

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "parametres"}
        out["niveaux"] = list(self.niveaux)
        out["mots_cles"] = list(self.mots_cles)
        out["frequences"] = {n: self.frequence(n) for n in self.niveaux}
        return out


ALL_LEVELS = LEVELS_NATIONAL + LEVELS_LOCAL
WITH_INFRA = ALL_LEVELS + LEVELS_INFRA
GEN = ("Données générales", "Données socio-démographiques")
PL = "Prestations légales"


def _count(
    id_,
    titre,
    definition,
    theme,
    sous_theme,
    unite="foyers",
    niveaux=ALL_LEVELS,
    mots=(),
    label=True,
    categorie=PL,
    **kw,
) -> Indicator:
    return Indicator(
        id_,
        titre,
        definition,
        unite,
        COUNT,
        categorie,
        theme,
        sous_theme,
        niveaux,
        mots_cles=tuple(mots),
        serie_labellisee=label,
        **kw,
    )


def _rate(
    id_,
    titre,
    definition,
    theme,
    sous_theme,
    calcul,
    niveaux=ALL_LEVELS,
    mots=(),
    categorie=PL,
    **kw,
) -> Indicator:
    return Indicator(
        id_,
        titre,
        definition,
        "%",
        RATE,
        categorie,
        theme,
        sous_theme,
        niveaux,
        mots_cles=tuple(mots),
        calcul=calcul,
        arrondi=None,
        **kw,
    )


INDICATORS: tuple[Indicator, ...] = (
    # Données générales
    _count(
        "allocataires",
        "Foyers allocataires",
        "Nombre de foyers (allocataire, conjoint, enfants et autres personnes à charge) "
        "bénéficiant d'au moins une prestation versée par la Caf au titre du mois de référence.",
        GEN[1],
        "Allocataires",
        niveaux=WITH_INFRA,
        categorie=GEN[0],
        mots=("allocataires", "foyers", "bénéficiaires", "population couverte"),
    ),
    _count(
        "personnes_couvertes",
        "Personnes couvertes",
        "Nombre de personnes couvertes par au moins une prestation : allocataires, conjoints, "
        "enfants et autres personnes à charge.",
        GEN[1],
        "Allocataires",
        unite="personnes",
        niveaux=WITH_INFRA,
        categorie=GEN[0],
        mots=("personnes couvertes", "population"),
    ),
    _rate(
        "taux_personnes_couvertes",
        "Part de la population couverte par la Caf",
        "Personnes couvertes rapportées à la population municipale (Insee).",
        GEN[1],
        "Allocataires",
        ("personnes_couvertes", "population"),
        categorie=GEN[0],
        mots=("taux de couverture", "population couverte"),
    ),
    _count(
        "isoles",
        "Allocataires isolés sans enfant",
        "Foyers allocataires composés d'une personne seule sans enfant à charge.",
        GEN[1],
        "Composition familiale",
        categorie=GEN[0],
        mots=("personnes seules", "isolés"),
    ),
    _count(
        "monoparentales",
        "Familles monoparentales",
        "Foyers allocataires composés d'un parent seul avec au moins un enfant à charge.",
        GEN[1],
        "Composition familiale",
        categorie=GEN[0],
        mots=("monoparentale", "parent isolé", "famille"),
    ),
    _count(
        "couples_sans_enfant",
        "Couples sans enfant",
        "Foyers allocataires composés d'un couple sans enfant à charge.",
        GEN[1],
        "Composition familiale",
        categorie=GEN[0],
        mots=("couple",),
    ),
    _count(
        "couples_avec_enfants",
        "Couples avec enfant(s)",
        "Foyers allocataires composés d'un couple avec au moins un enfant à charge.",
        GEN[1],
        "Composition familiale",
        categorie=GEN[0],
        mots=("couple", "famille", "enfants"),
    ),
    _rate(
        "part_monoparentales",
        "Part des familles monoparentales",
        "Familles monoparentales rapportées à l'ensemble des foyers allocataires.",
        GEN[1],
        "Composition familiale",
        ("monoparentales", "allocataires"),
        categorie=GEN[0],
        mots=("monoparentale", "parent isolé"),
    ),
    _count(
        "qf_moins_400",
        "Allocataires à quotient familial inférieur à 400 €",
        "Foyers allocataires dont le quotient familial mensuel (ressources / unités de "
        "consommation Caf) est inférieur à 400 euros.",
        GEN[1],
        "Ressources",
        niveaux=ALL_LEVELS + ("qpv",),
        categorie=GEN[0],
        mots=("quotient familial", "QF", "bas revenus", "pauvreté"),
    ),
    _count(
        "qf_400_800",
        "Allocataires à quotient familial de 400 à 800 €",
        "Foyers allocataires dont le quotient familial mensuel est compris entre 400 et 800 euros.",
        GEN[1],
        "Ressources",
        categorie=GEN[0],
        mots=("quotient familial", "QF"),
    ),
    _count(
        "qf_800_plus",
        "Allocataires à quotient familial de 800 € et plus",
        "Foyers allocataires dont le quotient familial mensuel est d'au moins 800 euros.",
        GEN[1],
        "Ressources",
        categorie=GEN[0],
        mots=("quotient familial", "QF"),
    ),
    _count(
        "qf_non_calcule",
        "Allocataires à quotient familial non calculé",
        "Foyers allocataires dont le quotient familial n'a pu être calculé (ressources "
        "inconnues, étudiants, etc.).",
        GEN[1],
        "Ressources",
        categorie=GEN[0],
        mots=("quotient familial", "QF"),
    ),
    _rate(
        "part_qf_moins_400",
        "Part des allocataires à bas quotient familial (< 400 €)",
        "Allocataires dont le quotient familial est inférieur à 400 euros, rapportés à "
        "l'ensemble des allocataires.",
        GEN[1],
        "Ressources",
        ("qf_moins_400", "allocataires"),
        categorie=GEN[0],
        mots=("quotient familial", "pauvreté", "bas revenus"),
    ),
    # Soutien aux familles
    _count(
        "af",
        "Bénéficiaires des allocations familiales (AF)",
        "Foyers percevant les allocations familiales, versées dès le deuxième enfant à charge.",
        "Soutien aux familles",
        "Prestations d'entretien",
        mots=("AF", "allocations familiales", "enfants"),
    ),
    _count(
        "cf",
        "Bénéficiaires du complément familial (CF)",
        "Foyers percevant le complément familial (au moins trois enfants de 3 ans et plus, "
        "sous condition de ressources).",
        "Soutien aux familles",
        "Prestations d'entretien",
        mots=("CF", "complément familial", "famille nombreuse"),
    ),
    _count(
        "asf",
        "Bénéficiaires de l'allocation de soutien familial (ASF)",
        "Foyers percevant l'allocation de soutien familial (enfant privé de l'aide d'au moins "
        "un parent).",
        "Soutien aux familles",
        "Prestations d'entretien",
        mots=("ASF", "soutien familial", "pension alimentaire", "monoparentale"),
    ),
    # Enfance et jeunesse
    _count(
        "ars",
        "Bénéficiaires de l'allocation de rentrée scolaire (ARS)",
        "Foyers ayant perçu l'allocation de rentrée scolaire (enfants de 6 à 18 ans "
        "scolarisés, sous condition de ressources), au titre du mois d'août.",
        "Enfance et jeunesse",
        "Rentrée scolaire",
        mots=("ARS", "rentrée scolaire", "école", "collège", "lycée"),
    ),
    # Petite enfance (prestations)
    _count(
        "paje",
        "Bénéficiaires de la prestation d'accueil du jeune enfant (PAJE)",
        "Foyers percevant au moins une prestation de la PAJE (prime, allocation de base, "
        "complément de libre choix du mode de garde, PreParE).",
        "Petite enfance",
        "Prestation d'accueil du jeune enfant",
        source=SOURCE_PAJE,
        mots=("PAJE", "jeune enfant", "naissance", "bébé"),
    ),
    _count(
        "paje_ab",
        "Bénéficiaires de l'allocation de base de la PAJE",
        "Foyers percevant l'allocation de base de la PAJE (enfant de moins de 3 ans).",
        "Petite enfance",
        "Prestation d'accueil du jeune enfant",
        source=SOURCE_PAJE,
        mots=("PAJE", "allocation de base", "AB"),
    ),
    _count(
        "paje_cmg",
        "Bénéficiaires du complément de libre choix du mode de garde (CMG)",
        "Foyers percevant le CMG pour l'emploi d'une assistante maternelle ou d'une garde à "
        "domicile.",
        "Petite enfance",
        "Prestation d'accueil du jeune enfant",
        source=SOURCE_PAJE,
        mots=("CMG", "mode de garde", "assistante maternelle", "nounou", "garde d'enfant"),
    ),
    _count(
        "paje_prepare",
        "Bénéficiaires de la prestation partagée d'éducation de l'enfant",
        "Foyers percevant la PreParE (cessation ou réduction d'activité pour élever un enfant).",
        "Petite enfance",
        "Prestation d'accueil du jeune enfant",
        source=SOURCE_PAJE,
        mots=("PreParE", "congé parental"),
    ),
    # Logement
    _count(
        "aides_logement",
        "Bénéficiaires d'une aide personnelle au logement",
        "Foyers percevant une aide au logement : APL, ALF ou ALS (une seule par foyer).",
        "Logement",
        "Aides personnelles au logement",
        mots=("aide au logement", "AL", "loyer", "logement"),
    ),
    _count(
        "apl",
        "Bénéficiaires de l'aide personnalisée au logement (APL)",
        "Foyers percevant l'APL (logement conventionné).",
        "Logement",
        "Aides personnelles au logement",
        mots=("APL", "aide personnalisée", "logement"),
    ),
    _count(
        "alf",
        "Bénéficiaires de l'allocation de logement familiale (ALF)",
        "Foyers percevant l'ALF.",
        "Logement",
        "Aides personnelles au logement",
        mots=("ALF", "logement familial"),
    ),
    _count(
        "als",
        "Bénéficiaires de l'allocation de logement sociale (ALS)",
        "Foyers percevant l'ALS (étudiants, personnes âgées, personnes seules...).",
        "Logement",
        "Aides personnelles au logement",
        mots=("ALS", "logement social", "étudiants"),
    ),
    _rate(
        "part_aides_logement",
        "Part des allocataires percevant une aide au logement",
        "Bénéficiaires d'une aide au logement rapportés à l'ensemble des allocataires.",
        "Logement",
        "Aides personnelles au logement",
        ("aides_logement", "allocataires"),
        mots=("aide au logement", "logement"),
    ),
    # Solidarité et insertion
    _count(
        "rsa",
        "Bénéficiaires du revenu de solidarité active (RSA)",
        "Foyers percevant le RSA (socle ou majoré) au titre du mois de référence.",
        "Solidarité et insertion",
        "Revenu de solidarité active",
        niveaux=WITH_INFRA,
        mots=("RSA", "minima sociaux", "revenu de solidarité", "pauvreté", "insertion"),
    ),
    Indicator(
        "rsa_montant",
        "Montant mensuel versé au titre du RSA",
        "Montant total du RSA versé au titre du mois de référence, arrondi à la centaine d'euros.",
        "euros",
        AMOUNT,
        PL,
        "Solidarité et insertion",
        "Revenu de solidarité active",
        ALL_LEVELS,
        arrondi=100,
        mots_cles=("RSA", "montant", "dépense"),
    ),
    _rate(
        "part_rsa",
        "Part des allocataires percevant le RSA",
        "Foyers bénéficiaires du RSA rapportés à l'ensemble des allocataires.",
        "Solidarité et insertion",
        "Revenu de solidarité active",
        ("rsa", "allocataires"),
        niveaux=ALL_LEVELS,  # the rate is not derived for IRIS and QPV yet
        mots=("RSA", "pauvreté"),
    ),
    _count(
        "ppa",
        "Bénéficiaires de la prime d'activité",
        "Foyers percevant la prime d'activité au titre du mois de référence.",
        "Solidarité et insertion",
        "Prime d'activité",
        premiere_periode="2016",
        observations="La prime d'activité remplace le RSA activité et la PPE en 2016.",
        mots=("prime d'activité", "PPA", "travailleurs modestes", "emploi"),
    ),
    Indicator(
        "ppa_montant",
        "Montant mensuel versé au titre de la prime d'activité",
        "Montant total de la prime d'activité versé au titre du mois de référence, arrondi "
        "à la centaine d'euros.",
        "euros",
        AMOUNT,
        PL,
        "Solidarité et insertion",
        "Prime d'activité",
        ALL_LEVELS,
        premiere_periode="2016",
        arrondi=100,
        mots_cles=("prime d'activité", "montant"),
    ),
    # Handicap et autonomie
    _count(
        "aah",
        "Bénéficiaires de l'allocation aux adultes handicapés (AAH)",
        "Foyers percevant l'AAH au titre du mois de référence.",
        "Handicap et autonomie",
        "Allocation aux adultes handicapés",
        mots=("AAH", "handicap", "adultes handicapés", "invalidité"),
    ),
    _rate(
        "part_aah",
        "Part des allocataires percevant l'AAH",
        "Foyers bénéficiaires de l'AAH rapportés à l'ensemble des allocataires.",
        "Handicap et autonomie",
        "Allocation aux adultes handicapés",
        ("aah", "allocataires"),
        mots=("AAH", "handicap"),
    ),
    _count(
        "aeeh",
        "Bénéficiaires de l'allocation d'éducation de l'enfant handicapé (AEEH)",
        "Foyers percevant l'AEEH pour au moins un enfant handicapé de moins de 20 ans.",
        "Handicap et autonomie",
        "Éducation de l'enfant handicapé",
        mots=("AEEH", "enfant handicapé", "handicap"),
    ),
    # Petite enfance (action sociale)
    _count(
        "places_eaje",
        "Places en établissement d'accueil du jeune enfant (EAJE)",
        "Places agréées en crèches collectives, familiales, parentales et micro-crèches "
        "(financées par la PSU ou non).",
        "Petite enfance",
        "Accueil du jeune enfant",
        unite="places",
        categorie="Action sociale",
        source=SOURCE_EAJE,
        champ=FIELD_EAJE,
        arrondi=None,
        label=False,
        mots=("EAJE", "crèche", "micro-crèche", "places", "accueil collectif", "garde"),
    ),
    _rate(
        "taux_couverture_eaje",
        "Taux de couverture en EAJE",
        "Places en EAJE pour 100 enfants de moins de 3 ans (Insee).",
        "Petite enfance",
        "Accueil du jeune enfant",
        ("places_eaje", "enfants_moins_3_ans"),
        categorie="Action sociale",
        source=SOURCE_EAJE,
        champ=FIELD_EAJE,
        mots=("taux de couverture", "crèche", "EAJE", "accueil du jeune enfant"),
    ),
    _rate(
        "taux_couverture_global",
        "Taux de couverture global en accueil du jeune enfant",
        "Places d'accueil (EAJE, assistantes maternelles, garde à domicile, préscolarisation) "
        "pour 100 enfants de moins de 3 ans ; peut dépasser 100.",
        "Petite enfance",
        "Accueil du jeune enfant",
        ("places_total", "enfants_moins_3_ans"),
        categorie="Action sociale",
        source=SOURCE_EAJE,
        champ=FIELD_EAJE,
        observations="Le taux peut dépasser 100 quand l'offre excède le nombre d'enfants.",
        mots=("taux de couverture", "mode de garde", "assistante maternelle", "crèche"),
    ),
)

BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}

# Linked tables: a total and its exhaustive, exclusive parts (one equation per territory).
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "allocataires": ("isoles", "monoparentales", "couples_sans_enfant", "couples_avec_enfants"),
    "allocataires@qf": ("qf_moins_400", "qf_400_800", "qf_800_plus", "qf_non_calcule"),
    "aides_logement": ("apl", "alf", "als"),
}


def fold(text: str) -> str:
    """Lower case without accents: "Crèche" and "creche" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def search(query: str, limit: int = 10) -> list[Indicator]:
    """Indicators matching every word of the query in their id, title, keywords or definition.

    Accent- and case-insensitive; title and keyword hits rank before definition hits.
    """
    words = [w for w in fold(query).replace("'", " ").split() if len(w) > 1]
    if not words:
        return []
    scored = []
    for order, ind in enumerate(INDICATORS):
        strong = fold(" ".join((ind.id.replace("_", " "), ind.titre, *ind.mots_cles)))
        weak = fold(" ".join((ind.definition, ind.theme, ind.sous_theme)))
        score = 0
        for w in words:
            if w in strong:
                score += 3 if f" {w} " in f" {strong} " else 2
            elif w in weak:
                score += 1
            else:
                break
        else:
            scored.append((-score, order, ind))
    return [ind for _, _, ind in sorted(scored)[:limit]]


def tree() -> list[dict]:
    """Category -> theme -> sub-theme -> indicator ids, in catalogue order (for the side panel)."""
    out = []
    for cat, themes in CATEGORIES.items():
        theme_nodes = []
        for theme, subs in themes.items():
            sub_nodes = []
            for sub in subs:
                ids = [
                    i.id
                    for i in INDICATORS
                    if (i.categorie, i.theme, i.sous_theme) == (cat, theme, sub)
                ]
                sub_nodes.append({"sous_theme": sub, "indicateurs": ids})
            theme_nodes.append({"theme": theme, "sous_themes": sub_nodes})
        out.append({"categorie": cat, "themes": theme_nodes})
    return out
