"""Windowed PBS (baselines/mapf_pbs.py): solved windows are collision-free walks on the grid, a corridor meeting
is resolved through a side pocket, an unsolvable window says so, and the Follower refuses a window longer than
its plans."""

from __future__ import annotations

import numpy as np
import pytest

from ncosolve.baselines.mapf_pbs import pbs_window, workspace
from ncosolve.envs.mapf import MAPFCore
from ncosolve.policies.mapf_follower import Follower, FollowerConfig
from ncosolve.problems.mapf import MAPFInstance, neighbor_table
from ncosolve.problems.mapf_kernels import bfs_many


def _solve(grid, starts, goals, window, stay, nodes=64, prior=None):
    nbr = neighbor_table(grid)
    w = grid.shape[1]
    start = np.array([r * w + c for r, c in starts], dtype=np.int64)
    goal = np.array([r * w + c for r, c in goals], dtype=np.int64)
    h = bfs_many(nbr, goal.astype(np.int32)).astype(np.float64)
    h[h < 0] = 1e9
    if prior is None:
        prior = np.zeros((len(start), len(start)), dtype=bool)
    return nbr, pbs_window(nbr, start, goal, h, window, nodes, stay, workspace(len(nbr), window),
                           prior)


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
    rng = np.random.default_rng(seed)
    grid = rng.random((9, 9)) < 0.2
    free = np.argwhere(~grid)
    pick = rng.choice(len(free), size=16, replace=False)
    starts, goals = free[pick[:8]], free[pick[8:]]
    for stay in (False, True):
        nbr, (paths, solved) = _solve(grid, starts, goals, 6, stay, nodes=256)
        assert solved
        _assert_collision_free_walks(nbr, paths, starts[:, 0] * 9 + starts[:, 1])


def test_follower_refuses_a_window_longer_than_its_plans():
    inst = MAPFInstance(np.zeros((4, 4), dtype=bool), [(0, 0)], [(3, 3)])
    with pytest.raises(ValueError, match="pbs_window"):
        Follower(MAPFCore(inst, "nothing", 5, 10), FollowerConfig(path_len=4, pbs_window=6))
