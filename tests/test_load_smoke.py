"""The load client (bench/load_bench.py) against the small cut: a few seconds, 3 users.

Only that it runs: zero errors and every route kind exercised. Speed is measured in bench/,
never asserted here.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.load_bench import KINDS, report, run_load

pytestmark = pytest.mark.load


def test_three_users_for_a_few_seconds(live_app) -> None:
    # 8 s: in 4 s a session on a busy machine (other tests' servers, a browser) did not
    # always reach its export before the time was up.
    stats = asyncio.run(
        run_load(
            live_app.url, users=3, duration=8, think=(0.05, 0.2), max_sessions=1, export_share=1.0
        )
    )
    print("\n" + report(stats))
    assert not stats.errors, stats.errors[:5]
    assert set(stats.times) == set(KINDS), sorted(stats.times)
    assert stats.by_path["callback map-spec.data"], "aucun changement d'indicateur joué"
    assert any(p.startswith("callback _pages_content.children /territoire") for p in stats.by_path)
