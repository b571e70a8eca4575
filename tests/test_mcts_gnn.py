"""GNN heatmap for the MCTS (``mcts-gnn``): checkpoint loading and refusals, a sparse finite heatmap the search
can symmetrize, valid seeded tours on TSPLIB instances, and the training script (loss falls, --resume)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ncosolve

from ncosolve.benchmarks import data_dir
from ncosolve.policies.checkpoint import CheckpointError
from ncosolve.policies.tsp_gnn import (
    SHIPPED, GNNConfig, TSPGNN, gnn_heatmap, graph_features, load_gnn, reinforce_loss, sample_tours, save_gnn,
    supervised_loss, tour_edge_targets,
)
from ncosolve import solve_many
from ncosolve.search.mcts import MCTSParams, mcts_search
from ncosolve.search.methods import warm_up
from ncosolve.search.candidates import nearest_neighbours, reverse_slots
from ncosolve.search.heatmaps import make_heatmap, symmetrize

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_tsp_gnn.py"


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Load the compiled kernels and the shipped model once."""
    warm_up("softdist", "knn-prior", "gnn")


@pytest.fixture
def one_thread():
    """One torch thread (as training runs): on a loaded 2-core machine two threads are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tsplib(name):
    return ncosolve.read_instance(data_dir() / "tsplib" / f"{name}.tsp")


def test_shipped_checkpoint_loads_with_weights_only_and_records_its_budget():
    payload = torch.load(SHIPPED, map_location="cpu", weights_only=True)
    meta = json.loads(payload["meta"])
    model, loaded_meta = load_gnn(SHIPPED)
    assert loaded_meta == meta and model.cfg == GNNConfig(**meta["config"])
    assert meta["ncosolve_version"] and meta["training"]["train_seconds"] > 0 and meta["training"]["steps"] > 0
    assert not model.training
    assert SHIPPED.stat().st_size < 5 * 2**20
    config = json.loads((SHIPPED.with_suffix(".json")).read_text())
    assert config["config"] == meta["config"] and config["training"]["steps"] == meta["training"]["steps"]


def test_wrong_and_corrupt_checkpoints_are_refused(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(SHIPPED.read_bytes()[:2000])
    payload = torch.load(SHIPPED, weights_only=True)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({**payload, "extra": Path("/etc/passwd")}, unsafe)  # a pickled object, not plain data
    misfit = tmp_path / "misfit.pt"
    meta = json.loads(payload["meta"])
    meta["config"]["hidden"] += 8
    torch.save({"meta": json.dumps(meta), "state_dict": payload["state_dict"]}, misfit)
    attention = data_dir() / "checkpoints" / "tsp20.pt"
    cases = {garbage: "not a torch.save archive", truncated: "corrupt", unsafe: "refused",
             misfit: "do not fit", attention: "expected 'ncosolve-tsp-gnn/1'", tmp_path / "absent.pt": "no such file"}
    for path, why in cases.items():
        with pytest.raises(CheckpointError, match=why):
            load_gnn(path)


def test_heatmap_is_sparse_finite_and_row_stochastic():
    inst = tsplib("pcb1173")
    nbr, nbr_len = nearest_neighbours(inst, 10)
    heat = make_heatmap("gnn", nbr_len, 0.3, inst, nbr)
    assert heat.shape == (inst.n, 10) and heat.dtype == np.float64 and heat.flags.c_contiguous
    assert np.all(np.isfinite(heat)) and np.all(heat >= 0)
    np.testing.assert_allclose(heat.sum(axis=1), 1.0, rtol=1e-9)
    assert not np.allclose(heat, heat[:, :1]), "a trained model does not give every neighbour the same heat"
    with pytest.raises(ncosolve.NcoError, match="needs the instance"):
        make_heatmap("gnn", nbr_len, 0.3)


def test_symmetrized_gnn_heat_is_symmetric_on_mutual_edges():
    inst = tsplib("rat783")
    nbr, nbr_len = nearest_neighbours(inst, 10)
    sym = symmetrize(gnn_heatmap(inst, nbr, nbr_len), nbr)
    rev = reverse_slots(nbr)
    i, r = np.nonzero(rev >= 0)
    np.testing.assert_allclose(sym[i, r], sym[nbr[i, r], rev[i, r]], rtol=1e-12)


@pytest.mark.slow
def test_heatmap_memory_grows_with_n_k_not_n_squared():
    # in a fresh process: peak RSS of the 20,000-city heatmap over a 500-city one; a dense float32 n x n
    # matrix alone would be 1.6 GB, the (n, k, hidden) edge tensors are about 26 MB each
    code = (
        "import resource, numpy as np, ncosolve\n"
        "from ncosolve.policies.tsp_gnn import gnn_heatmap\n"
        "from ncosolve.search.candidates import nearest_neighbours\n"
        "def peak(n):\n"
        "    inst = ncosolve.TSPInstance(coords=np.random.RandomState(n).uniform(size=(n, 2)))\n"
        "    nbr, nbr_len = nearest_neighbours(inst, 10)\n"
        "    assert gnn_heatmap(inst, nbr, nbr_len).shape == (n, 10)\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(peak(500), peak(20000))\n"
    )
    small, large = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                             check=True).stdout.split())
    assert large - small < 500, f"peak RSS grew {large - small:.0f} MiB from 500 to 20,000 cities"


@pytest.mark.parametrize("name", ["pcb442", "rat783"])
def test_mcts_gnn_tours_are_valid_on_tsplib(name):
    inst = tsplib(name)
    result = ncosolve.solve(inst, method="mcts-gnn", time_limit=2.0)
    assert result.feasible and sorted(result.solution) == list(range(inst.n))
    assert result.cost == ncosolve.evaluate(inst, result.solution)
    assert result.info["heatmap"] == "gnn" and result.cost <= 1.10 * ncosolve.benchmarks.best_known(inst)


def test_mcts_gnn_is_deterministic_for_a_seed_and_matches_heatmap_option():
    inst = tsplib("pcb442")
    runs = [ncosolve.solve(inst, method="mcts-gnn", time_limit=60.0, seed=s, max_actions=5000) for s in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0].solution, runs[1].solution)
    assert runs[0].info["actions"] == 5000
    assert not np.array_equal(runs[0].solution, runs[2].solution)
    via_option = ncosolve.solve(inst, method="mcts", heatmap="gnn", time_limit=60.0, seed=3, max_actions=5000)
    np.testing.assert_array_equal(via_option.solution, runs[0].solution)


def test_solve_many_with_the_gnn_heatmap_matches_single_solves():
    instances = [tsplib("pcb442"), tsplib("d493")]
    many = solve_many(instances, method="mcts", heatmap="gnn", time_limit=60.0, seed=2, max_actions=1000)
    for inst, result in zip(instances, many):
        single = ncosolve.solve(inst, method="mcts-gnn", time_limit=60.0, seed=2, max_actions=1000)
        assert result.feasible and result.info["heatmap"] == "gnn"
        np.testing.assert_array_equal(result.solution, single.solution)


def test_all_zero_heatmap_option_runs_the_same_search():
    inst = tsplib("pcb442")
    result = ncosolve.solve(inst, method="mcts", heatmap="all-zero", time_limit=60.0, max_actions=2000)
    assert result.feasible and result.info["heatmap"] == "all-zero"
    direct = mcts_search(inst, heatmap="zero", time_limit=60.0, max_actions=2000, params=MCTSParams(
        **result.info["params"]))
    np.testing.assert_array_equal(direct.tour, result.solution)


def test_a_few_adam_steps_reduce_the_supervised_loss(one_thread):
    torch.manual_seed(0)
    inst = ncosolve.generate("tsp", 1, 120, seed=9)[0]
    tour = ncosolve.solve(inst, method="mcts", time_limit=60.0, max_actions=3000).solution
    nbr, nbr_len = nearest_neighbours(inst, 10)
    node, edge = (torch.from_numpy(a)[None] for a in graph_features(inst.coords, nbr, nbr_len))
    target = torch.from_numpy(tour_edge_targets(np.asarray(tour), nbr))[None]
    assert torch.all(target.sum(-1) <= 2) and target.sum() > inst.n  # most tour edges join near neighbours
    model = TSPGNN(GNNConfig(hidden=16, layers=2))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = supervised_loss(model(node, edge, torch.from_numpy(nbr)[None]), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_sampled_tours_are_valid_and_reinforce_moves_the_weights(one_thread):
    inst = ncosolve.generate("tsp", 1, 80, seed=4)[0]
    nbr, nbr_len = nearest_neighbours(inst, 10)
    node, edge = (torch.from_numpy(a)[None] for a in graph_features(inst.coords, nbr, nbr_len))
    model = TSPGNN(GNNConfig(hidden=8, layers=2))
    logits = model(node, edge, torch.from_numpy(nbr)[None])[0]
    gen = torch.Generator().manual_seed(0)
    tours, logp, lengths = sample_tours(logits, torch.from_numpy(nbr), torch.tensor(inst.coords), 6, gen)
    for tour, length in zip(tours.numpy(), lengths.tolist()):
        assert sorted(tour) == list(range(80))
        assert length == pytest.approx(ncosolve.evaluate(inst, tour), rel=1e-9)
    assert torch.all(torch.isfinite(logp)) and torch.all(logp < 0)
    reinforce_loss(logp, lengths).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]  # the last layer's node update feeds nothing
    assert all(torch.all(torch.isfinite(g)) for g in grads)
    head = dict(model.head.named_parameters())
    # the output bias shifts every logit of a softmax alike, so its true gradient is 0 (float noise, or
    # exactly 0, depending on the initialisation); every weight of the head must move
    assert all(head[name].grad.abs().sum() > 0 for name in ("0.weight", "0.bias", "2.weight"))
    assert float(head["2.bias"].grad.abs().sum()) < 1e-5


def _script():
    spec = importlib.util.spec_from_file_location("train_tsp_gnn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script executes
    spec.loader.exec_module(module)
    return module


def test_training_script_runs_checkpoints_and_resumes(tmp_path, one_thread):
    script = _script()
    args = ["--sizes", "30,40", "--per-size", "3", "--val-n", "40", "--val-size", "2", "--batch-size", "2",
            "--hidden", "8", "--layers", "2", "--eval-every", "2", "--data-dir", str(tmp_path / "data"),
            "--run-dir", str(tmp_path / "run")]
    run = script.main(args + ["--steps", "4"])
    state = torch.load(run / "train_state.pt", weights_only=True)
    assert state["step"] == 4 and state["optimizer"]["state"]
    out = tmp_path / "shipped" / "tsp_gnn.pt"
    script.main(["--resume", str(run), "--steps", "6", "--out", str(out)])
    log = json.loads((run / "log.json").read_text())
    assert [e["step"] for e in log] == [2, 4, 6]
    model, meta = load_gnn(out)
    assert meta["training"]["steps"] in (2, 4, 6) and model.cfg.hidden == 8
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["n30_seed31.npz", "n40_seed41.npz",
                                                                      "n40_seed4321.npz"]
    rl = script.main(args[:-1] + [str(tmp_path / "rl"), "--objective", "reinforce", "--init", str(out),
                                  "--samples", "4", "--steps", "2"])
    model, meta = load_gnn(rl / "best.pt")
    assert meta["training"]["method"].startswith("REINFORCE") and meta["training"]["init"] == str(out)
    assert "val_sampled_gap" in meta["training"]["validation"] and model.cfg.hidden == 8


def test_save_and_load_round_trip(tmp_path):
    model = TSPGNN(GNNConfig(hidden=8, layers=1))
    model2, meta = load_gnn(save_gnn(model, tmp_path / "m.pt", {"steps": 1}))
    assert meta["training"] == {"steps": 1}
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
