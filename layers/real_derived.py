"""Values the app derives from real Cafdata before publishing them: rates, sums, references.

A derived value is published only when it cannot give back a cell the portal left blank or
rounded (see docs/architecture.md); for now nothing is derived.
"""

from __future__ import annotations

import pandas as pd


def derived_values(
    rows: pd.DataFrame, provenance: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real store's rows and provenance with the derived series added."""
    return rows, provenance
