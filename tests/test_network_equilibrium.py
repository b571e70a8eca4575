"""The JAX user-equilibrium solver: Braess numbers, best-known SiouxFalls/Anaheim values, batching, no retracing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ncosolve
import ncosolve.problems.network
from ncosolve.errors import InvalidInstance
from ncosolve.io.tntp import read_flows, read_tntp
from ncosolve.problems.network_generators import braess, grid_city, perturb_demand
from ncosolve.traffic import cache_folder, equilibrium, equilibrium_batch
from ncosolve.traffic.solver import _solve_many, _solve_one

TNTP = Path(__file__).resolve().parents[2] / "shared" / "data" / "tntp"
needs_tntp = pytest.mark.skipif(not (TNTP / "SiouxFalls_net.tntp").is_file(),
                                reason=f"TransportationNetworks data not found in {TNTP} (academic licence: not shipped)")


PATHS = pytest.mark.parametrize("paths", ["bellman-ford", "dijkstra", "sweeps"])


@PATHS
def test_braess_equilibrium_with_and_without_the_shortcut(paths):
    inst = braess()
    with_link = equilibrium(inst.network, tol=1e-10, paths=paths)
    np.testing.assert_allclose(with_link.flows, [4, 2, 2, 2, 4], atol=1e-6)
    np.testing.assert_allclose(with_link.times, [40, 52, 52, 12, 40], atol=1e-5)
    assert with_link.tstt == pytest.approx(552.0, rel=1e-8)  # every trip 92
    cap, is_open = inst.link_arrays(np.array([[0]]))
    without = equilibrium_batch(inst.network, cap, is_open, tol=1e-10, paths=paths)
    np.testing.assert_allclose(without.flows[0], [3, 3, 3, 0, 3], atol=1e-6)
    assert without.tstt[0] == pytest.approx(498.0, rel=1e-8)  # every trip 83


def test_relative_gap_meets_tolerance_and_beckmann_below_tstt():
    net, _ = grid_city(3, 3, seed=1)
    for algorithm, tol in (("fw", 1e-4), ("cfw", 1e-6), ("bfw", 1e-6)):
        res = equilibrium(net, tol=tol, algorithm=algorithm, max_iter=50_000)
        assert 0 <= res.relative_gap <= tol
        assert res.beckmann < res.tstt
    # flow conservation: every zone sends its demand out (no through-blocking here)
    out = np.bincount(net.init, res.flows, net.num_nodes) - np.bincount(net.term, res.flows, net.num_nodes)
    np.testing.assert_allclose(out[: net.num_zones], net.demand.sum(1) - net.demand.sum(0), atol=1e-6)


def test_batch_equals_single_solves_and_does_not_retrace():
    net, _ = grid_city(3, 3, seed=1)
    rng = np.random.default_rng(0)
    caps = net.capacity * rng.uniform(0.5, 1.5, (5, net.num_links))
    demands = perturb_demand(net.demand, seed=3, count=5)
    batch = equilibrium_batch(net, caps, demand=demands, tol=1e-7, vectorize=True)
    cache_many, cache_one = _solve_many._cache_size(), _solve_one._cache_size()
    for b in range(5):
        single = equilibrium(net.with_links(capacity=caps[b], demand=demands[b]), tol=1e-7)
        np.testing.assert_allclose(batch.flows[b], single.flows, rtol=1e-9, atol=1e-9)
        assert batch.tstt[b] == pytest.approx(single.tstt, rel=1e-12)
        assert batch.iterations[b] == single.iterations
    again = equilibrium_batch(net, caps[::-1] * 1.1, demand=demands, tol=1e-6, vectorize=True)
    assert again.relative_gap.max() <= 1e-6
    assert _solve_many._cache_size() == cache_many  # new values, same shapes: no new compilation
    assert _solve_one._cache_size() <= cache_one + 1  # at most the one new network topology above


@pytest.mark.parametrize("paths", ["dijkstra", "sweeps"])
def test_host_loaders_and_bellman_ford_load_the_same_flows(paths):
    # random link costs (no ties), some links closed, through traffic banned at the first zones
    import jax
    import jax.numpy as jnp

    from ncosolve.traffic.shortest_paths import all_or_nothing
    from ncosolve.traffic.solver import LOADERS, topology
    from ncosolve.problems.network import Network
    base, _ = grid_city(5, 5, seed=2)
    net = Network(num_nodes=base.num_nodes, init=base.init, term=base.term, capacity=base.capacity,
                  free_flow_time=base.free_flow_time, demand=base.demand[:8, :8], first_thru_node=4)
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        topo = topology(net)
        for _ in range(3):
            cost = jnp.asarray(np.where(rng.random(net.num_links) < 0.15, np.inf, rng.uniform(1, 2, net.num_links)))
            demand = jnp.asarray(net.demand)
            sweeps, heap = all_or_nothing(topo, cost, demand), jax.jit(LOADERS[paths])(topo, cost, demand)
            np.testing.assert_allclose(np.asarray(heap[0]), np.asarray(sweeps[0]), rtol=1e-12, atol=1e-9)
            assert float(heap[1]) == pytest.approx(float(sweeps[1]), rel=1e-12)  # shortest-path travel time
            assert float(heap[2]) == pytest.approx(float(sweeps[2]), rel=1e-12)  # demand with no open path
    with pytest.raises(InvalidInstance, match="paths"):
        equilibrium(net, paths="floyd")
    # vmapped, the host callback may run on a JAX thread without the solver's x64 scope: still float64, same flows
    caps = net.capacity * rng.uniform(0.3, 1.0, (3, net.num_links))
    batch = equilibrium_batch(net, caps, tol=1e-8, vectorize=True, paths=paths)
    for b in range(3):
        single = equilibrium(net.with_links(capacity=caps[b]), tol=1e-8, paths=paths)
        np.testing.assert_allclose(batch.flows[b], single.flows, rtol=1e-9, atol=1e-9)


@PATHS
def test_through_traffic_ban_reroutes_around_zone(paths):
    # zone 0 -> zone 2 with a cheap path through zone 1 and a dear one through node 3
    from ncosolve.problems.network import Network
    kw = dict(num_nodes=4, init=[0, 1, 0, 3], term=[1, 2, 3, 2], capacity=[10.0] * 4,
              free_flow_time=[1.0, 1.0, 5.0, 5.0], demand=np.array([[0, 0, 4.0], [0, 0, 0], [0, 0, 0]]))
    assert equilibrium(Network(**kw), paths=paths).flows == pytest.approx([4, 4, 0, 0])
    assert equilibrium(Network(**kw, first_thru_node=3), paths=paths).flows == pytest.approx([0, 0, 4, 4])
    with pytest.raises(InvalidInstance, match="no path"):
        Network(**{**kw, "init": [0, 1], "term": [1, 2], "capacity": [1.0, 1.0], "free_flow_time": [1.0, 1.0]},
                first_thru_node=3)


@PATHS
@needs_tntp
def test_siouxfalls_matches_best_known(paths):
    net = read_tntp(TNTP / "SiouxFalls_net.tntp")
    assert (net.num_nodes, net.num_links, net.num_zones) == (24, 76, 24)
    assert net.demand.sum() == pytest.approx(360600.0)
    res = equilibrium(net, tol=1e-6, paths=paths)
    assert res.relative_gap <= 1e-6
    assert res.tstt == pytest.approx(7_480_225.34, rel=1e-4)
    assert res.beckmann == pytest.approx(4_231_335.29, rel=1e-6)
    best = read_flows(TNTP / "SiouxFalls_flow.tntp", net)["flows"]
    assert np.abs(res.flows - best).max() < 0.002 * best.max()


@pytest.mark.slow
@needs_tntp
def test_anaheim_matches_best_known():
    net = read_tntp(TNTP / "Anaheim_net.tntp")
    assert (net.num_nodes, net.num_links, net.num_zones, net.first_thru_node) == (416, 914, 38, 38)
    res = equilibrium(net, tol=1e-6)
    assert res.relative_gap <= 1e-6
    assert res.tstt == pytest.approx(1_419_913.85, rel=1e-5)
    assert res.beckmann == pytest.approx(1_286_032.17, rel=1e-6)


def _heapq_load(init, term, no_through, cost, demand):
    """Textbook reference of ``dijkstra._load``: lazy ``heapq`` of (dist, node), tree flows by walking paths."""
    import heapq
    n, zones = len(no_through), demand.shape[0]
    out = {v: [] for v in range(n)}
    for link, tail in enumerate(init):
        out[tail].append(link)
    flows, sptt, unserved = np.zeros(len(cost)), 0.0, 0.0
    for origin in range(zones):
        dist, pred, done, heap = np.full(n, np.inf), np.full(n, -1), np.zeros(n, bool), [(0.0, origin)]
        dist[origin] = 0.0
        while heap:
            d, v = heapq.heappop(heap)
            if done[v]:
                continue
            done[v] = True
            if v != origin and no_through[v]:
                continue
            for link in sorted(out[v]):
                if d + cost[link] < dist[term[link]]:
                    dist[term[link]], pred[term[link]] = d + cost[link], link
                    heapq.heappush(heap, (d + cost[link], term[link]))
        for dest in range(zones):
            if demand[origin, dest] > 0:
                if not np.isfinite(dist[dest]):
                    unserved += demand[origin, dest]
                    continue
                sptt += demand[origin, dest] * dist[dest]
                v = dest
                while v != origin:
                    flows[pred[v]] += demand[origin, dest]
                    v = init[pred[v]]
    return flows, sptt, unserved


def _tied_grid():
    """A 5 x 5 grid city with integer link costs (many equal-cost paths), a few links closed, through traffic
    banned at the first 4 of its 10 zones."""
    from ncosolve.problems.network import Network
    base, _ = grid_city(5, 5, seed=4)
    net = Network(num_nodes=base.num_nodes, init=base.init, term=base.term, capacity=base.capacity,
                  free_flow_time=base.free_flow_time, demand=base.demand[:10, :10], first_thru_node=4)
    rng = np.random.default_rng(2)
    cost = np.where(rng.random(net.num_links) < 0.1, np.inf, rng.integers(1, 4, net.num_links).astype(float))
    return net, cost


def test_dijkstra_kernel_settles_like_heapq_with_ties():
    # equal-cost paths everywhere: the (distance, node) heap order and strict-improvement labels decide the tree
    from ncosolve.traffic.dijkstra import _load
    net, cost = _tied_grid()
    args = (net.init.astype(np.int32), net.term.astype(np.int32), net.no_through(), cost, net.demand)
    flows, sptt, unserved = _load(*args)
    ref = _heapq_load(*args)
    np.testing.assert_allclose(flows, ref[0], rtol=1e-14, atol=1e-9)  # same trees (sums in another order)
    assert (sptt, unserved) == pytest.approx(ref[1:], rel=1e-14)
    assert unserved > 0  # the closed links cut some OD pairs off


def test_sweeps_kernel_takes_the_pure_jax_trees_with_ties():
    # the host sweeps and the pure-JAX Bellman-Ford both take a node's highest-numbered tight link
    import jax
    import jax.numpy as jnp

    from ncosolve.traffic.dijkstra import all_or_nothing_sweeps
    from ncosolve.traffic.shortest_paths import all_or_nothing
    from ncosolve.traffic.solver import topology
    net, cost = _tied_grid()
    with jax.enable_x64(True):
        topo, demand = topology(net), jnp.asarray(net.demand)
        ref = all_or_nothing(topo, jnp.asarray(cost), demand)
        got = jax.jit(all_or_nothing_sweeps)(topo, jnp.asarray(cost), demand)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(ref[0]), rtol=1e-14, atol=1e-9)  # sums reordered
    assert float(got[1]) == pytest.approx(float(ref[1]), rel=1e-14)
    assert float(got[2]) == pytest.approx(float(ref[2]), rel=1e-14)
    assert float(got[2]) > 0  # the closed links cut some OD pairs off


@needs_tntp
def test_host_loaders_equal_bellman_ford_on_siouxfalls_file():
    # real network, free-flow costs (integers 2..10: ties) and congested ones (none): same SPTT; the sweeps
    # the same flows always, Dijkstra where there are no ties
    import jax
    import jax.numpy as jnp

    from ncosolve.traffic.solver import LOADERS, topology
    from ncosolve.traffic.bpr import link_times
    from ncosolve.traffic.types import Scenario
    net = read_tntp(TNTP / "SiouxFalls_net.tntp")
    with jax.enable_x64(True):
        topo, demand = topology(net), jnp.asarray(net.demand)
        scen = Scenario(jnp.asarray(net.capacity), jnp.ones(net.num_links, bool), demand)
        free = jnp.asarray(net.free_flow_time)
        congested = link_times(topo, scen, LOADERS["bellman-ford"](topo, free, demand)[0] * 0.7)
        for cost, ties in ((free, True), (congested, False)):
            ref = LOADERS["bellman-ford"](topo, cost, demand)
            for paths in ("sweeps", "dijkstra"):
                got = jax.jit(LOADERS[paths])(topo, cost, demand)
                assert float(got[1]) == pytest.approx(float(ref[1]), rel=1e-13)
                if paths == "sweeps" or not ties:
                    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(ref[0]), rtol=1e-13, atol=1e-9)


def test_newton_line_search_finds_the_bisection_root():
    import jax
    import jax.numpy as jnp

    from ncosolve.traffic.bpr import link_times
    from ncosolve.traffic.solver import _line_search, topology
    from ncosolve.traffic.types import Scenario
    net, _ = grid_city(4, 4, seed=3)
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        topo = topology(net)
        scen = Scenario(jnp.asarray(net.capacity), jnp.ones(net.num_links, bool), jnp.asarray(net.demand))
        search = jax.jit(lambda x, d: _line_search(topo, scen, x, d))
        for scale in (0.3, 1.0, 3.0, 30.0):  # light to heavy congestion: roots inside (0, 1) and at 1
            x = jnp.asarray(rng.uniform(0, scale, net.num_links) * net.capacity)
            target = jnp.asarray(rng.uniform(0, scale, net.num_links) * net.capacity)
            d = target - x
            slope = lambda tau: float(jnp.dot(d, link_times(topo, scen, x + tau * d)))  # noqa: E731
            lo, hi = 0.0, 1.0
            for _ in range(60):  # bisection on the derivative, to the last bits
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if slope(mid) > 0 else (mid, hi)
            expected = 1.0 if slope(1.0) <= 0 else 0.5 * (lo + hi)
            if slope(0.0) >= 0:
                expected = 0.0
            assert float(search(x, d)) == pytest.approx(expected, abs=1e-12)
        x = jnp.asarray(net.capacity * 0.5)
        assert float(search(x, x)) == 0.0  # ascent direction: no step
        assert float(search(x, -x)) == 1.0  # descent all the way (zero flow minimises Beckmann without demand)
        assert float(search(x, jnp.zeros_like(x))) in (0.0, 1.0)  # no direction: any step, finite


def test_fused_times_and_slopes_equal_the_separate_ones():
    import jax
    import jax.numpy as jnp

    from ncosolve.traffic.bpr import link_time_slopes, link_times, link_times_and_slopes
    from ncosolve.traffic.types import Scenario, Topology
    with jax.enable_x64(True):
        topo = Topology(jnp.zeros(4, jnp.int32), jnp.zeros(4, jnp.int32), jnp.array([1.0, 2.0, 3.0, 4.0]),
                        jnp.array([0.15, 0.5, 0.0, 1.0]), jnp.array([4.0, 1.0, 0.0, 2.5]), jnp.zeros(1, bool))
        scen = Scenario(jnp.array([10.0, 20.0, 30.0, 40.0]), jnp.ones(4, bool), jnp.zeros((1, 1)))
        for flows in (jnp.zeros(4), jnp.array([5.0, 40.0, 7.0, 123.0])):
            times, slopes = link_times_and_slopes(topo, scen, flows)
            np.testing.assert_allclose(times, link_times(topo, scen, flows), rtol=1e-14)
            # the b = 0, power 0 link: constant time, slope 0 (the separate formula's is 0 * inf = nan at zero flow)
            assert slopes[2] == 0.0
            keep = np.array([0, 1, 3])
            np.testing.assert_allclose(slopes[keep], link_time_slopes(topo, scen, flows)[keep], rtol=1e-14)


def test_auto_loader_by_network_size():
    from types import SimpleNamespace

    from ncosolve.traffic.solver import _loader
    sizes = {"bellman-ford": (24, 24, 76), "sweeps": (416, 38, 914), "dijkstra": (576, 576, 2208)}  # SF, Anaheim, grid
    for expected, (nodes, zones, links) in sizes.items():
        net = SimpleNamespace(num_nodes=nodes, num_zones=zones, num_links=links)
        assert _loader("auto", net) == expected
        assert _loader(expected, net) == expected


def test_the_compiled_solver_is_kept_on_disk_unless_turned_off_or_jax_has_its_own(tmp_path):
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "ncosolve" / "jax")
    assert cache_folder({"NCOSOLVE_JAX_CACHE": str(tmp_path / "mine")}) == str(tmp_path / "mine")
    assert cache_folder({"NCOSOLVE_JAX_CACHE": ""}) is None
    code = "import ncosolve.traffic, jax; print(jax.config.jax_compilation_cache_dir)"
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tmp_path / "jax")  # a folder set for JAX itself wins over ours
    # this test session's folder (conftest): a solve writes its compiled programs there
    net = ncosolve.load_benchmark("ndp-synthetic")[0]
    ncosolve.problems.network.evaluate_designs(net, [[0] * net.num_candidates])
    assert any(Path(os.environ["NCOSOLVE_JAX_CACHE"]).glob("jit_solve_scenario-*"))
