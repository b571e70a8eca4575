"""The design -> link-field mapping that benchmarks/network_design.py sends AequilibraE (no AequilibraE needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA / "tntp" / "SiouxFalls_net.tntp").is_file()
                                or not (DATA / "dndp" / "SF_DNDP_10_1.txt").is_file(),
                                reason="TransportationNetworks / DNDP data not found in ../shared/data")


@pytest.fixture(scope="module")
def bench(repo_script):
    return repo_script("benchmarks/network_design.py")


def test_siouxfalls_dndp_designs_open_candidates_only(bench):
    cases = bench.aeq_cases("SiouxFalls", 10, seed=0)
    assert sum(len(cap) for _, _, cap, _ in cases) == 10
    for _, net, cap, is_open in cases:
        assert net.num_links == 86
        assert is_open[:, :76].all()                       # existing links always open
        np.testing.assert_array_equal(cap, np.broadcast_to(net.capacity, cap.shape))  # DNDP: capacities fixed
    assert len({name for name, *_ in cases}) == len(cases)  # one graph per SF_DNDP_10_* file


def test_lane_addition_designs_change_capacity_only(bench):
    if not (DATA / "tntp" / "EMA_net.tntp").is_file():
        pytest.skip("EMA data not found")
    (_, net, cap, is_open), = bench.aeq_cases("EMA", 4, seed=0)
    assert is_open.all()
    assert (cap >= net.capacity).all() and (cap > net.capacity).any()
    again = bench.aeq_cases("EMA", 4, seed=0, base=net)[0][2]
    np.testing.assert_array_equal(cap, again)               # seeded


def test_network_message_is_json_and_blocks_centroids_where_tntp_says(bench):
    net = bench.read_tntp(DATA / "tntp" / "SiouxFalls_net.tntp")
    msg = json.loads(json.dumps(bench.peer_network_message(net)))
    assert msg["block_centroids"] is False and msg["closed"] == "penalty"
    assert len(msg["init"]) == net.num_links and min(msg["init"]) == 0
    assert np.shape(msg["demand"]) == (net.num_zones, net.num_zones)
    if (DATA / "tntp" / "Anaheim_net.tntp").is_file():
        anaheim = bench.read_tntp(DATA / "tntp" / "Anaheim_net.tntp")
        assert bench.peer_network_message(anaheim)["block_centroids"] is True  # first through node 39


def test_an_unknown_part_is_refused_before_anything_runs(bench, monkeypatch, capsys, tmp_path):
    out = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", ["network_design.py", "--parts", "ue,aequilibirae", "--out", str(out)])
    with pytest.raises(SystemExit) as stop:
        bench.main()
    assert stop.value.code == 2 and "unknown aequilibirae" in capsys.readouterr().err
    assert not out.exists()
