"""Heatmap-guided MCTS: distances agree with evaluate(), moves never lengthen a tour, sparse structures,
seeded reproducibility, honest time limits, shipped knn-prior table and TSP-500/1000/10000 suites."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree

import ncosolve

from ncosolve.benchmarks import best_known, data_dir, load_benchmark
from ncosolve.errors import NcoError
from ncosolve.problems.distances import coord_distances
from ncosolve import solve_many
from ncosolve.search.mcts import MCTSParams, mcts_search
from ncosolve.search.methods import warm_up
from ncosolve.search.candidates import (
    alpha_neighbours, candidate_lists, nearest_neighbours, quadrant_neighbours, reverse_slots,
)
from ncosolve.search.heatmaps import knn_prior_table, make_heatmap, select_candidates, symmetrize
from ncosolve.search.metric import edge_length, kernel_metric, tour_length
from ncosolve.search.mcts import add_candidates, default_params, or_opt_action, run_actions
from ncosolve.suites.tsp_large import SETS
from ncosolve.search.tour_ops import double_bridge, local_search, sample_tour, seed_rng


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Load the compiled kernels once, so that timed tests time the search, not the loading."""
    warm_up()


def tsplib(name):
    return ncosolve.read_instance(data_dir() / "tsplib" / f"{name}.tsp")


def search_state(instance, params=MCTSParams(), seed=0):
    """A 2-opt-optimal heatmap-sampled tour and the structures the kernels work on."""
    pts, mat, mode = kernel_metric(instance)
    nbr, nbr_len = nearest_neighbours(instance, params.neighbours)
    heat = symmetrize(make_heatmap("softdist", nbr_len, params.tau), nbr)
    cand, cand_heat = select_candidates(heat, nbr, params.candidates, params.candidate_rule)
    W, Q = 100.0 * cand_heat, np.zeros(cand.shape)
    seed_rng(seed)
    n = instance.n
    tour, pos = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    sample_tour(tour, pos, cand, W, nbr, pts, mat, mode)
    return dict(tour=tour, pos=pos, nbr=nbr, cand=cand, W=W, Q=Q, pts=pts, mat=mat, mode=mode)


@pytest.mark.parametrize("ewt", ["EXACT_2D", "EUC_2D", "CEIL_2D", "ATT", "TRUNC1_2D", "GEO"])
def test_kernel_edge_lengths_match_the_instance_convention(ewt):
    rng = np.random.RandomState(1)
    coords = rng.uniform(-80, 80, size=(60, 2)) if ewt == "GEO" else rng.uniform(0, 1000, size=(60, 2))
    inst = ncosolve.TSPInstance(coords=coords, edge_weight_type=ewt)
    pts, mat, mode = kernel_metric(inst)
    i, j = rng.randint(60, size=300), rng.randint(60, size=300)
    got = np.array([edge_length(a, b, pts, mat, mode) for a, b in zip(i, j)])
    np.testing.assert_array_equal(got, coord_distances(inst.coords, i, j, ewt))
    tour = rng.permutation(60)
    assert tour_length(tour, pts, mat, mode) == pytest.approx(ncosolve.evaluate(inst, tour), rel=1e-12)


def test_explicit_symmetric_matrix_is_read_and_asymmetric_refused():
    rng = np.random.RandomState(2)
    pts = rng.uniform(size=(30, 2))
    d = np.round(100 * np.linalg.norm(pts[:, None] - pts[None], axis=2))
    result = ncosolve.solve(ncosolve.TSPInstance(dist=d), method="mcts", time_limit=0.5)
    assert result.feasible and result.cost == ncosolve.evaluate(ncosolve.TSPInstance(dist=d), result.solution)
    d[0, 1] += 5
    with pytest.raises(NcoError, match="asymmetric"):
        ncosolve.solve(ncosolve.TSPInstance(dist=d), method="mcts", time_limit=0.5)


@pytest.mark.parametrize("method", ["mcts", "mcts-knn"])
@pytest.mark.parametrize("name, gap", [("eil51", 0.5), ("kroA100", 0.5)])
def test_tsplib_results_pass_evaluate_within_gap(method, name, gap):
    inst = tsplib(name)
    result = ncosolve.solve(inst, method=method, time_limit=2.0, seed=0)
    assert result.feasible
    assert result.cost == result.info["length"]
    assert result.cost <= best_known(name) * (1 + gap / 100)


def test_generated_500_city_tour_is_valid_and_no_dense_matrix_is_built():
    inst = ncosolve.generate("tsp", 1, 500, seed=7)[0]
    result = ncosolve.solve(inst, method="mcts-knn", time_limit=2.0, seed=3)
    assert result.feasible and sorted(result.solution) == list(range(500))
    assert "_matrix" not in inst.__dict__  # the dense distance matrix was never computed
    # a 2-opt local optimum of uniform points is ~5% above optimal; the search must do clearly better
    # than the stored near-optimal tour + 3% on a test-set instance of the same size
    ref = load_benchmark("tsp500-fu")[0]
    with np.load(data_dir() / "tsp_large" / "tsp500_fu.npz") as data:
        stored = ncosolve.evaluate(ref, data["tour"][0])
    assert ncosolve.solve(ref, method="mcts", time_limit=3.0, seed=0).cost <= 1.03 * stored


def test_sparse_structures_have_n_by_k_shapes():
    inst = ncosolve.generate("tsp", 1, 300, seed=1)[0]
    params = MCTSParams(neighbours=12, candidates=6)
    st = search_state(inst, params)
    assert st["nbr"].shape == (300, 12) and st["cand"].shape == (300, 6) and st["W"].shape == (300, 6)
    assert not np.any(st["nbr"] == np.arange(300)[:, None])
    # the candidates of each city are among its 12 nearest, and nearest-first lists are sorted
    assert all(set(st["cand"][i]) <= set(st["nbr"][i]) for i in range(300))
    _, lengths = nearest_neighbours(inst, 12)
    assert np.all(np.diff(lengths, axis=1) >= 0)


def test_reverse_slots_and_symmetrized_heat():
    inst = ncosolve.generate("tsp", 1, 200, seed=2)[0]
    nbr, nbr_len = nearest_neighbours(inst, 8)
    rev = reverse_slots(nbr)
    for i in range(200):
        for r in range(8):
            j = nbr[i, r]
            expected = list(nbr[j]).index(i) if i in nbr[j] else -1
            assert rev[i, r] == expected
    heat = symmetrize(make_heatmap("softdist", nbr_len, 0.3), nbr)
    i, r = np.nonzero(rev >= 0)
    np.testing.assert_allclose(heat[i, r], heat[nbr[i, r], rev[i, r]])


def run_local_search(st, lists, or_opt, beta=10.0):
    """The shared 2-opt (+ Or-opt) kernel from every city until a local optimum: (new length, start length)."""
    args = (st["pts"], st["mat"], st["mode"])
    n = len(st["tour"])
    start = tour_length(st["tour"], *args)
    queue, active, state = st["tour"].copy(), np.ones(n, dtype=np.bool_), np.array([0, n], dtype=np.int64)
    moves, optimal, length = local_search(st["tour"], st["pos"], lists, queue, active, state, *args, True, or_opt,
                                          True, 1e-9, 10**6, start, st["W"], st["Q"], st["cand"], beta)
    assert optimal and moves > 0
    return length, start


def test_two_opt_and_kopt_actions_never_lengthen_the_tour():
    inst = tsplib("kroA100")
    st = search_state(inst)
    args = (st["pts"], st["mat"], st["mode"])
    length, start = run_local_search(st, st["nbr"], or_opt=False)
    assert length < start and length == pytest.approx(tour_length(st["tour"], *args))
    np.testing.assert_array_equal(st["pos"][st["tour"]], np.arange(100))
    assert st["Q"].sum() > 0  # the local-search moves were reinforced
    counters, state = np.zeros(3, dtype=np.int64), np.array([length, 0.0])
    previous = length
    for _ in range(50):
        run_actions(st["tour"], st["pos"], st["cand"], st["W"], st["Q"], counters, state, *args, 1.0, 10.0, 10,
                    10**9, 1e-9, 200)
        assert state[0] <= previous  # every kept action improved, every other one was undone exactly
        assert state[0] == pytest.approx(tour_length(st["tour"], *args), abs=1e-6)
        previous = state[0]
    assert sorted(st["tour"]) == list(range(100)) and counters[0] == 50 * 200 and counters[1] > 0
    assert float(state[1]) == 50 * 200 and st["Q"].sum() > 0


def test_or_opt_local_search_never_lengthens_and_beats_two_opt_alone():
    inst = ncosolve.generate("tsp", 1, 300, seed=8)[0]
    lengths = {}
    for or_opt in (False, True):
        st = search_state(inst, seed=3)
        args = (st["pts"], st["mat"], st["mode"])
        length, start = run_local_search(st, st["nbr"], or_opt)
        assert length <= start and length == pytest.approx(tour_length(st["tour"], *args))
        assert length == pytest.approx(ncosolve.evaluate(inst, st["tour"]))
        np.testing.assert_array_equal(st["pos"][st["tour"]], np.arange(300))
        lengths[or_opt] = length
        if or_opt:  # at the end no single segment of 1-3 cities moves next to a listed neighbour of its end city
            tour, pos, n = st["tour"], st["pos"], 300
            d = inst.distance_matrix()
            for p0 in range(n):
                for s_len in (1, 2, 3):
                    seg = [tour[(p0 + t) % n] for t in range(s_len)]
                    pre, post = tour[(p0 - 1) % n], tour[(p0 + s_len) % n]
                    removed = d[pre, seg[0]] + d[seg[-1], post] - d[pre, post]
                    for a in {seg[0], seg[-1]}:
                        for c in st["nbr"][a]:
                            if d[a, c] >= removed - 1e-9:
                                break  # the gain criterion the MCTS restarts use (prune=True)
                            if c in seg:
                                continue
                            for u, v in ((c, tour[(pos[c] + 1) % n]), (tour[(pos[c] - 1) % n], c)):
                                if u in seg or v in seg:
                                    continue
                                for x, y in ((seg[0], seg[-1]), (seg[-1], seg[0])):
                                    if (u == c and x == a) or (v == c and y == a):  # a lands beside c
                                        assert d[u, x] + d[y, v] - d[u, v] - removed > -1e-9
    assert lengths[True] < lengths[False]


def test_or_opt_actions_never_lengthen_the_tour():
    inst = ncosolve.generate("tsp", 1, 200, seed=9)[0]
    st = search_state(inst)
    args = (st["pts"], st["mat"], st["mode"])
    length, _ = run_local_search(st, st["nbr"], or_opt=False)
    counters, state = np.zeros(3, dtype=np.int64), np.array([length, 0.0])
    previous = length
    for _ in range(20):  # only Or-opt actions (or_opt = 1)
        run_actions(st["tour"], st["pos"], st["cand"], st["W"], st["Q"], counters, state, *args, 1.0, 10.0, 10,
                    10**9, 1e-9, 200, 1.0)
        assert state[0] <= previous + 1e-12
        assert state[0] == pytest.approx(tour_length(st["tour"], *args), abs=1e-6)
        previous = state[0]
    assert state[0] < length and counters[1] > 0 and sorted(st["tour"]) == list(range(200))
    np.testing.assert_array_equal(st["pos"][st["tour"]], np.arange(200))
    assert ncosolve.evaluate(inst, st["tour"]) == pytest.approx(state[0])


def brute_quadrants(coords, q):
    """Each city's q nearest per quadrant (as sets), by a plain scan."""
    n = len(coords)
    out = []
    for i in range(n):
        dx, dy = coords[:, 0] - coords[i, 0], coords[:, 1] - coords[i, 1]
        quad = np.select([(dx > 0) & (dy >= 0), (dx <= 0) & (dy > 0), (dx < 0) & (dy <= 0), (dx >= 0) & (dy < 0)],
                         [0, 1, 2, 3], -1)
        quad[i] = -1
        d2 = dx * dx + dy * dy
        rows = []
        for h in range(4):
            members = np.flatnonzero(quad == h)
            rows.append(members[np.argsort(d2[members], kind="stable")][:q])
        out.append(rows)
    return out


@pytest.mark.parametrize("distribution", ["uniform", "clustered"])
def test_candidates_include_each_citys_quadrant_neighbours(distribution):
    inst = ncosolve.generate("tsp", 1, 400, seed=6, distribution=distribution)[0]
    q, k = 2, 8
    quad = quadrant_neighbours(inst, q)
    assert quad.shape == (400, 8)
    expected = brute_quadrants(inst.coords, q)
    d = inst.distance_matrix()
    lists, lengths = candidate_lists(inst, k, q)
    knn = nearest_neighbours(inst, k)[0]
    for i in range(400):
        for h in range(4):
            got = [c for c in quad[i, h * q:(h + 1) * q] if c >= 0]
            want = list(expected[i][h])
            assert len(got) == len(want)  # -1 only where the quadrant holds fewer than q cities
            # the same distances (ties may pick a different city at equal distance)
            np.testing.assert_allclose(sorted(d[i, got]), sorted(d[i, want]))
        row = [c for c in lists[i] if c >= 0]
        assert set(row) >= set(knn[i]) | set(got for h in range(4) for got in quad[i, h * q:(h + 1) * q] if got >= 0)
        assert len(row) == len(set(row)) and i not in row
        assert np.all(np.diff(lengths[i, :len(row)]) >= 0) and np.all(lengths[i, len(row):] == np.inf)
        assert np.all(lists[i, len(row):] == -1)
    if distribution == "clustered":  # the k nearest stay inside clusters; the quadrant lists leave them
        assert lists.shape[1] > k and lengths[lists >= 0].max() > 5 * lengths[:, k - 1].max()


def test_quadrant_candidates_widen_the_mcts_candidates_and_the_search_uses_them():
    inst = ncosolve.generate("tsp", 1, 300, seed=7, distribution="clustered")[0]
    params = MCTSParams()
    st = search_state(inst, params)
    quad = quadrant_neighbours(inst, 1)
    cand, heat = add_candidates(st["cand"], st["W"] / 100.0, quad)
    assert cand.shape[1] > st["cand"].shape[1] and np.array_equal(cand[:, :st["cand"].shape[1]], st["cand"])
    for i in range(300):
        assert set(quad[i][quad[i] >= 0]) <= set(cand[i][cand[i] >= 0])
        assert len(set(cand[i][cand[i] >= 0])) == int((cand[i] >= 0).sum())
    assert np.all(heat[cand < 0] == 0)
    result = mcts_search(inst, time_limit=30.0, seed=0, max_actions=20_000,
                         params=MCTSParams(restart="kick", restart_factor=0.05, quadrant=2, or_opt=0.2,
                                           local_or_opt=True))
    assert result.length == pytest.approx(ncosolve.evaluate(inst, result.tour))
    assert result.info["candidates"] > params.candidates


def brute_alpha(d):
    """alpha(i, j) = d(i, j) - the longest edge on the minimum spanning tree's path from i to j (inf on the
    diagonal), from scipy's tree and a walk from every city."""
    n = len(d)
    tree = minimum_spanning_tree(d).toarray()
    tree = np.maximum(tree, tree.T)
    alpha = np.full((n, n), np.inf)
    for i in range(n):
        beta, stack = {i: -np.inf}, [i]
        while stack:
            u = stack.pop()
            for v in np.flatnonzero(tree[u]):
                if v not in beta:
                    beta[v] = max(beta[u], tree[u, v])
                    stack.append(v)
        for j in range(n):
            if j != i:
                alpha[i, j] = d[i, j] - beta[j]
    return alpha


@pytest.mark.parametrize("explicit", [False, True])
def test_alpha_neighbours_have_the_smallest_alpha_nearness(explicit):
    inst = ncosolve.generate("tsp", 1, 80, seed=8, distribution="clustered")[0]
    d = inst.distance_matrix()
    if explicit:  # the same metric as a symmetric matrix: the kernel reads the matrix
        inst = ncosolve.TSPInstance(dist=d)
    m = 6
    got = alpha_neighbours(inst, m)
    alpha = brute_alpha(d)
    assert got.shape == (80, m)
    for i in range(80):
        assert i not in got[i] and len(set(got[i])) == m
        np.testing.assert_allclose(alpha[i, got[i]], np.sort(alpha[i])[:m], atol=1e-9)
        assert np.all(np.diff(alpha[i, got[i]]) >= -1e-9)  # nearest in alpha first
    tree = minimum_spanning_tree(d).toarray()
    for i, j in zip(*np.nonzero(tree)):  # a tree edge has alpha 0, however long
        assert alpha[i, j] == pytest.approx(0.0, abs=1e-9) and (j in got[i] or np.sum(alpha[i] < 1e-9) > m)
    assert alpha_neighbours(inst, 500).shape == (80, 79)


def test_mcts_joins_the_clusters_of_fl1577_within_3_percent():
    # fl1577's clusters lie far apart: with 10 nearest + quadrant lists and windowed kicks alone this seeded run
    # stalled at 4.46% above the optimum; alpha-nearest candidates and wide kicks take it to 1.83%
    inst = tsplib("fl1577")
    result = mcts_search(inst, time_limit=300.0, seed=0, max_actions=600_000)
    assert result.actions == 600_000 and result.info["candidates"] > 5 + 8
    assert result.length == pytest.approx(ncosolve.evaluate(inst, result.tour))
    assert result.length <= 1.03 * best_known(inst)


def test_mcts_options_reach_the_search_and_unknown_ones_are_refused():
    inst = ncosolve.generate("tsp", 1, 200, seed=9, distribution="clustered")[0]
    result = ncosolve.solve(inst, "mcts", time_limit=1.0, alpha_nearness=0, wide_kicks=0.0, quadrant=0)
    assert result.feasible and result.info["params"]["alpha_nearness"] == 0
    assert result.info["candidates"] == MCTSParams().candidates
    with pytest.raises(ncosolve.UnknownMethod, match="wide_kick"):
        ncosolve.solve(inst, "mcts", time_limit=1.0, wide_kick=0.1)
    with pytest.raises(NcoError, match="wide_kicks"):
        ncosolve.solve(inst, "mcts-knn", time_limit=1.0, wide_kicks=2.0)


def test_double_bridge_keeps_a_permutation():
    inst = ncosolve.generate("tsp", 1, 100, seed=4)[0]
    st = search_state(inst)
    before = st["tour"].copy()
    ends = double_bridge(st["tour"], st["pos"], 30)
    assert sorted(st["tour"]) == list(range(100)) and not np.array_equal(before, st["tour"])
    np.testing.assert_array_equal(st["pos"][st["tour"]], np.arange(100))
    assert len(ends) == 8


@pytest.mark.parametrize("restart", ["sample", "kick"])
def test_seeded_runs_under_an_action_budget_are_identical(restart):
    inst = ncosolve.generate("tsp", 1, 200, seed=5)[0]
    params = MCTSParams(restart=restart, restart_factor=2.0)
    runs = [mcts_search(inst, time_limit=60.0, seed=s, params=params, max_actions=30_000) for s in (11, 11, 12)]
    assert runs[0].actions == 30_000 and runs[0].restarts > 1
    np.testing.assert_array_equal(runs[0].tour, runs[1].tour)
    assert runs[0].length == runs[1].length
    assert not np.array_equal(runs[0].tour, runs[2].tour)


@pytest.mark.parametrize("method", ["mcts", "mcts-knn"])
def test_time_limit_is_honoured_after_warm_up(method):
    inst = load_benchmark("tsp1000-fu")[0]
    result = ncosolve.solve(inst, method=method, time_limit=1.0)
    assert result.feasible and result.runtime_s <= 1.1 * 1.0 + 0.5
    assert result.runtime_s >= 0.9  # the budget is used, not abandoned


def test_knn_prior_table_is_a_distribution_shipped_in_the_package():
    probs = knn_prior_table()
    raw = json.loads((data_dir() / "knn_prior.json").read_text())
    assert np.all(probs >= 0) and len(probs) >= 10
    assert probs.sum() + raw["beyond"] == pytest.approx(1.0, abs=1e-4)
    assert probs[:10].sum() > 0.98  # optimal tour edges go to near neighbours
    assert np.all(np.diff(probs[:5]) < 0)  # the nearest is the likeliest, then decreasing
    heat = make_heatmap("knn-prior", np.ones((3, 10)), 0.3)
    np.testing.assert_array_equal(heat[0], probs[:10])


def test_bad_options_are_clear_errors():
    inst = tsplib("eil51")
    with pytest.raises(NcoError, match="heatmap"):
        mcts_search(inst, heatmap="nope", time_limit=0.5)
    with pytest.raises(NcoError, match="max_depth"):
        ncosolve.solve(inst, method="mcts", time_limit=0.5, max_depth=0)
    with pytest.raises(NcoError, match="restart"):
        ncosolve.solve(inst, method="mcts", time_limit=0.5, restart="sometimes")


def test_large_tsp_suites_are_registered_with_their_reference_means():
    for name, (_, count, mean, _) in SETS.items():
        instances = load_benchmark(name)
        assert len(instances) == count
        assert instances[0].n == int(name[3:].split("-")[0])
        assert best_known(instances[-1]) == mean


def test_solve_many_over_processes_keeps_the_input_order():
    instances = [tsplib("eil51"), tsplib("berlin52"), tsplib("st70")]
    results = solve_many(instances, method="mcts-knn", time_limit=2.0, processes=2)
    assert [r.feasible for r in results] == [True] * 3
    assert [len(r.solution) for r in results] == [51, 52, 70]
    for inst, r in zip(instances, results):
        assert r.cost == ncosolve.evaluate(inst, r.solution) <= 1.03 * best_known(inst)
        assert r.runtime_s <= 1.1 * 2.0 + 0.5


def test_tsp_mcts_benchmark_refuses_an_unknown_method_before_writing(repo_script, capsys, tmp_path):
    script = repo_script("benchmarks/tsp_mcts.py")
    out = tmp_path / "table.json"
    with pytest.raises(SystemExit) as stop:
        script.main(["--part", "tsplib", "--methods", "mcts,mtcs", "--out", str(out)])
    assert stop.value.code == 2 and "unknown mtcs" in capsys.readouterr().err
    assert not out.exists()
    assert script.parse_args(["--methods", "mcts,lkh"]).methods == "mcts,lkh"
