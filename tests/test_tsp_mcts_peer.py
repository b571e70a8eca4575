"""benchmarks/tsp_mcts_peer.py drives a peer binary through its file formats (a stand-in peer: no C++ needed)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import ncosolve
from ncosolve.benchmarks import data_dir, load_benchmark

# A stand-in for the C++ peer: checks the files it would read (the 128-instance input, the heatmap file of
# instance k with N then an N x N matrix) and writes the stored tour, reversed, in the peer's result format.
FAKE_PEER = '''#!{python}
import sys
k, result, source, n, batch, param_t = sys.argv[1:7]
k, n = int(k), int(n)
lines = open(source).read().splitlines()
assert len(lines) == 128 and batch == "1" and float(param_t) > 0
fields = lines[k].split()
assert len(fields) == 2 * n + 1 + n + 1 and fields[2 * n] == "output"
heat = open(f"heatmap/tsp{{n}}/heatmaptsp{{n}}_{{k}}.txt").read().split()
assert int(heat[0]) == n and len(heat) == 1 + n * n
tour = fields[2 * n + 1:3 * n + 1][::-1]
open(result, "a").write("Inst_Index:%d\\nSolution: %s\\n" % (k + 1, " ".join(tour)))
'''


@pytest.fixture(scope="module")
def bench(repo_script):
    return repo_script("benchmarks/tsp_mcts_peer.py")


def test_the_peer_reads_our_files_and_its_tour_is_scored_by_evaluate(bench, tmp_path):
    peer = tmp_path / "peer"
    peer.write_text(FAKE_PEER.format(python=sys.executable))
    peer.chmod(0o755)
    out = tmp_path / "out.json"
    bench.main(["--peer", str(peer), "--suite", "tsp500-fu", "--first", "2", "--budget", "0.5", "--out", str(out)])
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [r["instance"] for r in rows] == ["tsp500-fu-000", "tsp500-fu-001"]
    for row in rows:  # the stand-in returns the stored tour (reversed): the same length
        assert row["peer"] == pytest.approx(row["stored_length"]) and row["mcts"] is not None
    summary = report["summary"]["tsp500-fu"]
    wins, ties, losses = summary["mcts"]["vs_peer_wins_ties_losses"]
    assert wins + ties + losses == 2
    assert losses == sum(r["mcts"] > r["peer"] * (1 + 1e-9) for r in rows)
    stored = np.load(data_dir() / "tsp_large" / "tsp500_fu.npz")["tour"][0]
    assert rows[0]["stored_length"] == pytest.approx(ncosolve.evaluate(load_benchmark("tsp500-fu")[0], stored))


def test_a_peer_that_writes_no_tour_is_reported_not_scored(bench, tmp_path):
    peer = tmp_path / "peer"
    peer.write_text(f"#!{sys.executable}\nimport sys\nprint('crashed'); sys.exit(3)\n")
    peer.chmod(0o755)
    out = tmp_path / "out.json"
    bench.main(["--peer", str(peer), "--suite", "tsp500-fu", "--first", "1", "--budget", "0.3", "--out", str(out)])
    row = json.loads(out.read_text())["rows"][0]
    assert row["peer"] is None and "exit 3" in row["peer_note"] and "crashed" in row["peer_note"]
    with pytest.raises(SystemExit):
        bench.main(["--peer", str(tmp_path / "missing"), "--out", str(out)])


def test_an_unknown_method_is_refused_before_any_run(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--peer", sys.executable, "--methods", "mcts,mctz"])
    assert "mctz not among ncosolve's TSP methods" in capsys.readouterr().err
