"""Windowed PBS (baselines/mapf_pbs.py): solved windows are collision-free walks on the grid, a corridor meeting
is resolved through a side pocket, an unsolvable window says so, the search band and the one-pass collision scan
agree with their exhaustive versions, and the Follower refuses a window longer than its plans."""

from __future__ import annotations

import numpy as np
import pytest

from ncosolve.baselines.mapf_pbs import _first_collision, collision_time, pbs_window, plan_agent, workspace
from ncosolve.envs.mapf import MAPFCore
from ncosolve.policies.mapf_follower import Follower, FollowerConfig
from ncosolve.problems.mapf import MAPFInstance, neighbor_table
from ncosolve.problems.mapf_kernels import bfs_many


def _solve(grid, starts, goals, window, stay, nodes=64, prior=None, targets=None, band=2):
    """PBS toward ``goals``; paths that do not arrive are scored by their distance to ``targets`` (default: the
    goals)."""
    nbr = neighbor_table(grid)
    w = grid.shape[1]
    start = np.array([r * w + c for r, c in starts], dtype=np.int64)
    goal = np.array([r * w + c for r, c in goals], dtype=np.int64)
    hg = bfs_many(nbr, goal.astype(np.int32))
    target = goal if targets is None else np.array([r * w + c for r, c in targets], dtype=np.int64)
    h = bfs_many(nbr, target.astype(np.int32))
    if prior is None:
        prior = np.zeros((len(start), len(start)), dtype=bool)
    return nbr, pbs_window(nbr, start, goal, h, hg, window, nodes, stay, workspace(len(nbr), window, len(start), nodes),
                           prior, band)


def _random_map(seed, size, density, agents, groups):
    """A random ``size`` x ``size`` grid and ``groups`` arrays of ``agents`` free cells, all cells distinct."""
    rng = np.random.default_rng(seed)
    grid = rng.random((size, size)) < density
    free = np.argwhere(~grid)
    pick = rng.choice(len(free), size=agents * groups, replace=False)
    return grid, [free[pick[i * agents:(i + 1) * agents]] for i in range(groups)]


def _assert_collision_free_walks(nbr, paths, start):
    assert np.array_equal(paths[:, 0], start)
    n, t1 = paths.shape
    for a in range(n):
        for t in range(1, t1):
            if paths[a, t] >= 0:
                assert paths[a, t] in nbr[paths[a, t - 1]]  # a wait or a move to a free neighbour
    for t in range(1, t1):
        for a in range(n):
            for b in range(a + 1, n):
                pa, pb, qa, qb = paths[a, t], paths[b, t], paths[a, t - 1], paths[b, t - 1]
                if min(pa, pb) < 0:
                    continue
                assert pa != pb, f"agents {a}, {b} meet at time {t}"
                assert not (pa == qb and pb == qa), f"agents {a}, {b} swap at time {t}"


@pytest.mark.parametrize("stay", [False, True])
def test_corridor_meeting_resolved_through_a_pocket(stay):
    # a 1 x 5 corridor with one pocket below column 1; the agents at both ends want each other's cell
    grid = np.ones((2, 5), dtype=bool)
    grid[0, :] = False
    grid[1, 1] = False
    nbr, (paths, solved) = _solve(grid, [(0, 0), (0, 4)], [(0, 4), (0, 0)], 8, stay)
    assert solved
    _assert_collision_free_walks(nbr, paths, np.array([0, 4]))
    assert 6 in paths[0]  # agent 0 steps into the pocket (cell 6) and lets agent 1 pass
    assert 4 in paths[0] and 0 in paths[1]  # both arrive within the window
    if stay:  # one-shot: an agent holds its goal after arriving
        assert paths[1, -1] == 0 and paths[0, -1] == 4
    else:  # lifelong: it leaves the plan after arriving
        assert paths[1, -1] == -1


def test_unsolvable_window_returns_the_root_and_false():
    # pocket in the middle: whoever goes first reaches it too late for the other; PBS cannot order them
    grid = np.ones((2, 5), dtype=bool)
    grid[0, :] = False
    grid[1, 2] = False
    _, (paths, solved) = _solve(grid, [(0, 0), (0, 4)], [(0, 4), (0, 0)], 8, False)
    assert not solved
    assert list(paths[:, 0]) == [0, 4] and list(paths[0, :5]) == [0, 1, 2, 3, 4]  # each alone, shortest


def test_given_priorities_are_kept():
    # pocket below column 3, next to agent 1's start: when agent 0 goes first, agent 1 steps into the pocket
    grid = np.ones((2, 5), dtype=bool)
    grid[0, :] = False
    grid[1, 3] = False
    first_0 = np.array([[False, False], [True, False]])  # prior[1, 0]: agent 0 goes before agent 1
    nbr, (paths, solved) = _solve(grid, [(0, 0), (0, 4)], [(0, 4), (0, 0)], 8, False, prior=first_0)
    assert solved and list(paths[0, :5]) == [0, 1, 2, 3, 4] and 8 in paths[1]
    # agent 1 first: agent 0 would have to reach the pocket by time 2, three cells away
    _, (_, solved) = _solve(grid, [(0, 0), (0, 4)], [(0, 4), (0, 0)], 8, False, prior=first_0.T.copy())
    assert not solved


@pytest.mark.parametrize("seed", range(6))
def test_solved_windows_are_collision_free(seed):
    grid, (starts, goals) = _random_map(seed, 9, 0.2, 8, 2)
    for stay in (False, True):
        nbr, (paths, solved) = _solve(grid, starts, goals, 6, stay, nodes=256)
        assert solved
        _assert_collision_free_walks(nbr, paths, starts[:, 0] * 9 + starts[:, 1])


@pytest.mark.parametrize("seed", range(6))
def test_search_band_changes_nothing(seed):
    # the band only narrows the sweep where it can prove the answer; the unbanded search (-1) must agree exactly,
    # also when paths that do not arrive aim at targets other than the goals (the Follower's plan cells)
    grid, (starts, goals, targets) = _random_map(seed, 14, 0.25, 20, 3)
    for stay in (False, True):
        for aim in (None, targets):
            _, (banded, ok) = _solve(grid, starts, goals, 10, stay, nodes=128, targets=aim)
            _, (wide, ok_wide) = _solve(grid, starts, goals, 10, stay, nodes=128, targets=aim, band=-1)
            assert ok == ok_wide and np.array_equal(banded, wide)


@pytest.mark.parametrize("seed", range(8))
def test_first_collision_is_the_earliest_and_smallest_pair(seed):
    rng = np.random.default_rng(seed)
    n, steps, cells = 14, 8, 24
    paths = rng.integers(0, cells, size=(n, steps))
    paths[:, 0] = rng.choice(cells, size=n, replace=False)  # agents start on distinct cells
    for a in range(n):  # some agents leave the plan (lifelong arrivals)
        paths[a, rng.integers(2, steps + 4):] = -1
    for a in rng.choice(n, size=4, replace=False):  # plant swaps
        b, t = (a + 1) % n, int(rng.integers(1, steps))
        if paths[a, t - 1] >= 0 and paths[b, t - 1] >= 0:
            paths[a, t], paths[b, t] = paths[b, t - 1], paths[a, t - 1]
    pairs = [(collision_time(paths, a, b), a, b) for a in range(n) for b in range(a + 1, n)]
    pairs = [p for p in pairs if p[0] > 0]
    expected = min(pairs) if pairs else (-1, -1, -1)
    prev, cur = np.full(cells, -1, dtype=np.int64), np.full(cells, -1, dtype=np.int64)
    assert _first_collision(paths, prev, cur) == expected
    assert (prev == -1).all() and (cur == -1).all()  # the scratch tables are left clean for the next call


def test_low_level_sees_a_swap_with_either_of_two_higher_agents_sharing_a_cell():
    # corridor 0-1-2-3-4; higher agents 0 and 1 (their paths need not be valid here) both stand on cell 2 at time
    # 1; then agent 0 steps 2 -> 1 -> 0 while agent 1 leaves to 3. Agent 2, on cell 1, is boxed in: stepping 1 -> 2
    # at time 2 swaps with agent 0 (the cell table can name only one of the two agents on cell 2), staying meets
    # it, and cell 0 is its next stop. Missing the swap would return a path through agent 0.
    grid = np.zeros((1, 5), dtype=bool)
    nbr = neighbor_table(grid)
    paths = np.array([[4, 2, 1, 0, 0], [3, 2, 3, 3, 3], [1, -1, -1, -1, -1]], dtype=np.int64)
    start, goal = paths[:, 0].copy(), np.array([0, 3, 4], dtype=np.int64)
    h = bfs_many(nbr, goal.astype(np.int32))
    higher = np.array([True, True, False])
    assert plan_agent(2, nbr, start, goal, h, h, paths, higher, False, workspace(len(nbr), 4, 3, 1), 2) == -1
    higher[0] = False  # without agent 0 above it, agent 2 goes 1 -> 2 at time 2 (agent 1 has left for cell 3)
    assert plan_agent(2, nbr, start, goal, h, h, paths, higher, False, workspace(len(nbr), 4, 3, 1), 2) >= 0
    assert paths[2, 2] == 2


def test_follower_refuses_a_window_longer_than_its_plans():
    inst = MAPFInstance(np.zeros((4, 4), dtype=bool), [(0, 0)], [(3, 3)])
    with pytest.raises(ValueError, match="pbs_window"):
        Follower(MAPFCore(inst, "nothing", 5, 10), FollowerConfig(path_len=4, pbs_window=6))
