"""MAPF problem core: instance validation, evaluate (SoC convention, conflicts), MovingAI files, generators."""

from __future__ import annotations

import numpy as np
import pytest

import ncosolve
from ncosolve.benchmarks import data_dir
from ncosolve.errors import InfeasibleSolution, InvalidInstance
from ncosolve.io import movingai
from ncosolve.problems.mapf_generators import (generate_mapf, generate_mapf_lifelong, goal_streams, largest_component,
                                      maze_grid, random_grid, random_scenario, warehouse_grid)
from ncosolve.problems.mapf import (MAPFInstance, MAPFLifelongInstance, distance_maps, evaluate_mapf,
                                    evaluate_mapf_lifelong, mapf_metrics)

MOVINGAI = data_dir() / "movingai"
SCEN = MOVINGAI / "random-32-32-10-random-1.scen"

# A corridor with one side pocket: the two agents must swap ends; one has to duck into the pocket.
POCKET = np.array([[0, 0, 0], [1, 0, 1]], dtype=bool)


@pytest.fixture
def pocket():
    return MAPFInstance(POCKET, [(0, 0), (0, 2)], [(0, 2), (0, 0)])


def test_rejects_bad_instances():
    grid = np.zeros((3, 3), dtype=bool)
    grid[1, 1] = True
    with pytest.raises(InvalidInstance, match="agent 1 .* obstacle"):
        MAPFInstance(grid, [(0, 0), (1, 1)], [(2, 2), (0, 2)])
    with pytest.raises(InvalidInstance, match="starts: agents 0 and 1 share"):
        MAPFInstance(grid, [(0, 0), (0, 0)], [(2, 2), (0, 2)])
    with pytest.raises(InvalidInstance, match="goals: agents 0 and 1 share"):
        MAPFInstance(grid, [(0, 0), (0, 1)], [(2, 2), (2, 2)])
    with pytest.raises(InvalidInstance, match="outside"):
        MAPFInstance(grid, [(0, 0)], [(3, 0)])
    walled = np.zeros((3, 3), dtype=bool)
    walled[:, 1] = True
    with pytest.raises(InvalidInstance, match="agent 0 cannot reach"):
        MAPFInstance(walled, [(0, 0)], [(0, 2)])
    with pytest.raises(InvalidInstance, match="same goal twice"):
        MAPFLifelongInstance(grid, [(0, 0)], [[(2, 2), (2, 2)]], horizon=4)


def test_soc_convention_and_metrics(pocket):
    # agent 1 ducks into the pocket; agent 0 waits once: costs 3 and 4
    paths = [[(0, 0), (0, 0), (0, 1), (0, 2), (0, 2)],
             [(0, 2), (0, 1), (1, 1), (0, 1), (0, 0)]]
    assert evaluate_mapf(pocket, paths) == 7
    assert ncosolve.evaluate(pocket, np.array(paths)) == 7
    assert mapf_metrics(pocket, paths) == {"soc": 7, "makespan": 4, "costs": [3, 4]}
    # passing over the goal and leaving again: the cost is the last arrival
    grid = np.zeros((1, 4), dtype=bool)
    inst = MAPFInstance(grid, [(0, 0)], [(0, 1)])
    assert evaluate_mapf(inst, [[(0, 0), (0, 1), (0, 2), (0, 1), (0, 1)]]) == 3
    # an agent that starts on its goal and stays costs 0
    inst = MAPFInstance(grid, [(0, 0), (0, 3)], [(0, 1), (0, 3)])
    assert evaluate_mapf(inst, [[(0, 0), (0, 1)], [(0, 3), (0, 3)]]) == 1


def test_infeasible_paths_name_agents_and_time(pocket):
    with pytest.raises(InfeasibleSolution, match="swap conflict of agents 0 and 1 between t=1 and t=2"):
        evaluate_mapf(pocket, [[(0, 0), (0, 0), (0, 1), (0, 2)], [(0, 2), (0, 1), (0, 0), (0, 0)]])
    with pytest.raises(InfeasibleSolution, match="vertex conflict of agents 0 and 1 at t=1"):
        evaluate_mapf(pocket, [[(0, 0), (0, 1), (0, 2)], [(0, 2), (0, 1), (0, 0)]])
    with pytest.raises(InfeasibleSolution, match="agent 0 makes an illegal move"):
        evaluate_mapf(pocket, [[(0, 0), (0, 2)], [(0, 2), (0, 0)]])
    with pytest.raises(InfeasibleSolution, match="agent 1 is on an obstacle at t=1"):
        evaluate_mapf(pocket, [[(0, 0), (0, 1)], [(0, 2), (1, 2)]])
    with pytest.raises(InfeasibleSolution, match="agent 0 ends at"):
        evaluate_mapf(pocket, [[(0, 0)], [(0, 2)]])
    with pytest.raises(InfeasibleSolution, match="agent 0 starts at"):
        evaluate_mapf(pocket, [[(0, 1), (0, 2)], [(0, 2), (0, 0)]])
    with pytest.raises(InfeasibleSolution, match="ragged paths must be padded"):
        evaluate_mapf(pocket, [[(0, 0)], [(0, 2), (0, 1)]])
    with pytest.raises(InfeasibleSolution, match=r"expected an integer array \(2, T\+1, 2\)"):
        evaluate_mapf(pocket, [[(0, 0)]])


def test_lifelong_throughput():
    grid = np.zeros((1, 3), dtype=bool)
    inst = MAPFLifelongInstance(grid, [(0, 0)], [[(0, 2), (0, 0), (0, 1)]], horizon=5)
    # reaches (0,2) at t=2, (0,0) at t=4; the third goal is not reached by t=5
    paths = [[(0, 0), (0, 1), (0, 2), (0, 1), (0, 0), (0, 0)]]
    assert evaluate_mapf_lifelong(inst, paths) == pytest.approx(2 / 5)
    assert ncosolve.evaluate(inst, np.array(paths)) == pytest.approx(2 / 5)
    with pytest.raises(InfeasibleSolution, match="cover the horizon"):
        evaluate_mapf_lifelong(inst, paths[0][:3] and [paths[0][:3]])


def test_read_movingai_scen_swaps_x_and_y():
    inst = ncosolve.read_instance(SCEN, agents=25)
    assert inst.problem == "mapf" and inst.num_agents == 25 and inst.grid.shape == (32, 32)
    # first line: start x=11 y=6, goal x=7 y=18, octile length 13.65685425
    assert tuple(inst.starts[0]) == (6, 11) and tuple(inst.goals[0]) == (18, 7)
    octile = [movingai.octile_distances(inst.grid, tuple(s))[tuple(g)] for s, g in zip(inst.starts, inst.goals)]
    np.testing.assert_allclose(octile, movingai.scen_optimal_lengths(SCEN, 25), atol=1e-6)
    # 4-connected distances are at least the octile ones
    d4 = distance_maps(inst.grid, inst.goals)[np.arange(25), inst.starts[:, 0] * 32 + inst.starts[:, 1]]
    assert np.all(d4 >= np.array(octile) - 1e-9)
    assert ncosolve.read_instance(SCEN).num_agents == 461  # every scenario line by default


def test_movingai_round_trip(tmp_path):
    inst = ncosolve.read_instance(SCEN, agents=10)
    movingai.write_map(inst.grid, tmp_path / "m.map")
    movingai.write_scen(inst, tmp_path / "m.scen", "m.map")
    back = ncosolve.read_instance(tmp_path / "m.scen")
    np.testing.assert_array_equal(back.grid, inst.grid)
    np.testing.assert_array_equal(back.starts, inst.starts)
    np.testing.assert_array_equal(back.goals, inst.goals)
    np.testing.assert_allclose(movingai.scen_optimal_lengths(tmp_path / "m.scen"),
                               movingai.scen_optimal_lengths(SCEN, 10), atol=1e-6)


def test_read_movingai_maps():
    wh = ncosolve.read_instance(MOVINGAI / "warehouse-10-20-10-2-1.map")
    assert wh.grid.shape == (63, 161) and wh.num_agents == 0
    placed = ncosolve.read_instance(MOVINGAI / "warehouse-10-20-10-2-1.map", agents=50, seed=3)
    assert placed.num_agents == 50
    assert np.all(largest_component(placed.grid)[placed.starts[:, 0], placed.starts[:, 1]])
    for path in sorted(MOVINGAI.glob("*.map")):
        grid = movingai.read_map(path)
        assert grid.dtype == bool and (~grid).sum() > 0, path.name


def test_generators_are_seeded_and_valid():
    g = random_grid(seed=5)
    assert 17 <= g.shape[0] <= 21 and g.shape[0] == g.shape[1]
    assert 0.05 < g.mean() < 0.35
    np.testing.assert_array_equal(g, random_grid(seed=5))
    m = maze_grid(seed=1, size=21)
    assert m.shape == (21, 21) and largest_component(m).sum() == (~m).sum()  # a maze is connected
    w = warehouse_grid()
    assert w.shape == (17, 44) and largest_component(w).sum() == (~w).sum()
    starts, goals = random_scenario(m, 20, seed=2)
    assert len({tuple(p) for p in np.concatenate([starts, goals])}) == 40
    inst = generate_mapf("maze", 12, seed=3)
    assert inst.num_agents == 12
    life = generate_mapf_lifelong("warehouse", 16, horizon=64, seed=4)
    assert life.goal_streams.shape == (16, 64, 2)
    streams = goal_streams(m, starts, 30, seed=0)
    assert not np.any(np.all(streams[:, 1:] == streams[:, :-1], axis=2))
    assert not np.any(np.all(streams[:, 0] == starts, axis=1))
