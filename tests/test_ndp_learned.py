"""Network design, learned and MIP methods: the UE-flow surrogate, ndp-surrogate-ga, ndp-sorb, ndp-rl, checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import ncosolve
from ncosolve.baselines import ndp_sorb
from ncosolve.baselines.ndp_ga import evolve
from ncosolve.problems.network_generators import (dndp_instance, grid_city, lane_addition_instance, lane_swap_instance,
                                     random_design_instance)
from ncosolve.policies import ndp_rl, ndp_surrogate
from ncosolve.policies.checkpoint import CheckpointError
from ncosolve.problems import evaluate
from ncosolve.problems.network import evaluate_designs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def held_out():
    """A synthetic instance from seeds far outside the training pools (0..~150)."""
    return random_design_instance(987_654, variant="dndp")


@pytest.fixture(scope="module")
def congested_dndp():
    return dndp_instance(grid_city(3, 3, seed=0, trips_per_zone=2500)[0], num_candidates=6, seed=0)


def test_network_ttt_is_the_equilibrium_objective(congested_dndp):
    inst = congested_dndp
    design = np.array([1, 0, 1, 0, 0, 0])
    cap, is_open = inst.link_arrays(design[None])
    ue = ncosolve.equilibrium_batch(inst.network, cap, is_open, tol=1e-6)
    assert inst.network.total_travel_time(ue.flows[0], cap[0]) == pytest.approx(float(ue.tstt[0]), rel=1e-9)


def test_surrogate_ranks_held_out_designs_like_the_true_equilibrium(held_out):
    model, meta = ndp_surrogate.load_surrogate()
    assert meta["config"]["trained_on"] == "synthetic"
    surrogate = ndp_surrogate.Surrogate(model, held_out)
    rng = np.random.default_rng(5)
    designs = np.unique((rng.random((40, held_out.num_candidates)) < rng.uniform(0.1, 0.7, (40, 1))).astype(int),
                        axis=0)
    cap, is_open = held_out.link_arrays(designs)
    ue = ncosolve.equilibrium_batch(held_out.network, cap, is_open, tol=1e-5)
    pred = surrogate.ttt(designs)
    assert spearmanr(pred, ue.tstt).statistic > 0.7
    assert np.mean(np.abs(pred / ue.tstt - 1)) < 0.05
    # The TTT comes from predicted flows (not predicted on its own): they must be close link by link.
    flows, _ = surrogate.flows(designs)
    assert np.mean(np.abs(flows - ue.flows) / held_out.network.capacity) < 0.1


@pytest.mark.parametrize("method", ["ndp-surrogate-ga", "ndp-sorb", "ndp-rl"])
def test_new_methods_return_affordable_designs_scored_by_evaluate(method, congested_dndp):
    inst = congested_dndp
    res = ncosolve.solve(inst, method=method, time_limit=10, seed=1)
    assert res.feasible
    assert inst.candidate_cost @ res.solution <= inst.budget * (1 + 1e-9)
    assert res.cost == evaluate(inst, res.solution)
    assert res.runtime_s <= 10 * 1.1 + 1.0


def test_surrogate_ga_matches_the_enumerated_optimum_on_a_small_instance(congested_dndp):
    exact = ncosolve.solve(congested_dndp, method="ndp-exact", time_limit=60)
    res = ncosolve.solve(congested_dndp, method="ndp-surrogate-ga", time_limit=5)
    assert res.cost <= exact.cost * 1.01


@pytest.mark.parametrize("variant", ["dndp", pytest.param("ndp-la", marks=pytest.mark.slow),
                                     pytest.param("ndp-ls", marks=pytest.mark.slow)])
def test_sorb_matches_exact_enumeration(variant, congested_dndp):
    net, lanes = grid_city(3, 3, seed=1, trips_per_zone=2500)
    inst = {"dndp": congested_dndp,
            "ndp-la": lane_addition_instance(net, lanes, budget_ratio=0.3, links=np.arange(0, 24, 6)),
            "ndp-ls": lane_swap_instance(net, lanes, budget_ratio=0.5, max_pairs=2)}[variant]
    exact = ncosolve.solve(inst, method="ndp-exact", time_limit=60)
    sorb = ncosolve.solve(inst, method="ndp-sorb", time_limit=60)
    assert sorb.info["complete"], "the SO bound should close the gap on a 4-6 candidate instance within 60 s"
    assert sorb.cost == pytest.approx(exact.cost, rel=1e-6)
    assert sorb.info["lower_bound"] <= exact.cost * (1 + 1e-6)


def test_sorb_lower_bound_is_below_every_design(congested_dndp):
    from ncosolve.baselines.ndp_exact import all_designs

    inst = congested_dndp
    relax = ndp_sorb.SORelaxation(inst)
    status, bound, design = relax.solve(30)
    assert status == "optimal" and inst.feasible(design[None])[0]
    designs = all_designs(inst.num_candidates)
    assert bound <= np.min(evaluate_designs(inst, designs[inst.feasible(designs)])) * (1 + 1e-6)


def test_evolve_takes_any_fitness(congested_dndp):
    inst = congested_dndp
    seen = []

    def fitness(designs):  # cheapest design with exactly two candidates is the target
        seen.append(len(designs))
        return np.abs(designs.sum(1) - 2) * 1e6 + designs @ inst.candidate_cost

    generations = evolve(inst, fitness, lambda: len(seen) > 50, np.random.default_rng(0), population=8)
    assert generations == 50 and all(n == 8 or n == 6 for n in seen)


def _write(path: Path, payload) -> Path:
    torch.save(payload, path)
    return path


class Payload:  # a class a weights-only load must refuse to unpickle
    pass


def test_checkpoints_wrong_or_corrupt_are_refused(tmp_path):
    shipped = ndp_surrogate.SHIPPED
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(shipped.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupt"):
        ndp_surrogate.load_surrogate(corrupt)
    with pytest.raises(CheckpointError, match="no such file"):
        ndp_surrogate.load_surrogate(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="'surrogate' model, expected a 'policy'"):
        ndp_rl.load_design_policy(shipped)
    with pytest.raises(CheckpointError, match="expected 'ncosolve-ndp-gnn/1'"):
        ndp_surrogate.load_surrogate(ROOT / "ncosolve" / "data" / "checkpoints" / "tsp20.pt")
    unsafe = _write(tmp_path / "unsafe.pt", {"meta": "{}", "state_dict": Payload()})
    with pytest.raises(CheckpointError, match="refused"):
        ndp_surrogate.load_surrogate(unsafe)
    meta, state = torch.load(shipped, weights_only=True).values()
    bad = _write(tmp_path / "bad.pt", {"meta": meta, "state_dict": {k: v[..., :1] for k, v in state.items()}})
    with pytest.raises(CheckpointError, match="weights do not fit"):
        ndp_surrogate.load_surrogate(bad)
    with pytest.raises(CheckpointError):
        ncosolve.solve(random_design_instance(3), method="ndp-surrogate-ga", time_limit=2, checkpoint=corrupt)


def test_shipped_checkpoints_are_small_and_record_their_training():
    for path in (ndp_surrogate.SHIPPED, ndp_rl.SHIPPED):
        assert path.stat().st_size < 5e6
    _, meta = ndp_rl.load_design_policy()
    assert meta["training"]["updates"] > 0 and meta["config"]["kind"] == "policy"


@pytest.mark.slow
def test_training_scripts_run_and_resume(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_ndp_rl
    import train_ndp_surrogate

    run = tmp_path / "sur"
    out = train_ndp_surrogate.main(["--instances", "2", "--groups", "6", "--val-groups", "2", "--epochs", "1",
                                    "--designs-per-group", "4", "--run-dir", str(run)])
    assert ndp_surrogate.load_surrogate(out)[1]["training"]["epochs"] == 1
    train_ndp_surrogate.main(["--resume", str(run)])  # data and state reloaded, nothing redone
    rl = train_ndp_rl.main(["--instances", "3", "--val-instances", "1", "--updates", "2", "--val-every", "1",
                            "--rollouts", "2", "--max-candidates", "8", "--run-dir", str(tmp_path / "rl")])
    assert ndp_rl.load_design_policy(rl)[1]["training"]["updates"] >= 1
