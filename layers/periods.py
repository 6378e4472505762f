"""Reference periods: "YYYY-MM" strings, the month of reference (end of quarter, December)."""

from __future__ import annotations

FIRST_YEAR = 2015
LAST_QUARTER_YEAR = 2025  # France, régions, départements, Caf: quarterly 2015 to 2025
LAST_ANNUAL_YEAR = 2024  # EPCI, communes, QPV, IRIS: December 2015 to 2024

MONTHS_FR = {
    "01": "janvier",
    "02": "février",
    "03": "mars",
    "04": "avril",
    "05": "mai",
    "06": "juin",
    "07": "juillet",
    "08": "août",
    "09": "septembre",
    "10": "octobre",
    "11": "novembre",
    "12": "décembre",
}


def quarters(first: int = FIRST_YEAR, last: int = LAST_QUARTER_YEAR) -> list[str]:
    return [f"{y}-{m:02d}" for y in range(first, last + 1) for m in (3, 6, 9, 12)]


def decembers(first: int = FIRST_YEAR, last: int = LAST_ANNUAL_YEAR) -> list[str]:
    return [f"{y}-12" for y in range(first, last + 1)]


def label(period: str) -> str:
    """ "2024-12" -> "décembre 2024"."""
    year, month = period.split("-")
    return f"{MONTHS_FR[month]} {year}"


def year_fraction(period: str) -> float:
    year, month = period.split("-")
    return int(year) + (int(month) - 1) / 12
