"""The POGEMA adapter of benchmarks/mapf_pogema.py: action ids, observation -> instance, conflict counting and the
per-step planners on synthetic grids (no POGEMA needed); one short POGEMA episode when its venv exists."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import mapf_pogema as mp  # noqa: E402

POGEMA_MOVES = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]]  # pogema.utils.CommonSettings.MOVES (1.4)
POGEMA_PYTHON = os.environ.get("NCOSOLVE_POGEMA_PYTHON", "/work/venvs/pogema/bin/python")


def test_action_ids_follow_pogema_move_order():
    pos = np.array([[3, 3]] * 5)
    nxt = pos + np.array(POGEMA_MOVES)
    assert mp.action_ids(pos, nxt).tolist() == [0, 1, 2, 3, 4]
    assert np.array_equal(mp.apply_actions(pos, [0, 1, 2, 3, 4]), nxt)


def test_action_ids_match_installed_pogema():
    pogema = pytest.importorskip("pogema")
    assert pogema.GridConfig().MOVES == POGEMA_MOVES


def test_action_ids_reject_jumps():
    with pytest.raises(ValueError, match="agent 1"):
        mp.action_ids(np.array([[0, 0], [1, 1]]), np.array([[0, 1], [2, 2]]))


def test_to_instance_from_pogema_observation():
    grid = [[0, 0, 1], [0, 0, 0], [1, 0, 0]]  # POGEMA's get_obstacles(ignore_borders=True): 1 = obstacle
    inst = mp.to_instance(grid, [[0, 0], [2, 2]], [[1, 2], [0, 1]], horizon=7, name="toy")
    assert inst.grid.dtype == bool and inst.grid[0, 2] and inst.grid[2, 0] and not inst.grid[1, 1]
    assert inst.starts.tolist() == [[0, 0], [2, 2]]
    assert inst.goal_streams.shape == (2, 1, 2) and inst.goals.tolist() == [[1, 2], [0, 1]]
    assert inst.horizon == 7 and inst.problem == "mapf-lifelong"


def test_joint_conflicts():
    pos = np.array([[0, 0], [0, 1], [1, 0]])
    assert mp.joint_conflicts(pos, np.array([[0, 1], [0, 2], [1, 0]]), 5) == 0  # following is fine
    assert mp.joint_conflicts(pos, np.array([[0, 1], [0, 0], [1, 0]]), 5) == 1  # swap
    assert mp.joint_conflicts(pos, np.array([[1, 1], [1, 1], [1, 1]]), 5) == 2  # three on one cell


@pytest.mark.parametrize("variant", ["experiments", "rawcopy"])
def test_wfi_warehouse_map_is_the_benchmarks(variant):
    text = mp.wfi_warehouse_map(variant)
    rows = text.split("\n")
    assert len(rows) == 33 and {len(r) for r in rows} == {46}
    assert hashlib.sha256(text.encode()).hexdigest() == mp.WFI_WAREHOUSE_SHA256[variant]
    assert text.count("#") == 8 * 3 * 10
    assert mp.warehouse_map("warehouse" if variant == "experiments" else "warehouse-rawcopy") == text


def test_warehouse_starts_and_targets_are_the_experiments():
    """The published runs' map: starts only in the end station blocks, targets only beside the shelves."""
    rows = mp.wfi_warehouse_map().split("\n")
    starts = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "@"}
    targets = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "$"}
    assert starts and all(c < 6 or c > 39 for _, c in starts)
    assert targets and all(6 < c < 39 and r % 4 in (1, 3) for r, c in targets)
    assert set("".join(rows)) == {"!", "@", "$", "#"}
    with pytest.raises(ValueError, match="variant"):
        mp.wfi_warehouse_map("nope")


def _play(stepper, grid, starts, goals, steps):
    """Simulate POGEMA on a synthetic grid (moves applied as asked, a new goal on arrival) and check every joint
    move: single moves, free cells, conflict-free."""
    inst = mp.to_instance(grid, starts, goals, steps)
    stepper.reset(inst, 0)
    pos, targets = inst.starts.copy(), inst.goals.copy()
    free = np.argwhere(~inst.grid)
    rng = np.random.default_rng(0)
    reached = 0
    for _ in range(steps):
        nxt = stepper.act(pos, targets)
        mp.action_ids(pos, nxt)
        assert not inst.grid[nxt[:, 0], nxt[:, 1]].any()
        assert mp.joint_conflicts(pos, nxt, inst.grid.shape[1]) == 0
        arrived = np.all(nxt == targets, axis=1)
        stepper.arrived(arrived)
        reached += int(arrived.sum())
        pos = nxt
        for a in np.flatnonzero(arrived):
            while np.array_equal(targets[a], pos[a]):
                targets[a] = free[rng.integers(len(free))]
    return reached


GRID = np.zeros((6, 6), dtype=int)
GRID[2, 1:4] = 1
STARTS = [[0, 0], [5, 5], [0, 5], [5, 0]]
GOALS = [[5, 5], [0, 0], [5, 0], [0, 5]]


@pytest.mark.parametrize("method", ["mapf-pibt", "mapf-prioritized", "mapf-learned"])
def test_steppers_make_valid_moves(method):
    assert _play(mp.make_stepper(method), GRID, STARTS, GOALS, 24) > 0


def test_adapter_counts_pogema_rejections():
    adapter = mp.PogemaAdapter(mp.make_stepper("mapf-pibt"))
    reply = {"grid": GRID.tolist(), "agents_xy": STARTS, "targets_xy": GOALS, "horizon": 4}
    adapter.start(reply, 0)
    actions = adapter.decide()
    assert len(actions) == 4 and adapter.our_conflicts == 0
    adapter.observe({"agents_xy": STARTS, "targets_xy": GOALS})  # POGEMA kept everyone in place
    assert adapter.rejected == sum(a != 0 for a in actions)


def test_parse_seeds():
    assert mp.parse_seeds("0-3,7") == [0, 1, 2, 3, 7]


@pytest.mark.skipif(not Path(POGEMA_PYTHON).exists(), reason="no POGEMA venv (see benchmarks/mapf_pogema.py)")
def test_short_pogema_episode():
    pogema = mp.Pogema(POGEMA_PYTHON)
    try:
        reply = pogema.call({"reset": {"config": "random", "agents": 8, "seed": 0, "horizon": 16}})
        assert reply["map_name"] == "validation-random-seed-000" and reply["pogema"].startswith("1.4")
        adapter = mp.PogemaAdapter(mp.make_stepper("mapf-pibt"))
        adapter.start(reply, 0)
        while True:
            reply = pogema.call({"step": adapter.decide()})
            adapter.observe(reply)
            if reply["done"]:
                break
    finally:
        pogema.close()
    assert len(adapter.decide_s) == 16 and adapter.our_conflicts == 0 and adapter.rejected == 0
    assert reply["metrics"]["avg_throughput"] == pytest.approx(adapter.reached / 16)


@pytest.mark.skipif(not Path(POGEMA_PYTHON).exists(), reason="no POGEMA venv (see benchmarks/mapf_pogema.py)")
def test_pogema_warehouse_places_agents_at_the_stations():
    """POGEMA reads the experiments' map as the published runs had it: starts in the end station blocks,
    targets (first and next) beside the shelves; the no-other-agents bound is above the published RHCR."""
    pogema = mp.Pogema(POGEMA_PYTHON)
    try:
        reply = pogema.call({"reset": {"config": "warehouse", "agents": 32, "seed": 0, "horizon": 256,
                                       "map": mp.warehouse_map("warehouse"), "target_streams": True}})
    finally:
        pogema.close()
    assert all(c < 6 or c > 39 for _, c in reply["agents_xy"])
    assert all(6 < c < 39 and r % 4 in (1, 3) for seq in reply["target_streams"] for r, c in seq)
    bound = mp.solo_bound(reply["grid"], reply["agents_xy"], reply["target_streams"], reply["horizon"])
    assert bound > 1.2  # published RHCR, seed 0, 32 agents: 1.195 (raw_data_LMAPF/03-warehouse/RHCR.json)


@pytest.mark.parametrize(("argv", "message"), [
    (["--pogema-python", "/nonexistent/python"], "not an executable file"),
    (["--pogema-python", sys.executable, "--seeds", "a-b"], "--seeds 'a-b': expected seeds"),
    (["--pogema-python", sys.executable, "--agents", "32,many"], "--agents '32,many': expected agent counts"),
    (["--pogema-python", sys.executable, "--methods", "mapf-learned,mapf-oracle"], "unknown mapf-oracle"),
])
def test_bad_arguments_stop_before_any_episode(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["mapf_pogema.py", *argv])
    with pytest.raises(SystemExit) as stop:
        mp.main()
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_driver_that_cannot_import_pogema_is_reported_not_a_broken_pipe(tmp_path):
    python = tmp_path / "python"  # a "venv python" whose driver dies on import, as one without pogema does
    python.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'raise ImportError(\"no pogema here\")'\n")
    python.chmod(0o755)
    driver = mp.Pogema(str(python))
    with pytest.raises(RuntimeError, match="no pogema here"):
        driver.call({"config": "random", "agents": 8, "seed": 0, "horizon": 4})
    driver.close()


def test_a_run_whose_driver_dies_says_why_and_leaves_the_results_file_alone(monkeypatch, tmp_path):
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'raise ImportError(\"no pogema here\")'\n")
    python.chmod(0o755)
    out = tmp_path / "rows.json"
    out.write_text('{"rows": []}')
    monkeypatch.setattr(sys, "argv", ["mapf_pogema.py", "--pogema-python", str(python), "--config", "random",
                                      "--agents", "8", "--seeds", "0", "--methods", "mapf-pibt", "--out", str(out)])
    with pytest.raises(SystemExit) as stop:
        mp.main()
    assert "stopped after 0 finished rows" in str(stop.value.code) and "no pogema here" in str(stop.value.code)
    assert out.read_text() == '{"rows": []}'
