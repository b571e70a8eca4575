"""Peak memory (issue 8): a ``solve()`` on a 10,000-node TSP (mcts, 20 s) and on a 1,000-customer CVRP (attention)
stay within their stated ceilings (``benchmarks/reliability.py``'s ``MEMORY_CASES``), each measured in a fresh
process. Slow: about a minute each."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "reliability", Path(__file__).resolve().parents[1] / "benchmarks" / "reliability.py")
reliability = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(reliability)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("case", sorted(reliability.MEMORY_CASES))
def test_peak_rss_within_the_stated_ceiling(case):
    row = reliability.measure_memory(case)
    assert row["feasible"]
    assert row["process_peak_mib"] <= row["ceiling_mib"], row
    assert row["solve_peak_mib"] >= row["rss_before_mib"] > 0
