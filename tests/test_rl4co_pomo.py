"""solve(method="rl4co-pomo"): rl4co's own POMO from a checkpoint, mapped back to ncosolve solutions."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import ncosolve
from ncosolve.errors import InvalidInstance, MissingDependency
from ncosolve.policies.checkpoint import SHIPPED, CheckpointError
from ncosolve.policies.rl4co_pomo import SHIPPED_RL4CO, find_pomo, make_policy, save_pomo

SMALL = {"embed_dim": 16, "num_heads": 2, "num_encoder_layers": 1, "feedforward_hidden": 32}


@pytest.fixture(scope="module")
def rl4co():
    return pytest.importorskip("rl4co", reason="rl4co-pomo needs rl4co: pip install 'ncosolve[rl4co]'")


@pytest.fixture(scope="module")
def eil51():
    return next(i for i in ncosolve.load_benchmark("tsplib") if i.name == "eil51")


@pytest.fixture(scope="module")
def a_n32_k5():
    return next(i for i in ncosolve.load_benchmark("cvrplib-A") if i.name == "A-n32-k5")


@pytest.fixture(scope="module")
def checkpoints(rl4co, tmp_path_factory):
    """Small untrained TSP and CVRP checkpoints (the mapping is what is tested, not the weights)."""
    folder = tmp_path_factory.mktemp("rl4co")
    out = {}
    for problem in ("tsp", "cvrp"):
        cfg = {"problem": problem, "size": 20, **SMALL}
        torch.manual_seed(0)
        out[problem] = save_pomo(make_policy(cfg), cfg, folder / f"{problem}20.pt", {"samples": 0})
    return out


def test_missing_rl4co_names_the_extra(monkeypatch, eil51):
    monkeypatch.setitem(sys.modules, "rl4co", None)  # find_spec sees it as not installed
    with pytest.raises(MissingDependency, match=r"ncosolve\[rl4co\]"):
        ncosolve.solve(eil51, "rl4co-pomo")


def test_eil51_tour_passes_evaluate(checkpoints, eil51):
    result = ncosolve.solve(eil51, "rl4co-pomo", checkpoint=str(checkpoints["tsp"]))
    assert result.feasible and sorted(result.solution) == list(range(eil51.n))
    assert result.cost == ncosolve.evaluate(eil51, result.solution)
    assert result.info["trained_on"] == "tsp20" and result.info["augment"] == 8


def test_a_n32_k5_routes_pass_evaluate(checkpoints, a_n32_k5):
    result = ncosolve.solve(a_n32_k5, "rl4co-pomo", checkpoint=str(checkpoints["cvrp"]))
    assert result.feasible, result.info.get("infeasible_reason")
    assert sorted(c for route in result.solution for c in route) == list(range(1, a_n32_k5.n))
    assert result.cost == ncosolve.evaluate(a_n32_k5, result.solution)


def test_fleet_cap_prefers_a_trajectory_within_it(checkpoints, a_n32_k5):
    free = ncosolve.solve(a_n32_k5, "rl4co-pomo", checkpoint=str(checkpoints["cvrp"]), augment=1)
    capped = ncosolve.CVRPInstance(coords=a_n32_k5.coords, demands=a_n32_k5.demands, capacity=a_n32_k5.capacity,
                                   edge_weight_type=a_n32_k5.edge_weight_type, num_vehicles=len(free.solution) + 1)
    result = ncosolve.solve(capped, "rl4co-pomo", checkpoint=str(checkpoints["cvrp"]), augment=1)
    assert result.feasible and len(result.solution) <= capped.num_vehicles


def test_wrong_problem_missing_and_corrupt_checkpoints_are_refused(checkpoints, eil51, tmp_path):
    with pytest.raises(CheckpointError, match="trained for 'cvrp'"):
        ncosolve.solve(eil51, "rl4co-pomo", checkpoint=str(checkpoints["cvrp"]))
    with pytest.raises(CheckpointError, match="no such file"):
        ncosolve.solve(eil51, "rl4co-pomo", checkpoint=str(tmp_path / "absent.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        ncosolve.solve(eil51, "rl4co-pomo", checkpoint=str(tmp_path / "junk.pt"))
    attention = SHIPPED / "tsp20.pt"  # an ncosolve attention checkpoint
    with pytest.raises(CheckpointError, match="format"):
        ncosolve.solve(eil51, "rl4co-pomo", checkpoint=str(attention))


def test_matrix_instances_are_refused(checkpoints):
    matrix = ncosolve.TSPInstance(dist=[[0, 2, 3], [1, 0, 2], [3, 1, 0]])
    with pytest.raises(InvalidInstance, match="Euclidean only"):
        ncosolve.solve(matrix, "rl4co-pomo", checkpoint=str(checkpoints["tsp"]))


def test_shipped_checkpoints_cover_tsp_and_record_their_budget(rl4co, eil51):
    if not any(SHIPPED_RL4CO.glob("*.pt")):
        pytest.skip(f"no rl4co-pomo checkpoint shipped in {SHIPPED_RL4CO}")
    path = find_pomo(eil51)
    assert path.stat().st_size < 5_000_000
    result = ncosolve.solve(eil51, "rl4co-pomo")
    assert result.feasible and result.info["checkpoint"] == path.name
    meta = torch.load(path, weights_only=True)["meta"]
    assert '"samples"' in meta and '"rl4co_version"' in meta


def test_first_rl4co_solve_in_a_process_keeps_torch_threads(rl4co):
    """Importing rl4co sets torch to every core; a solve must neither decode on them nor leave them set."""
    code = """
import torch, ncosolve
import ncosolve.policies.rl4co_pomo as module
torch.set_num_threads(1)
seen, inner = [], module.pomo_decode
module.pomo_decode = lambda *a, **k: seen.append(torch.get_num_threads()) or inner(*a, **k)
eil51 = next(i for i in ncosolve.load_benchmark("tsplib") if i.name == "eil51")
assert ncosolve.solve(eil51, "rl4co-pomo", max_starts=4).feasible
print(seen, torch.get_num_threads())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[1, 1] 1"  # prepare's timing decode (on the instance cut small), then the solve
