"""Reference periods as written in Cafdata files, to the project's "YYYY-MM".

Values: "2024-12", "2024-12-01", "2024-12-31T00:00:00+00:00", "202412", "31/12/2024", "12/2024",
a year ("2023" -> "2023-12": annual files are as of December). Column names of quarterly wide files:
French month abbreviations with or without dot, 2- or 4-digit year ("déc.-14", "juin-2015").
"""

from __future__ import annotations

import calendar
import re
import unicodedata

MONTHS = {
    "janv": 1,
    "jan": 1,
    "janvier": 1,
    "fevr": 2,
    "fev": 2,
    "fevrier": 2,
    "feb": 2,
    "mars": 3,
    "mar": 3,
    "avr": 4,
    "avril": 4,
    "apr": 4,
    "mai": 5,
    "may": 5,
    "juin": 6,
    "jun": 6,
    "juil": 7,
    "juillet": 7,
    "jul": 7,
    "aout": 8,
    "aug": 8,
    "sept": 9,
    "sep": 9,
    "septembre": 9,
    "oct": 10,
    "octobre": 10,
    "nov": 11,
    "novembre": 11,
    "dec": 12,
    "decembre": 12,
}

_MONTH_YEAR = re.compile(r"^([a-z]+)\.?[\s\-_/']*(\d{4}|\d{2})$")
_YEAR_MONTH = re.compile(r"^((?:19|20)\d{2})[-/]?(0[1-9]|1[0-2])(?:[-/]\d{2}(?:[t\s].*)?)?$")
_DAY_MONTH_YEAR = re.compile(r"^(?:\d{1,2}/)?(0?[1-9]|1[0-2])/((?:19|20)\d{2})$")
_YEAR = re.compile(r"^((?:19|20)\d{2})(?:\.0+)?$")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _full_year(digits: str) -> int:
    if len(digits) == 4:
        return int(digits)
    short = int(digits)
    return 1900 + short if short >= 50 else 2000 + short  # quarterly series start in 1993


def month_column(name: str) -> str | None:
    """ "déc.-14" -> "2014-12"; "juin-2015" -> "2015-06"; "2015-06" -> "2015-06"; else None."""
    text = strip_accents(name).strip().lower()
    match = _MONTH_YEAR.match(text)
    if match and match.group(1) in MONTHS:
        return f"{_full_year(match.group(2)):04d}-{MONTHS[match.group(1)]:02d}"
    match = re.match(r"^((?:19|20)\d{2})-(0[1-9]|1[0-2])$", text)
    if match:
        return f"{match.group(1)}-{match.group(2)}"
    return None


def period_value(value: str) -> str | None:
    """A date cell to "YYYY-MM" (a bare year means December), None when not a date."""
    text = strip_accents(str(value)).strip().lower()
    match = _YEAR_MONTH.match(text)
    if match:
        return f"{match.group(1)}-{match.group(2)}"
    match = _DAY_MONTH_YEAR.match(text)
    if match:
        return f"{match.group(2)}-{int(match.group(1)):02d}"
    match = _YEAR.match(text)
    if match:
        return f"{match.group(1)}-12"
    return month_column(text)


# A UTC timestamp a few hours before midnight: Opendatasoft's instant of a Paris date
# ("2024-11-30T23:00:00+00:00" is 1 December 2024 in Paris).
_LATE_UTC = re.compile(
    r"^((?:19|20)\d{2})-(\d{2})-(\d{2})t(2[0-3]):\d{2}(?::\d{2}(?:\.\d+)?)?(?:\+00:?00|z)$"
)
_STAMP_YEAR = re.compile(r"^((?:19|20)\d{2})-\d{2}-\d{2}(?:[t\s].*)?$")


def _paris_month(text: str) -> tuple[int, int] | None:
    """(year, month) of a UTC timestamp late on a month's last day, read in Paris time."""
    match = _LATE_UTC.match(text)
    if not match:
        return None
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    if not 1 <= month <= 12 or day != calendar.monthrange(year, month)[1]:
        return None
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_value(value: str) -> str | None:
    """A `dtreffre` cell ("2024-12", "2024-12-01", "2024-12-01T00:00:00+00:00") as "YYYY-MM"."""
    text = strip_accents(str(value)).strip().lower()
    shifted = _paris_month(text)
    if shifted:
        return f"{shifted[0]:04d}-{shifted[1]:02d}"
    return period_value(text)


def year_value(value: str) -> str | None:
    """An `annee` cell (2023, "2023", "2023.0", "2023-01-01T00:00:00+00:00") as "YYYY-12"."""
    text = strip_accents(str(value)).strip().lower()
    shifted = _paris_month(text)
    if shifted:
        return f"{shifted[0]:04d}-12"
    match = _STAMP_YEAR.match(text)
    if match:
        return f"{match.group(1)}-12"
    match = _YEAR.match(text)
    if match:
        return f"{match.group(1)}-12"
    month = period_value(text)
    return f"{month[:4]}-12" if month else None


def year_in_name(name: str) -> str | None:
    """The last plausible year (1990-2039) in a file name or dataset id, as "YYYY-12"."""
    years = re.findall(r"(?<!\d)((?:19[9]|20[0-3])\d)(?!\d)", name)
    return f"{years[-1]}-12" if years else None
