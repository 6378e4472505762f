"""Classification and representation options of a map, checked in one place for the map
values route (errors) and the URL state (fallback to defaults)."""

from __future__ import annotations

from collections.abc import Mapping

from layers.classify import DIVERGING, MAX_CLASSES, METHODS, MIN_CLASSES, PALETTES
from layers.views import ViewError

REPRESENTATIONS = ("choroplethe", "cercles")
ALL_PALETTES = (*PALETTES, *DIVERGING)
MAX_MANUAL_BREAKS = 12


def map_params(args: Mapping[str, str]) -> dict:
    """Validated classification parameters (French errors); defaults for what is absent."""
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
    rep = args.get("representation") or "choroplethe"
    if rep not in REPRESENTATIONS:
        raise ViewError(f"Représentation inconnue : « {rep[:30]} » (choroplethe, cercles).")
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
