"""``--ray``: the same jobs, rows and store on a local Ray instance started by the test (skipped without Ray)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import ncosolve
from ncosolve.store import ResultStore

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ncosolve[ray]'): --ray is not tested")

PLUGIN = '''
import time
import ncosolve
from ncosolve.benchmarks import load_benchmark, register_suite

@ncosolve.register("ray-identity", ("tsp",), "file order")
def identity(instance, time_limit, seed):
    return list(range(instance.n)), {}

@ncosolve.register("ray-hang", ("tsp",), "never answers")
def hang(instance, time_limit, seed):
    time.sleep(1000)

register_suite("ray-two", "tsp", "eil51 and berlin52", "proven optima")(
    lambda: [i for i in load_benchmark("tsplib-200") if i.name in ("eil51", "berlin52")])
'''


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rayplugin")
    (folder / "ray_plugin.py").write_text(textwrap.dedent(PLUGIN))
    return folder


def test_ray_runs_the_jobs_into_the_same_store_and_kills_a_hung_task(tmp_path, plugin_dir, eil51):
    results = tmp_path / "lb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-c", "from ncosolve.cli import main; main()", "--plugin", "ray_plugin", "leaderboard",
           "--suite", "ray-two", "--methods", "ray-identity", "--time-limit", "1", "--results", str(results),
           "--ray", "local"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "2 runs, 2 feasible" in proc.stdout
    rows = {r["instance"]: r for r in ResultStore(results).rows()}
    assert set(rows) == {"eil51", "berlin52"} and all(r["host"] for r in rows.values())
    assert rows["eil51"]["cost"] == ncosolve.evaluate(eil51, list(range(51))) and rows["eil51"]["best"] == 426
    assert json.loads((results / "runs.jsonl").read_text())["ray"] == "local"
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)  # resumes: nothing to do
    assert proc.returncode == 0 and "2 of 2 jobs already in" in proc.stderr
    assert len(ResultStore(results).rows()) == 2


@pytest.mark.slow  # ~30-60 s; the CLI test above covers killing a hung Ray task in the default run
def test_a_hung_ray_task_is_cancelled_and_recorded(tmp_path, plugin_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")]))
    import ray_plugin  # noqa: F401  (registers the methods and the suite here, too)
    from ncosolve import leaderboard as lb
    from ncosolve.runner import RayRunner

    jobs = lb.plan("ray-two", ["ray-hang", "ray-identity"], time_limit=1.0)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # the local Ray instance of this test
    try:
        rows = lb.run_leaderboard("ray-two", ["ray-hang", "ray-identity"], time_limit=1.0,
                                  runner=RayRunner(None, preload=("ray_plugin",)))
    finally:
        ray.shutdown()
    by = {(r["instance"], r["method"]): r for r in rows}
    assert [(r["instance"], r["method"]) for r in rows] == [(j.instance.name, j.method) for j in jobs]
    hung = by[("eil51", "ray-hang")]
    assert not hung["feasible"] and not hung["within_budget"] and hung["reason"].startswith("killed: no answer after")
    assert hung["runtime_s"] >= lb.kill_after(1.0)
    assert lb.counts(by[("berlin52", "ray-identity")]), by[("berlin52", "ray-identity")]
