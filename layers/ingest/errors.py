"""Errors raised while importing a Cafdata file: French messages meant for the user."""

from __future__ import annotations


class CafdataFormatError(ValueError):
    """The file cannot be read as a Cafdata file; the message names the line (1-based)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class CafdataDownloadError(OSError):
    """A dataset could not be downloaded from the portal (offline, unknown dataset...)."""


def at_line(line: int, problem: str) -> CafdataFormatError:
    """ "ligne 14 : <problem>" with the line number kept on the exception."""
    return CafdataFormatError(f"ligne {line} : {problem}", line)
