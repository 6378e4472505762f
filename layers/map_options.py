"""Classification and representation options of a map, checked in one place for the map
values route (errors) and the URL state (fallback to defaults)."""

from __future__ import annotations

from collections.abc import Mapping

from layers import strings_fr as fr
from layers.classify import DIVERGING, MAX_CLASSES, METHODS, MIN_CLASSES, PALETTES
from layers.model import Indicator
from layers.views import ViewError

CHOROPLETH, CIRCLES = "choroplethe", "cercles"
REPRESENTATIONS = (CHOROPLETH, CIRCLES)
ALL_PALETTES = (*PALETTES, *DIVERGING)
MAX_MANUAL_BREAKS = 12


def default_representation(ind: Indicator | None) -> str:
    """Cartographic rule: a count or an amount (a stock, which adds up over territories) is
    drawn as proportional circles, a rate or a share as a choropleth: colouring a count would
    make the colour follow the size of the territories."""
    return CHOROPLETH if ind is None or ind.is_rate else CIRCLES


def representation_allowed(ind: Indicator, representation: str) -> bool:
    """A rate cannot be drawn as circles (their areas would add rates up)."""
    return representation in REPRESENTATIONS and not (ind.is_rate and representation == CIRCLES)


def representation_note(ind: Indicator | None, representation: str | None) -> str:
    """The panel's sentence under the representation picker: why circles, or the warning of a
    choropleth of counts asked for; nothing for a rate (always a choropleth)."""
    if ind is None or ind.is_rate:
        return ""
    return fr.COUNT_CHOROPLETH_NOTE if representation == CHOROPLETH else fr.CIRCLES_WHY


def map_params(args: Mapping[str, str], ind: Indicator | None = None) -> dict:
    """Validated classification parameters (French errors); defaults for what is absent (the
    representation's default follows the indicator's nature)."""
    method = args.get("methode") or "quantiles"
    if method not in METHODS:
        allowed = ", ".join(METHODS)
        raise ViewError(f"Méthode de classement inconnue : « {method[:30]} » ({allowed}).")
    try:
        k = int(args.get("classes") or 5)
    except ValueError:
        raise ViewError("Nombre de classes invalide : un entier de 3 à 7.") from None
    if not MIN_CLASSES <= k <= MAX_CLASSES:
        raise ViewError("Nombre de classes invalide : un entier de 3 à 7.")
    pal = args.get("palette") or "YlGnBu"
    if pal not in ALL_PALETTES:
        raise ViewError(f"Palette inconnue : « {pal[:30]} » ({', '.join(ALL_PALETTES)}).")
    rep = args.get("representation") or default_representation(ind)
    if rep not in REPRESENTATIONS:
        raise ViewError(f"Représentation inconnue : « {rep[:30]} » (choroplethe, cercles).")
    if ind is not None and not representation_allowed(ind, rep):
        raise ViewError(fr.ERR_RATE_AS_CIRCLES)
    manual = None
    if method == "manual":
        manual = parse_breaks(args.get("bornes") or "")
        if manual is None:
            raise ViewError("Bornes manuelles : de 1 à 12 nombres séparés par « ; ».")
    return {"method": method, "k": k, "palette_name": pal, "representation": rep, "manual": manual}


def parse_breaks(text: str) -> list[float] | None:
    """Manual class bounds "10;20,5;30" -> [10.0, 20.5, 30.0]; None unless 1 to 12 numbers."""
    parts = [b for b in text[:200].split(";") if b.strip()]
    try:
        breaks = sorted(float(b.replace(",", ".")) for b in parts)
    except ValueError:
        return None
    return breaks if 1 <= len(breaks) <= MAX_MANUAL_BREAKS else None
