"""The ``ncosolve`` console script, run as a real subprocess: help, solve, plot, leaderboard, user errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import textwrap

import numpy as np
import pytest

import ncosolve
from ncosolve.benchmarks import data_dir
from ncosolve.errors import NcoError
from ncosolve.plotting import plot_solution

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Registered in the CLI's process through --plugin: an exact toy method, two failing ones, a tiny suite.
PLUGIN = '''
import os
import ncosolve
from ncosolve.benchmarks import load_benchmark, register_suite

@ncosolve.register("test-identity", ("tsp",), "visits the nodes in file order")
def identity(instance, time_limit, seed):
    return list(range(instance.n)), {}

@ncosolve.register("test-broken", ("tsp",), "visits node 0 twice")
def broken(instance, time_limit, seed):
    return [0, 0] + list(range(2, instance.n)), {}

@ncosolve.register("test-noisy", ("tsp",), "writes to stdout from Python and from the file descriptor")
def noisy(instance, time_limit, seed):
    print("python noise")
    os.write(1, b"native noise\\n")
    return list(range(instance.n))[::-1], {}

@ncosolve.register("test-uninstalled", ("tsp",), "needs a module nobody has", requires=("no_such_module_xyz",),
                   extra="nothing")
def uninstalled(instance, time_limit, seed):
    return list(range(instance.n)), {}

@ncosolve.register("test-crash", ("tsp",), "raises")
def crash(instance, time_limit, seed):
    raise RuntimeError("boom")

register_suite("test-tiny", "tsp", "eil51 and berlin52", "proven optima")(
    lambda: [i for i in load_benchmark("tsplib-200") if i.name in ("eil51", "berlin52")])
'''


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "ncosolve_test_plugin.py").write_text(textwrap.dedent(PLUGIN))
    return folder


def ncosolve_cli(*args, plugin_dir=None, cwd=None):
    """Run the installed console script; with ``plugin_dir``, the test methods and suite are loaded."""
    env = dict(os.environ)
    if plugin_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), env.get("PYTHONPATH", "")])
        args = ("--plugin", "ncosolve_test_plugin", *args)
    return subprocess.run(["ncosolve", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def fast_tsp_method() -> str:
    """A real, quick TSP method: nearest neighbour once it is registered, else OR-Tools (a core dependency)."""
    names = {m.name for m in ncosolve.methods("tsp", available_only=True)}
    return "nearest-neighbor" if "nearest-neighbor" in names else "ortools"


@pytest.mark.parametrize("command", [(), ("solve",), ("methods",), ("benchmarks",), ("leaderboard",),
                                     ("leaderboard", "report"), ("plot",)])
def test_help_explains_every_command(command):
    proc = ncosolve_cli(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: ncosolve") and len(proc.stdout.splitlines()) > 5
    if not command:
        for name in ("solve", "methods", "benchmarks", "leaderboard", "plot"):
            assert f"  {name} " in proc.stdout


def test_solve_json_is_machine_readable_and_checked(eil51):
    method = fast_tsp_method()
    proc = ncosolve_cli("solve", "tsplib:eil51", "--method", method, "--time-limit", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout holds the JSON and nothing else
    assert doc["method"] == method and doc["instance"] == "eil51" and doc["feasible"]
    assert doc["cost"] == ncosolve.evaluate(eil51, doc["solution"])
    assert doc["best_known"] == 426 and doc["gap"] == pytest.approx(100 * (doc["cost"] - 426) / 426)
    assert doc["info"]["seed"] == 0 and doc["info"]["time_limit"] == 1


def test_solve_human_output_file_option_output_and_plot(tmp_path, plugin_dir, eil51):
    tour_png, out_json = tmp_path / "tour.png", tmp_path / "sol.json"
    proc = ncosolve_cli("solve", str(data_dir() / "tsplib" / "eil51.tsp"), "-m", "test-identity",
                        "--output", str(out_json), "--plot", str(tour_png), plugin_dir=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    identity_cost = ncosolve.evaluate(eil51, list(range(51)))
    lines = proc.stdout.splitlines()
    assert lines[0] == "eil51: tsp, 51 nodes"
    assert lines[1].startswith(f"test-identity: cost {identity_cost:g}, feasible")
    assert lines[2] == f"best known 426, gap {100 * (identity_cost - 426) / 426:.2f} %"
    data = tour_png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    saved = json.loads(out_json.read_text())
    assert saved["solution"] == list(range(51)) and saved["cost"] == identity_cost


def test_solver_chatter_goes_to_stderr_and_tour_files_round_trip(tmp_path, plugin_dir, eil51):
    tour, png = tmp_path / "noisy.tour", tmp_path / "noisy.png"
    proc = ncosolve_cli("solve", "tsplib:eil51", "-m", "test-noisy", "--json", "--output", str(tour),
                        plugin_dir=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["solution"] == list(range(51))[::-1]
    assert "python noise" in proc.stderr and "native noise" in proc.stderr
    assert ncosolve.read_solution(tour)["tour"] == list(range(51))[::-1]
    proc = ncosolve_cli("plot", "tsplib:eil51", "--solution", str(tour), "-o", str(png))
    assert proc.returncode == 0 and png.read_bytes()[:8] == PNG_MAGIC


def test_infeasible_solve_exits_1_and_says_why(plugin_dir):
    proc = ncosolve_cli("solve", "tsplib:eil51", "-m", "test-broken", "--json", plugin_dir=plugin_dir)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert not doc["feasible"] and doc["cost"] is None and doc["gap"] is None
    assert "node 0 visited 2 times" in doc["info"]["infeasible_reason"]


def test_plot_command_draws_saved_json_and_sol_files(tmp_path, a_n32_k5):
    out_json, png = tmp_path / "s.json", tmp_path / "routes.png"
    routes = ncosolve.read_solution(data_dir() / "cvrplib" / "A-n32-k5.sol")["routes"]
    out_json.write_text(json.dumps({"instance": "A-n32-k5", "solution": routes}))
    for solution in (out_json, data_dir() / "cvrplib" / "A-n32-k5.sol"):
        png.unlink(missing_ok=True)
        proc = ncosolve_cli("plot", "cvrplib-A:A-n32-k5", "--solution", str(solution), "-o", str(png))
        assert proc.returncode == 0, proc.stderr
        assert png.read_bytes()[:8] == PNG_MAGIC
    proc = ncosolve_cli("plot", "tsplib:eil51", "--solution", str(out_json), "-o", str(png))
    assert proc.returncode == 2 and "solution of 'A-n32-k5', not of 'eil51'" in proc.stderr


@pytest.fixture(scope="module")
def matrix_tsp_file(tmp_path_factory):
    """A 4-node TSP given only by an explicit distance matrix (nothing to draw)."""
    path = tmp_path_factory.mktemp("matrix") / "m4.tsp"
    dist = np.array([[0, 1, 2, 1], [1, 0, 1, 2], [2, 1, 0, 1], [1, 2, 1, 0]], dtype=float)
    ncosolve.write_instance(ncosolve.TSPInstance(dist=dist, name="m4"), path)
    return path


@pytest.mark.parametrize("args, message", [
    (("solve", "no/such/file.tsp"), "no such file"),
    (("solve", "tsplib:eil51", "-m", "no-such-method"), "unknown method 'no-such-method'"),
    (("solve", "no-such-suite:eil51"), "unknown benchmark 'no-such-suite'"),
    (("solve", "tsplib:eil5"), "benchmark 'tsplib' has no instance 'eil5'"),
    (("solve", "tsplib:eil51", "-m", "test-identity", "--option", "novalue"), "expected key=value"),
    (("solve", "tsplib:eil51", "-m", "test-identity", "--option", "depth=3"), "bad option"),
    (("solve", "tsplib:eil51", "-m", "test-identity", "--time-limit", "-1"), "time_limit must be a positive number"),
    (("solve", "tsplib:eil51", "--no-such-flag"), "No such option: --no-such-flag"),
    (("solve", "MATRIX", "-m", "test-identity", "--plot", "x.png"), "distance matrix only"),
    (("solve", "tsplib:eil51", "-m", "test-identity", "--plot", "x.xyz"), "unsupported image format 'xyz'"),
    (("solve", "tsplib:eil51", "-m", "test-identity", "--output", "x.xyz"), "write a solution as .json"),
    (("solve", "."), "is a directory, not an instance file"),
    (("plot", "tsplib:eil51", "--solution", "PARTIAL", "-o", "x.png"), "not a feasible solution of eil51"),
    (("methods", "--problem", "no-such-problem"), "no method solves 'no-such-problem'"),
    (("leaderboard", "--suite", "no-such-suite"), "unknown benchmark 'no-such-suite'"),
    (("leaderboard", "--suite", "test-tiny", "--methods", "ortools,no-such-method"), "unknown method"),
    (("leaderboard", "--suite", "test-tiny", "--methods", "test-identity", "--jobs", "0"), "--jobs must be at least 1"),
    (("leaderboard", "report", "no/such/dir"), "no such results folder"),
    (("leaderboard", "report", "."), "no stored leaderboard rows"),
    (("leaderboard", "no-such-subcommand"), "No such command"),
])
def test_user_errors_are_one_line_and_exit_2(args, message, plugin_dir, matrix_tsp_file, tmp_path):
    (tmp_path / "partial.json").write_text("[0, 1]")  # two nodes of a 51-node tour
    args = tuple({"MATRIX": str(matrix_tsp_file), "PARTIAL": str(tmp_path / "partial.json")}.get(a, a) for a in args)
    proc = ncosolve_cli(*args, plugin_dir=plugin_dir, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: ")
    assert message in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_debug_shows_the_traceback():
    proc = ncosolve_cli("--debug", "solve", "no/such/file.tsp")
    assert proc.returncode == 2 and "Traceback" in proc.stderr and "InvalidInstance" in proc.stderr


def test_methods_and_benchmarks_list_what_is_there(plugin_dir):
    proc = ncosolve_cli("methods", "--problem", "tsp", plugin_dir=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "test-identity" in proc.stdout and "visits the nodes in file order" in proc.stdout
    line = next(li for li in proc.stdout.splitlines() if "test-uninstalled" in li)
    assert "no: no_such_module_xyz: pip install 'ncosolve[nothing]'" in line
    for m in ncosolve.methods("tsp"):
        assert m.name in proc.stdout
    assert "pyvrp " not in proc.stdout  # filtered to TSP methods
    proc = ncosolve_cli("benchmarks")
    assert proc.returncode == 0, proc.stderr
    line = next(li for li in proc.stdout.splitlines() if " quick " in li)
    assert " 8 " in line and "routing" in line and " 16-101 " in line and " 8/8 " in line
    assert "cvrplib-A" in proc.stdout and "solomon-C1" in proc.stdout
    line = next(li for li in proc.stdout.splitlines() if " tsp50-uniform " in li)
    assert " 32 " in line and " 50 " in line and " 32/32 " in line and "lkh" in line


def test_leaderboard_records_every_run_including_failures(tmp_path, plugin_dir, eil51):
    results = tmp_path / "lb"
    proc = ncosolve_cli("leaderboard", "--suite", "test-tiny", "--methods", "test-identity,test-broken,test-crash",
                        "--time-limit", "1", "--results", str(results), plugin_dir=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "6 runs, 2 feasible" in proc.stdout
    assert "6/6" in proc.stderr  # the progress bar went to stderr
    with open(results / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    doc = json.loads((results / "leaderboard.json").read_text())
    assert len(rows) == len(doc["rows"]) == 6
    names = ("test-identity", "test-broken", "test-crash")
    by_method = {m: [r for r in doc["rows"] if r["method"] == m] for m in names}
    assert all(len(v) == 2 for v in by_method.values())
    eil = next(r for r in by_method["test-identity"] if r["instance"] == "eil51")
    assert eil["feasible"] and eil["cost"] == ncosolve.evaluate(eil51, list(range(51)))
    assert eil["gap"] == pytest.approx(100 * (eil["cost"] - 426) / 426)
    assert all(not r["feasible"] and "visited 2 times" in r["reason"] for r in by_method["test-broken"])
    assert all(not r["feasible"] and r["reason"] == "raised RuntimeError: boom" for r in by_method["test-crash"])
    assert {r["feasible"] for r in rows} == {"True", "False"}
    summary = {s["method"]: s for s in doc["summary"]}
    assert summary["test-identity"]["wins"] == 2 and summary["test-crash"]["feasible_pct"] == 0
    assert doc["suite"] == "test-tiny" and doc["time_limit"] == 1 and doc["environment"]["versions"]["ncosolve"]


def test_plot_solution_draws_one_line_per_route(a_n32_k5):
    routes = ncosolve.read_solution(data_dir() / "cvrplib" / "A-n32-k5.sol")["routes"]
    ax = plot_solution(a_n32_k5, routes)
    assert len(ax.lines) == len(routes) == 5
    assert len({tuple(line.get_color()) for line in ax.lines}) == 5  # one colour each
    first = ax.lines[0].get_xydata()
    assert np.array_equal(first[0], a_n32_k5.coords[0]) and np.array_equal(first[-1], a_n32_k5.coords[0])
    assert ax.get_title() == "A-n32-k5: cost 784"


def test_plot_solution_closes_the_tour_and_rejects_bad_input(eil51, matrix_tsp_file):
    ax = plot_solution(eil51, list(range(51)), title="t")
    xy = ax.lines[0].get_xydata()
    assert len(xy) == 52 and np.array_equal(xy[0], xy[-1]) and ax.get_title() == "t"
    with pytest.raises(NcoError, match="out of range"):
        plot_solution(eil51, [0, 51])
    with pytest.raises(NcoError, match="distance matrix only"):
        plot_solution(ncosolve.read_instance(matrix_tsp_file), [0, 1, 2, 3])
    with pytest.raises(NcoError, match="list of routes"):
        plot_solution(ncosolve.read_instance(data_dir() / "cvrplib" / "A-n32-k5.vrp"), list(range(1, 32)))


def test_leaderboard_jobs_resume_and_report(tmp_path, plugin_dir, eil51):
    results, site, md = tmp_path / "lb", tmp_path / "site", tmp_path / "board.md"
    args = ("leaderboard", "--suite", "test-tiny", "--methods", "test-identity,test-noisy,test-crash",
            "--time-limit", "1", "--jobs", "2", "--results", str(results))
    proc = ncosolve_cli(*args, plugin_dir=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "6 runs, 4 feasible" in proc.stdout and "python noise" not in proc.stdout
    assert len((results / "test-tiny.jsonl").read_text().splitlines()) == 6
    run = json.loads((results / "runs.jsonl").read_text())
    assert run["workers"] == 2 and run["time_limit"] == 1 and run["planned"] == 6 and run["seed"] == 0
    assert run["environment"]["versions"]["ncosolve"] and run["environment"]["cpu_count"]
    proc = ncosolve_cli(*args, plugin_dir=plugin_dir)  # the same command again: nothing left to run
    assert proc.returncode == 0 and "6 of 6 jobs already in" in proc.stderr and "6 runs, 4 feasible" in proc.stdout
    assert len((results / "test-tiny.jsonl").read_text().splitlines()) == 6
    assert len((results / "runs.jsonl").read_text().splitlines()) == 1
    proc = ncosolve_cli("leaderboard", "report", str(results), "--html", str(site), "--markdown", str(md),
                        plugin_dir=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert "test-tiny: tsp, 1 s per job, 2 instances, seed 0" in proc.stdout
    line = next(li for li in proc.stdout.splitlines() if "test-identity" in li)
    assert " 2 " in line and " 100 " in line  # runs, feasible %
    page = (site / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 1 + 2 and "test-tiny" in page  # plot, best and worst tours
    assert md.read_text().count("| test-crash | 2 | 0 |") == 1


GIF_MAGIC = b"GIF89a"


def test_mapf_solution_saved_by_solve_plots_as_png_and_gif(tmp_path):
    from PIL import Image

    inst = ncosolve.load_benchmark("mapf-movingai")[3]  # empty-16-16, 16 agents
    out_json, png, gif = tmp_path / "paths.json", tmp_path / "paths.png", tmp_path / "paths.gif"
    spec = f"mapf-movingai:{inst.name}"
    proc = ncosolve_cli("solve", spec, "-m", "mapf-pibt", "-t", "2", "--output", str(out_json))
    assert proc.returncode == 0, proc.stderr
    assert f"{inst.name}: mapf, 16 agents" in proc.stdout
    doc = json.loads(out_json.read_text())
    paths = np.asarray(doc["solution"])
    assert paths.shape[:1] == (16,) and doc["cost"] == ncosolve.evaluate(inst, paths)
    proc = ncosolve_cli("plot", spec, "--solution", str(out_json), "-o", str(png), "--gif", str(gif), "--fps", "8")
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == PNG_MAGIC and gif.read_bytes()[:6] == GIF_MAGIC
    with Image.open(gif) as frames:
        assert frames.n_frames == paths.shape[1]  # one frame per timestep
    proc = ncosolve_cli("solve", spec, "-m", "mapf-pibt", "-t", "2", "--output", str(tmp_path / "p.sol"))
    assert proc.returncode == 2 and "save a mapf solution as .json" in proc.stderr


def test_network_design_solution_plots_its_flows(tmp_path):
    out_json, png = tmp_path / "design.json", tmp_path / "flows.png"
    out_json.write_text(json.dumps({"instance": "Braess-dndp", "solution": [1]}))
    proc = ncosolve_cli("plot", "ndp-synthetic:Braess-dndp", "--solution", str(out_json), "-o", str(png))
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == PNG_MAGIC
    proc = ncosolve_cli("plot", "ndp-synthetic:Braess-dndp", "--solution", str(out_json),
                        "--gif", str(tmp_path / "x.gif"))
    assert proc.returncode == 2 and "animations are of MAPF paths" in proc.stderr
    out_json.write_text(json.dumps({"instance": "Braess-dndp", "solution": [1, 0]}))
    proc = ncosolve_cli("plot", "ndp-synthetic:Braess-dndp", "--solution", str(out_json), "-o", str(png))
    assert proc.returncode == 2 and "expected 1 entries" in proc.stderr


def test_plot_paths_draws_one_line_per_agent_and_rejects_bad_shapes():
    inst = ncosolve.load_benchmark("mapf-movingai")[4]  # maze-32-32-2, 8 agents
    paths = ncosolve.solve(inst, method="mapf-pibt", time_limit=2).solution
    ax = plot_solution(inst, paths)
    assert len(ax.lines) == inst.num_agents and len(ax.images) == 1  # the grid, then a path per agent
    for a, line in enumerate(ax.lines):
        x, y = line.get_data()
        assert np.allclose(np.round(x), paths[a, :, 1]) and np.allclose(np.round(y), paths[a, :, 0])
    assert ax.get_title() == f"{inst.name}: sum of costs {ncosolve.evaluate(inst, paths):g}"
    with pytest.raises(NcoError, match=r"expected an integer array \(8, T\+1, 2\)"):
        plot_solution(inst, paths[:3])


def test_plot_flows_scales_width_with_volume_and_marks_chosen_links():
    from ncosolve.plotting import plot_flows

    net = ncosolve.read_instance(data_dir() / "networks" / "Braess_net.tntp")
    flows = np.array([4.0, 2.0, 2.0, 2.0, 4.0])
    ax = plot_flows(net, flows, highlight=[3])
    chosen, links = ax.collections[0], ax.collections[1]
    assert len(chosen.get_segments()) == 1 and len(links.get_segments()) == net.num_links
    widths = links.get_linewidths()
    assert widths[0] == widths[4] > widths[1] == widths[2] == widths[3]


def test_benchmarks_lists_mapf_and_network_suites_and_what_a_missing_one_needs(tmp_path):
    env = {**os.environ, "NCOSOLVE_DATA": str(tmp_path), "COLUMNS": "400"}
    proc = subprocess.run(["ncosolve", "benchmarks"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = {li.split()[1]: li for li in proc.stdout.splitlines() if li.startswith("│ ")}
    assert " 7 " in lines["mapf-movingai"] and " 8-30 agents " in lines["mapf-movingai"]
    assert " 7/7 " in lines["mapf-movingai"] or "build_references.py" in lines["mapf-movingai"]
    assert "mapf-lifelong (max)" in lines["mapf-lifelong"] and " 12-16 agents " in lines["mapf-lifelong"]
    assert " 1-24 candidates " in lines["ndp-synthetic"] and " 5/5 " in lines["ndp-synthetic"]
    assert "not available: dndp-siouxfalls:" in lines["dndp-siouxfalls"]
    proc = subprocess.run(["ncosolve", "leaderboard", "--suite", "dndp-siouxfalls"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("error: dndp-siouxfalls: ") and "does not ship them" in proc.stderr
    assert not (tmp_path / "results").exists()
