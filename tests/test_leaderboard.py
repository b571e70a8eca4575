"""The leaderboard harness: every supported (instance, method) pair runs, failures are recorded, summaries add up."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import ncosolve
from ncosolve import benchmarks, catalog
from ncosolve import leaderboard as lb
from ncosolve.runner import LocalRunner
from ncosolve.store import ResultStore

REQUIRED_KEYS = {"suite", "instance", "method", "time_limit", "seed", "cost", "gap", "runtime_s", "feasible", "reason"}


@pytest.fixture
def mixed_suite(eil51, a_n32_k5):
    """A registered two-instance suite, one TSP (optimum 426) and one CVRP (optimum 784)."""
    benchmarks.register_suite("test-mixed", "routing", "eil51 and A-n32-k5", "optima")(lambda: [eil51, a_n32_k5])
    yield "test-mixed"
    catalog.remove("test-mixed")


def identity(instance, time_limit, seed):
    return list(range(instance.n)), {}


def singletons(instance, time_limit, seed):
    return [[c] for c in range(1, instance.n)], {}


def crash(instance, time_limit, seed):
    raise RuntimeError("boom")


# the toy methods below run in leaderboard workers, so they are module-level (pickled by reference)
def broken(instance, time_limit, seed):
    return [0, 0] + list(range(2, instance.n)), {}


def nothing(instance, time_limit, seed):
    return None, {}


def slow(instance, time_limit, seed):
    time.sleep(lb.allowed_runtime(time_limit) + 0.1)
    return list(range(instance.n)), {}


SLEEPY_S = 1.5  # long enough that four in series (6 s) and two at a time (3 s + start) stay apart under load


def sleepy(instance, time_limit, seed):
    time.sleep(SLEEPY_S)
    return list(range(instance.n)), {"pid": os.getpid()}


def hang(instance, time_limit, seed):
    time.sleep(1000)


def die(instance, time_limit, seed):
    os._exit(3)


CALLS = Path(tempfile.gettempdir()) / "ncosolve-test-counted-calls"


def counted(instance, time_limit, seed):
    with open(CALLS, "a") as f:  # the method runs in a worker: count its calls in a file
        f.write(instance.name + "\n")
    return list(range(instance.n)), {}


def test_every_supported_pair_runs_and_failures_are_kept(toy_methods, mixed_suite, eil51, a_n32_k5):
    toy_methods("t-identity", identity)
    toy_methods("t-singletons", singletons, problems=("cvrp",))
    toy_methods("t-crash", crash, problems=("tsp", "cvrp"))
    progress = []
    rows = lb.run_leaderboard(mixed_suite, ["t-identity", "t-singletons", "t-crash"], time_limit=1, seed=7,
                              on_row=lambda row, done, total: progress.append((row["method"], done, total)))
    assert [(r["instance"], r["method"]) for r in rows] == [
        ("eil51", "t-identity"), ("eil51", "t-crash"), ("A-n32-k5", "t-singletons"), ("A-n32-k5", "t-crash")]
    assert progress == [("t-identity", 1, 4), ("t-crash", 2, 4), ("t-singletons", 3, 4), ("t-crash", 4, 4)]
    for r in rows:
        assert REQUIRED_KEYS <= set(r) and r["suite"] == mixed_suite and r["time_limit"] == 1 and r["seed"] == 7
    tsp, _, vrp, _ = rows
    assert tsp["cost"] == ncosolve.evaluate(eil51, list(range(51))) and tsp["best"] == 426 and tsp["feasible"]
    assert tsp["gap"] == pytest.approx(100 * (tsp["cost"] - 426) / 426)
    assert vrp["cost"] == ncosolve.evaluate(a_n32_k5, [[c] for c in range(1, 32)]) and vrp["best"] == 784
    for r in (rows[1], rows[3]):
        assert not r["feasible"] and r["cost"] is None and r["gap"] is None
        assert r["reason"] == "raised RuntimeError: boom" and r["runtime_s"] >= 0


def test_infeasible_empty_and_over_budget_answers_do_not_count(toy_methods, eil51):
    toy_methods("t-broken", broken)
    toy_methods("t-nothing", nothing)
    toy_methods("t-slow", slow)
    benchmarks.register_suite("test-eil51", "tsp", "eil51", "optimum")(lambda: [eil51])
    try:
        rows = {r["method"]: r for r in lb.run_leaderboard("test-eil51", ["t-broken", "t-nothing", "t-slow"],
                                                           time_limit=0.2)}
    finally:
        catalog.remove("test-eil51")
    assert not rows["t-broken"]["feasible"] and "node 0 visited 2 times" in rows["t-broken"]["reason"]
    assert not rows["t-nothing"]["feasible"] and rows["t-nothing"]["reason"] == "the method found no solution"
    slow_row = rows["t-slow"]  # a valid tour, but too late: feasible, not within budget, does not count
    assert slow_row["feasible"] and not slow_row["within_budget"] and not lb.counts(slow_row)
    assert slow_row["reason"].startswith("over budget: ran 0.8")
    assert slow_row["runtime_s"] > lb.allowed_runtime(0.2) and slow_row["cost"] == ncosolve.evaluate(eil51, range(51))
    assert all(r["within_budget"] for name, r in rows.items() if name != "t-slow")
    summary = {s["method"]: s for s in lb.summarise(list(rows.values()))}
    assert [summary[m]["counted_runs"] for m in ("t-broken", "t-nothing", "t-slow")] == [0, 0, 0]
    assert summary["t-slow"]["feasible_runs"] == 1 and summary["t-slow"]["over_budget"] == 1
    assert summary["t-slow"]["mean_cost"] is None and summary["t-slow"]["wins"] == 0


def test_method_selection(toy_methods, mixed_suite, eil51):
    toy_methods("t-identity", identity)
    toy_methods("t-vrptw", singletons, problems=("cvrptw",))
    toy_methods("t-missing", identity, requires=("no_such_module_xyz",), extra="nothing")
    default = [m.name for m in lb.select_methods([eil51])]
    assert "t-identity" in default and "t-vrptw" not in default and "t-missing" not in default
    assert all("tsp" in m.problems and m.available for m in lb.select_methods([eil51]))
    assert len(lb.plan(mixed_suite, ["t-identity", "t-identity"])) == 1  # repeated names run once
    with pytest.raises(ncosolve.UnknownMethod, match="unknown method 't-nope'"):
        lb.plan(mixed_suite, ["t-identity", "t-nope"])
    with pytest.raises(ncosolve.UnknownMethod, match="solves cvrptw, but the instances are cvrp, tsp"):
        lb.plan(mixed_suite, ["t-vrptw"])
    with pytest.raises(ncosolve.MissingDependency, match=r"ncosolve\[nothing\]"):
        lb.plan(mixed_suite, ["t-missing"])
    with pytest.raises(ncosolve.NcoError, match="unknown benchmark"):
        lb.plan("no-such-suite")
    for bad in (0, -1, math.inf, math.nan, None):
        with pytest.raises(ncosolve.NcoError, match="time_limit"):
            lb.run_leaderboard(mixed_suite, ["t-identity"], time_limit=bad)


def _row(instance, method, cost, gap, runtime, feasible=True, problem="tsp"):
    return {"suite": "s", "instance": instance, "problem": problem, "method": method, "time_limit": 1.0, "seed": 0,
            "cost": cost, "gap": gap, "runtime_s": runtime, "prepare_s": 0.5, "feasible": feasible,
            "within_budget": True, "reason": "" if feasible else "bad"}


def test_summarise_counts_wins_ties_and_feasible_gaps_only():
    rows = [
        _row("i1", "a", 100.0, 0.0, 1.0), _row("i1", "b", 100.0, 0.0, 2.0), _row("i1", "c", 90.0, -10.0, 0.5, False),
        _row("i2", "a", 110.0, 10.0, 1.0), _row("i2", "b", 105.0, 5.0, 2.0), _row("i2", "c", None, None, 3.5, False),
        _row("i3", "a", 50.0, None, 1.0), _row("i3", "b", 60.0, None, 2.0), _row("i3", "c", 40.0, None, 1.0, False),
    ]
    summary = {s["method"]: s for s in lb.summarise(rows)}
    assert list(summary) == ["a", "b", "c"]
    assert summary["a"] == {"suite": "s", "time_limit": 1.0, "problem": "tsp", "method": "a", "runs": 3,
                            "feasible_runs": 3, "feasible_pct": 100.0, "counted_runs": 3,
                            "mean_cost": pytest.approx(260 / 3), "mean_gap": 5.0, "mean_runtime_s": 1.0,
                            "mean_prepare_s": 0.5, "over_budget": 0, "killed": 0, "wins": 2}
    assert tuple(summary["a"]) == lb.SUMMARY_KEYS
    assert summary["b"]["wins"] == 2 and summary["b"]["mean_gap"] == 2.5  # tie on i1, best on i2
    assert summary["c"]["wins"] == 0 and summary["c"]["mean_gap"] is None and summary["c"]["feasible_pct"] == 0
    assert summary["c"]["mean_runtime_s"] == pytest.approx(5.0 / 3)  # failed runs' time counts too


def test_summaries_never_mix_problems():
    rows = [_row("t1", "a", 400.0, 2.0, 1.0), _row("v1", "a", 1000.0, 20.0, 1.0, problem="cvrp"),
            _row("t2", "a", 600.0, 4.0, 1.0)]
    summary = {s["problem"]: s for s in lb.summarise(rows)}
    assert set(summary) == {"tsp", "cvrp"}
    assert summary["tsp"]["mean_cost"] == 500.0 and summary["tsp"]["mean_gap"] == 3.0 and summary["tsp"]["runs"] == 2
    assert summary["cvrp"]["mean_cost"] == 1000.0 and summary["cvrp"]["mean_gap"] == 20.0
    over = {**_row("t3", "a", 300.0, 1.0, 9.0), "within_budget": False}
    summary = {s["problem"]: s for s in lb.summarise(rows + [over])}
    assert summary["tsp"]["mean_cost"] == 500.0 and summary["tsp"]["over_budget"] == 1  # the late run never counts


def test_csv_and_json_files_hold_every_row(tmp_path):
    rows = [{**_row("i1", "a", 100.0, 0.0, 1.0), "problem": "tsp", "best": 100.0},
            {**_row("i1", "b", None, None, 2.0, False), "problem": "tsp", "best": 100.0}]
    lb.write_csv(rows, tmp_path / "r.csv")
    lb.write_json(rows, tmp_path / "r.json", suite="s", time_limit=1.0)
    with open(tmp_path / "r.csv") as f:
        back = list(csv.DictReader(f))
    assert [r["method"] for r in back] == ["a", "b"] and tuple(back[0]) == lb.ROW_KEYS
    assert back[1]["cost"] == "" and back[1]["feasible"] == "False" and back[1]["reason"] == "bad"
    assert float(back[0]["cost"]) == 100.0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["rows"] == rows and doc["suite"] == "s" and doc["time_limit"] == 1.0
    assert [s["method"] for s in doc["summary"]] == ["a", "b"]
    assert doc["environment"]["versions"]["ncosolve"] == ncosolve.__version__ and doc["environment"]["cpu_count"]


def test_gap():
    assert lb.gap(432.0, 426.0) == pytest.approx(100 * 6 / 426)
    assert lb.gap(426.0, 426.0) == 0.0
    assert lb.gap(None, 426.0) is None and lb.gap(math.inf, 426.0) is None and lb.gap(430.0, None) is None
    assert lb.allowed_runtime(2.0) == pytest.approx(2.7)


@pytest.fixture
def eil51_suite(eil51):
    benchmarks.register_suite("test-eil51x", "tsp", "eil51", "optimum")(lambda: [eil51])
    yield "test-eil51x"
    catalog.remove("test-eil51x")


def test_workers_run_jobs_at_once_and_keep_plan_order(toy_methods, eil51_suite):
    for k in range(4):
        toy_methods(f"t-sleepy{k}", sleepy)
    names = [f"t-sleepy{k}" for k in range(4)]
    lb.run_leaderboard(eil51_suite, names[:1], time_limit=2)  # the forkserver starts once per session
    start = time.perf_counter()
    rows = lb.run_leaderboard(eil51_suite, names, time_limit=2, runner=LocalRunner(2))
    elapsed = time.perf_counter() - start
    assert [r["method"] for r in rows] == names and all(lb.counts(r) for r in rows)
    assert elapsed < 3.5 * SLEEPY_S  # two at a time: 2 x SLEEPY_S plus the workers' start, not 4 x SLEEPY_S


def test_a_hung_method_is_killed_and_a_dying_worker_is_recorded(toy_methods, eil51_suite):
    toy_methods("t-hang", hang)
    toy_methods("t-die", die)
    toy_methods("t-identity", identity)
    start = time.perf_counter()
    rows = {r["method"]: r for r in lb.run_leaderboard(eil51_suite, ["t-hang", "t-die", "t-identity"],
                                                       time_limit=0.2)}
    assert time.perf_counter() - start < 20
    hung = rows["t-hang"]
    assert not hung["feasible"] and not hung["within_budget"] and hung["reason"].startswith("killed: no answer after")
    assert lb.kill_after(0.2) <= hung["runtime_s"] < lb.kill_after(0.2) + 3 and hung["cost"] is None
    died = rows["t-die"]
    assert not died["feasible"] and died["reason"] == "worker died (exit code 3)" and died["within_budget"]
    assert lb.counts(rows["t-identity"])  # the workers that replaced them carried on
    assert lb.kill_after(2.0) == pytest.approx(2 * 2.7 + 5)


def test_a_store_makes_a_rerun_skip_finished_jobs(toy_methods, mixed_suite, tmp_path):
    calls = CALLS
    calls.unlink(missing_ok=True)
    toy_methods("t-counted", counted)
    toy_methods("t-singletons", singletons, problems=("cvrp",))
    store = ResultStore(tmp_path / "store")
    first = lb.run_leaderboard(mixed_suite, ["t-counted", "t-singletons"], time_limit=1, store=store,
                               runner=LocalRunner(2))
    progress = []
    again = lb.run_leaderboard(mixed_suite, ["t-counted", "t-singletons"], time_limit=1, store=store,
                               on_row=lambda *a: progress.append(a))
    assert again == first and progress == [] and calls.read_text() == "eil51\n"
    assert [r["instance"] for r in first] == ["eil51", "A-n32-k5"] and first[0]["solution"] == list(range(51))
    other_seed = lb.run_leaderboard(mixed_suite, ["t-counted"], time_limit=1, seed=1, store=store)
    assert len(other_seed) == 1 and calls.read_text() == "eil51\neil51\n"  # another seed is another job
    assert len(store.rows()) == 3


def test_environment_records_versions_cpu_and_gpus():
    env = lb.environment()
    assert env["versions"]["ncosolve"] == ncosolve.__version__ and env["versions"]["numpy"]
    assert env["cpu_count"] >= 1 and env["processor"] and isinstance(env["gpus"], list)


def _check_rows(rows: list[dict], suite: str, recheck: bool = True) -> None:
    """Feasible rows' gaps have the suite's sign; with ``recheck``, each cost is what evaluate() says of the stored
    solution (not for network design: JAX would start in this process, which later tests fork)."""
    instances = {inst.name: inst for inst in ncosolve.load_benchmark(suite)}
    for r in rows:
        assert r["maximise"] == benchmarks.maximises(suite)
        if not r["feasible"]:
            assert r["reason"]
            continue
        if recheck:
            cost = ncosolve.evaluate(instances[r["instance"]], np.asarray(r["solution"]))
            assert r["cost"] == pytest.approx(cost, rel=1e-6)
        if r["best"] is not None:
            assert r["gap"] == pytest.approx(lb.gap(r["cost"], r["best"], r["maximise"]))


def test_a_mapf_suite_runs_end_to_end_and_resumes(tmp_path):
    store = ResultStore(tmp_path)
    first = lb.run_leaderboard("mapf-movingai", ["mapf-pibt"], time_limit=0.5, store=store)
    assert len(first) == len(ncosolve.load_benchmark("mapf-movingai"))
    progress = []
    rows = lb.run_leaderboard("mapf-movingai", ["mapf-pibt", "mapf-prioritized"], time_limit=0.5, store=store,
                              on_row=lambda row, done, total: progress.append(row["method"]))
    assert progress == ["mapf-prioritized"] * len(first)  # the stored pibt jobs are not run again
    assert [r for r in rows if r["method"] == "mapf-pibt"] == first
    assert len(store.rows("mapf-movingai")) == 2 * len(first)
    assert sum(r["feasible"] for r in rows) >= len(first)  # PIBT solves these easily
    _check_rows(rows, "mapf-movingai")
    assert not benchmarks.maximises("mapf-movingai")


NDP_PLUGIN = """
import ncosolve


@ncosolve.register("t-everything", ("ndp",), "every candidate: over the budget except on Braess")
def everything(instance, time_limit, seed):
    return [1] * instance.num_candidates, {}


@ncosolve.register("t-nothing", ("ndp",), "no candidate")
def nothing(instance, time_limit, seed):
    return [0] * instance.num_candidates, {}
"""


def test_an_ndp_suite_runs_end_to_end_from_the_cli_and_resumes(tmp_path):
    # run by the console script, with a plugin module as a user would load one
    (tmp_path / "ndp_toy_plugin.py").write_text(NDP_PLUGIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    args = ["ncosolve", "--plugin", "ndp_toy_plugin", "leaderboard", "--suite", "ndp-synthetic", "--methods",
            "t-everything,t-nothing", "-t", "5", "--jobs", "2", "--results", str(tmp_path / "lb")]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = ResultStore(tmp_path / "lb").rows("ndp-synthetic")
    count = len(ncosolve.load_benchmark("ndp-synthetic"))
    assert len(rows) == 2 * count
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and f"{2 * count} of {2 * count} jobs already in" in again.stderr
    assert ResultStore(tmp_path / "lb").rows("ndp-synthetic") == rows
    by = {(r["instance"], r["method"]): r for r in rows}
    braess = by[("Braess-dndp", "t-everything")]  # its budget covers the one candidate: the paradox shows
    assert braess["feasible"] and braess["cost"] == pytest.approx(552, rel=1e-6)
    assert by[("Braess-dndp", "t-nothing")]["cost"] == pytest.approx(498, rel=1e-6)
    over = [r for r in rows if r["method"] == "t-everything" and r["instance"] != "Braess-dndp"]
    assert over and all(not r["feasible"] and "over the budget" in r["reason"] for r in over)
    assert all(r["feasible"] for r in rows if r["method"] == "t-nothing")
    _check_rows(rows, "ndp-synthetic", recheck=False)
    summary = {s["method"]: s for s in lb.summarise(rows)}
    assert summary["t-everything"]["feasible_runs"] == 1 and summary["t-nothing"]["wins"] == count


def _wait(instance, time_limit, seed):
    """Lifelong paths of agents that never move: no goal reached."""
    return np.repeat(instance.starts[:, None], instance.horizon + 1, axis=1), {}


def test_a_maximised_suite_gets_positive_gaps_below_the_reference_and_wins_for_the_highest(toy_methods, tmp_path):
    toy_methods("t-wait", _wait, problems=("mapf-lifelong",))
    assert benchmarks.maximises("mapf-lifelong") and benchmarks.get_suite("mapf-lifelong").maximise
    rows = lb.run_leaderboard("mapf-lifelong", ["t-wait", "mapf-pibt"], time_limit=1)
    _check_rows(rows, "mapf-lifelong")
    waits = [r for r in rows if r["method"] == "t-wait"]
    assert all(r["feasible"] and r["cost"] == 0 for r in waits)
    for r in waits:
        if r["best"] is not None:  # throughput 0 is 100 % below any positive reference
            assert r["best"] > 0 and r["gap"] == pytest.approx(100.0)
    summary = {s["method"]: s for s in lb.summarise(rows)}
    pibt_positive = sum(r["feasible"] and r["cost"] > 0 for r in rows if r["method"] == "mapf-pibt")
    assert pibt_positive >= 1 and summary["mapf-pibt"]["wins"] == pibt_positive
    assert summary["t-wait"]["wins"] == len(waits) - pibt_positive


def test_gap_and_wins_follow_the_objective_sense():
    assert lb.gap(0.8, 1.0, maximise=True) == pytest.approx(20.0)  # 20 % below the reference: worse
    assert lb.gap(1.1, 1.0, maximise=True) == pytest.approx(-10.0)  # above it: better than the reference
    assert lb.gap(1.1, 1.0) == pytest.approx(10.0)
    rows = [{**_row(i, m, cost, gap, 1.0), "maximise": True}
            for i, m, cost, gap in (("i1", "a", 0.5, 50.0), ("i1", "b", 0.7, 30.0), ("i2", "a", 0.9, 10.0),
                                    ("i2", "b", 0.2, 80.0))]
    summary = {s["method"]: s for s in lb.summarise(rows)}
    assert summary["a"]["wins"] == 1 and summary["b"]["wins"] == 1
    rows[1]["cost"] = 0.4
    assert {s["method"]: s["wins"] for s in lb.summarise(rows)} == {"a": 2, "b": 0}


def test_a_suite_whose_data_is_absent_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv(benchmarks.DATA_ENV, str(tmp_path))
    with pytest.raises(ncosolve.NcoError, match="dndp-siouxfalls: .*not found.*not ship"):
        lb.plan("dndp-siouxfalls")
