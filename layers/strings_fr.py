"""French texts of the interface, in one place."""

from __future__ import annotations

APP_TITLE = "Cafdata Carto"
APP_SUBTITLE = "Cartographie des données ouvertes de la branche Famille"

# Quick view selector: label and [west, south, east, north] bounds.
ZONES: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "metropole": ("France métropolitaine", (-5.3, 41.3, 9.7, 51.2)),
    "971": ("Guadeloupe", (-61.9, 15.8, -60.9, 16.6)),
    "972": ("Martinique", (-61.3, 14.35, -60.75, 14.9)),
    "973": ("Guyane", (-54.7, 2.1, -51.5, 5.8)),
    "974": ("La Réunion", (55.2, -21.4, 55.85, -20.85)),
    "976": ("Mayotte", (44.95, -13.05, 45.35, -12.6)),
}

LABEL_LEVEL = "Niveau géographique"
LABEL_INDICATOR = "Indicateur"
LABEL_ZONE = "Aller à"
LEGEND_NO_DATA = "Pas de données"
LOADING = "Chargement de la carte…"
MAP_ARIA = "Carte choroplèthe des territoires"
SOURCE_NOTE = (
    "Géométries : IGN Admin Express (COG 2018), simplifiées. "
    "Population : Insee, populations légales."
)

# Setup messages shown instead of the map when something is missing.
SETUP_TITLE = "Installation incomplète"
MISSING_VENDOR = (
    "Les bibliothèques front-end (MapLibre GL, Bootstrap) ne sont pas installées. "
    "Lancez « make run » (ou « python -m dashboard.vendor ») puis rechargez la page."
)
MISSING_CACHE = (
    "Le cache de données n'est pas construit ({path}). "
    "Lancez « cafcarto build » (ou « make run ») puis rechargez la page."
)

# API errors
ERR_UNKNOWN_LEVEL = "Niveau géographique inconnu : « {value} ». Niveaux possibles : {allowed}."
ERR_UNKNOWN_INDICATOR = "Indicateur inconnu : « {value} ». Indicateurs possibles : {allowed}."
ERR_LEVEL_NOT_BUILT = "Le niveau « {value} » n'est pas dans le cache. Lancez « cafcarto build »."
ERR_CACHE_MISMATCH = (
    "Le cache du niveau « {value} » est incohérent (géométries et attributs diffèrent). "
    "Relancez « cafcarto build »."
)
ERR_NOT_FOUND = "Ressource introuvable."
ERR_BAD_TILE = "Tuile hors de la grille : zoom de 0 à 24, x et y de 0 à 2^zoom - 1."

# Explore page
LABEL_SEARCH = "Rechercher un indicateur"
SEARCH_PLACEHOLDER = "ex. : aah, crèche, logement…"
LABEL_THEME = "Thème"
LABEL_SUBTHEME = "Sous-thème"
LABEL_PERIOD = "Période"
LABEL_REPRESENTATION = "Représentation"
LABEL_METHOD = "Classement"
LABEL_CLASSES = "Nombre de classes"
LABEL_BREAKS = "Bornes manuelles (séparées par « ; »)"
LABEL_PALETTE = "Palette"
LABEL_FILTER = "Territoire affiché"
FILTER_PLACEHOLDER = "Toute la France (choisir une région, un département, un EPCI…)"
LABEL_EXPORT = "Exporter la vue"
META_BUTTON = "Définition et source"
ALL_THEMES = "Tous les thèmes"
ALL_SUBTHEMES = "Tous les sous-thèmes"
METHOD_LABELS = {
    "quantiles": "Quantiles (effectifs égaux)",
    "jenks": "Seuils naturels (Jenks)",
    "equal": "Intervalles égaux",
    "manual": "Bornes manuelles",
}
PALETTE_LABELS = {
    "YlGnBu": "Jaune → bleu (séquentielle)",
    "OrRd": "Orange → rouge (séquentielle)",
    "viridis": "Viridis (séquentielle)",
    "RdBu": "Bleu ↔ rouge, centrée sur la France (divergente)",
    "PuOr": "Violet ↔ orange, centrée sur la France (divergente)",
}
REPRESENTATION_LABELS = {"choroplethe": "Carte choroplèthe", "cercles": "Cercles proportionnels"}
# Why counts are circles (the cartographic rule), and the note of a choropleth of counts.
CIRCLES_WHY = (
    "Un effectif ou un montant est représenté par des cercles proportionnels : la surface du "
    "cercle suit la valeur, quelle que soit la taille du territoire."
)
COUNT_CHOROPLETH_NOTE = (
    "Une carte choroplèthe d'effectifs fait dépendre la couleur de la taille des territoires : "
    "les plus peuplés ou les plus étendus ressortent d'abord. Pour comparer des territoires, "
    "préférez les cercles proportionnels ou un taux."
)
ERR_RATE_AS_CIRCLES = (
    "Un taux ou une part ne se représente pas en cercles proportionnels : "
    "choisissez « choroplethe »."
)
MAP_PDF_HINT = "La carte affichée (avec les outre-mer), sa légende et sa source, en PDF A4"
URL_NOTICE = "Paramètres d'adresse ignorés (valeur inconnue ou périmée) : {names}."
PANEL_TOGGLE = "Réglages"
SELECTION_TITLE = "Territoire sélectionné"
SELECTION_HINT = "Cliquez sur un territoire de la carte pour voir son évolution."
OPEN_PROFILE = "Ouvrir la fiche territoire"
TABLE_TOGGLE = "Tableau des données (alternative textuelle à la carte)"

LABEL_FACILITIES = "Équipements sur la carte"
FACILITIES_HINT = (
    "Crèches (EAJE), lieux d'accueil enfants-parents (LAEP) et relais petite enfance (RPE), "
    "regroupés quand la carte est dézoomée ; cliquez un point pour le détail, une commune pour "
    "la liste."
)
ATLAS_BUTTON = "Atlas PDF"
ATLAS_HINT = (
    "Fiches de toutes les communes du territoire affiché (un EPCI, par exemple), en un PDF : "
    "préparé en arrière-plan."
)
