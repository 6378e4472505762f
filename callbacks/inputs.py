"""Inputs whose JSON type is right but whose shape no page sends: a client error, not a bug.

The update endpoint checks each value's JSON type against its component
(dashboard.server.dash_values); what only a callback knows (the profile's territory store is a
dict with a level and a code, a comparison's choices are codes) is read through these helpers,
which raise `ForgedInput`; the server answers it with a French 400 and one log line.
"""

from __future__ import annotations

from typing import Any


class ForgedInput(ValueError):
    """A callback input no page of the app could have sent (its name in the message)."""


def territory_ref(where: Any) -> tuple[str, str]:
    """(level, code) of the profile's territory store."""
    if isinstance(where, dict):
        level, code = where.get("niveau"), where.get("code")
        if isinstance(level, str) and isinstance(code, str):
            return level, code
    raise ForgedInput("fiche-territoire.data")


def chosen_values(value: Any, name: str) -> list[str]:
    """A multiple dropdown's value as a list of strings (None: none chosen; the renderer may
    send the single string it was given)."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if isinstance(values, list) and all(isinstance(v, str) for v in values):
        return values
    raise ForgedInput(name)


def option_list(options: Any, name: str) -> list[dict[str, Any]]:
    """A dropdown's options as the app gave them: dicts with a value."""
    if options is None:
        return []
    if isinstance(options, list) and all(isinstance(o, dict) and "value" in o for o in options):
        return options
    raise ForgedInput(name)
