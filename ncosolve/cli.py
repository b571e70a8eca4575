"""The ``ncosolve`` command line: solve an instance, list methods and benchmarks, run the leaderboard, plot.

Thin on purpose: each command parses its arguments and calls the library (``solve``, ``leaderboard``,
``plotting``). User errors print one ``error: ...`` line on stderr and exit with status 2
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import ncosolve
from ncosolve import leaderboard as lb
from ncosolve.benchmarks import best_known, get_suite, instance_size, load_benchmark, reference_text, suites
from ncosolve.errors import InfeasibleSolution, MissingDependency, NcoError
from ncosolve.io import read_instance, read_solution, write_solution
from ncosolve.io.writers import FILE_SOLUTIONS
from ncosolve.problems import evaluate
from ncosolve.catalog import methods as registered_methods
from ncosolve.store import ResultStore

app = typer.Typer(
    name="ncosolve",
    help="Learned and classical combinatorial-optimisation solvers: solve instances, compare methods on "
         "benchmark suites, plot solutions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_STATE: dict = {"debug": False, "plugins": []}
USAGE_ERROR = 2
# click's exception classes, or the copy of click that newer typer versions vendor
_click_errors = sys.modules[typer.BadParameter.__module__]


def _out() -> Console:
    """Console for results on stdout: no markup (names may hold brackets), wide when piped (unless $COLUMNS)."""
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=160 if wide else None, soft_wrap=False, markup=False)


def _table(*headers: str, title: str | None = None) -> Table:
    """A table whose last column (description, reason) wraps and the others never do."""
    table = Table(title=title)
    for k, header in enumerate(headers):
        table.add_column(header, no_wrap=k < len(headers) - 1)
    return table


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ncosolve {ncosolve.__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="On errors, show the full traceback."),
    plugin: List[str] = typer.Option(
        [], "--plugin", "-p", metavar="MODULE",
        help="Import MODULE first, e.g. one that registers your own methods or suites (repeatable)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Learned and classical combinatorial-optimisation solvers.

    Exit status: 0 success, 1 no feasible solution found (solve), 2 usage error.
    """
    _STATE["debug"] = debug
    _STATE["plugins"] = list(plugin)
    for name in plugin:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise NcoError(f"--plugin {name}: cannot import it ({exc})") from None


def load_instance(spec: str):
    """An instance from a file path, or ``BENCHMARK:NAME`` (instance NAME of a shipped suite)."""
    if Path(spec).exists() or ":" not in spec:
        return read_instance(spec)
    suite, _, name = spec.partition(":")
    instances = load_benchmark(suite)
    for inst in instances:
        if inst.name == name:
            return inst
    names = [i.name for i in instances]
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    raise NcoError(f"benchmark {suite!r} has no instance {name!r}; it has {shown}")


def parse_options(pairs: List[str]) -> dict:
    """``key=value`` strings to keyword options; values are read as JSON (numbers, true, lists), else text."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise NcoError(f"--option {pair!r}: expected key=value")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send whatever solvers print (Python or native code) to stderr, keeping stdout for ncosolve's output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _fmt(value: float | None, spec: str = ".10g") -> str:
    """A number for tables ("-" when missing or infinite); costs keep all their integer digits."""
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


@app.command()
def solve(
    instance: str = typer.Argument(..., metavar="FILE|BENCHMARK:NAME",
                                   help="An instance file (TSPLIB, VRPLIB, Solomon, MovingAI .scen, TNTP, DNDP), or "
                                        "e.g. tsplib:eil51, mapf-movingai:empty-16-16-16-s0."),
    method: str = typer.Option("auto", "--method", "-m", help="Method name (see 'ncosolve methods'), or auto."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", "-t",
                                               help="Budget in seconds (default: the method's own)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    as_json: bool = typer.Option(False, "--json", help="Print only JSON: the Result, best known value and gap."),
    output: Optional[Path] = typer.Option(None, "--output",
                                          help="Save the result: .json (as --json; every problem), or .sol / .tour "
                                               "(routing file formats)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a picture of the solution (e.g. tour.png; "
                                                             ".gif animates MAPF paths)."),
    option: List[str] = typer.Option([], "--option", metavar="KEY=VALUE",
                                     help="Method-specific option (repeatable), e.g. --option runs=5."),
) -> None:
    """Solve one instance and print its cost, checked by evaluate(), and the gap to the best known value.

    Exit status 1 when the method found no feasible solution.
    """
    inst = load_instance(instance)
    options = parse_options(option)
    if output is not None and output.suffix not in (".json", ".sol", ".tour"):
        raise NcoError(f"--output {output}: write a solution as .json (any problem) or .sol / .tour (routing)")
    if output is not None and output.suffix in (".sol", ".tour") and inst.problem not in FILE_SOLUTIONS:
        raise NcoError(f"--output {output}: .sol / .tour hold routing solutions; save a {inst.problem} solution "
                       "as .json")
    if plot is not None:
        from ncosolve.plotting import check_plottable

        check_plottable(inst, plot)  # fail before solving, not after
    with _stdout_to_stderr():
        result = ncosolve.solve(inst, method=method, time_limit=time_limit, seed=seed, **options)
    suite = _suite_of(instance)
    best = best_known(inst, suite=suite)
    doc = {"instance": inst.name, "problem": inst.problem, **result.to_dict(), "best_known": best,
           "gap": lb.gap(result.cost, best, suite is not None and get_suite(suite).maximise)}
    if as_json:
        typer.echo(json.dumps(doc))
    else:
        size, unit = instance_size(inst)
        typer.echo(f"{inst.name or instance}: {inst.problem}, {size} {unit[:-1] if size == 1 else unit}")
        typer.echo(result.summary())
        if best is not None:
            typer.echo(f"best known {_fmt(best)}, gap {_fmt(doc['gap'], '.2f')} %")
    if output is not None:
        if output.suffix in (".sol", ".tour"):
            if result.solution is None:
                raise NcoError(f"--output {output}: the method returned no solution to write")
            write_solution(output, result.solution, cost=doc["cost"])
        else:
            output.write_text(json.dumps(doc, indent=1) + "\n")
        typer.echo(f"wrote {output}", err=True)
    if plot is not None:
        if result.solution is None:
            raise NcoError(f"--plot {plot}: the method returned no solution to draw")
        from ncosolve.plotting import save_plot

        save_plot(inst, result.solution, plot, title=f"{inst.name}: {result.summary()}")
        typer.echo(f"wrote {plot}", err=True)
    if not result.feasible:
        raise typer.Exit(1)


def _suite_of(spec: str) -> str | None:
    """The suite of ``BENCHMARK:NAME`` (None for a file: its reference is then found by name and data)."""
    if Path(spec).exists() or ":" not in spec:
        return None
    return spec.partition(":")[0]


@app.command("methods")
def list_methods(
    problem: Optional[str] = typer.Option(None, "--problem", help="Only methods for this problem (tsp, cvrp, ...)."),
) -> None:
    """List the registered methods: problems, whether installed (or which extra to install), description."""
    found = registered_methods(problem)
    if not found:
        known = sorted({p for m in registered_methods() for p in m.problems})
        raise NcoError(f"no method solves {problem!r}; problems with methods: {', '.join(known) or 'none'}")
    table = _table("method", "problems", "available", "default budget", "description")
    for m in found:
        try:
            m.check_available()
            available = "yes"
        except MissingDependency as exc:
            available = "no: " + str(exc).split("needs ", 1)[-1]
        budget = "-" if m.default_time_limit is None else f"{m.default_time_limit:g} s"
        table.add_row(m.name, ", ".join(m.problems), available, budget, m.description)
    _out().print(table)


@app.command()
def benchmarks() -> None:
    """List the benchmark suites: problem, number of instances, their sizes, and what the reference values are.

    A suite whose data is not installed (not shipped for licence reasons) is listed with what it needs.
    """
    table = _table("suite", "problem", "instances", "size", "references", "description", "reference kind")
    for column in table.columns[-2:]:  # long texts: both wrap, sharing the width
        column.no_wrap, column.ratio, column.min_width = False, 1, 20
    for s in suites():
        problem = s.problem + (" (max)" if s.maximise else "")
        try:
            instances = load_benchmark(s.name)
        except NcoError as exc:
            table.add_row(s.name, problem, "-", "-", "-", s.description, f"not available: {exc}")
            continue
        sizes = [instance_size(i) for i in instances]
        low, high = min(sizes, default=(0, "")), max(sizes, default=(0, ""))
        size = "-" if not sizes else f"{low[0]}{'' if low == high else f'-{high[0]}'} {low[1]}"
        known = sum(best_known(i, suite=s.name) is not None for i in instances)
        table.add_row(s.name, problem, str(len(instances)), size, f"{known}/{len(instances)}", s.description,
                      reference_text(s))
    _out().print(table)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True, markup=False))


leaderboard_app = typer.Typer(
    help="Run every method on every instance of a suite under one budget (no sub-command), or report on "
         "stored results ('report').",
    add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
app.add_typer(leaderboard_app, name="leaderboard")


@leaderboard_app.callback(invoke_without_command=True)
def leaderboard(
    ctx: typer.Context,
    suite: str = typer.Option("quick", "--suite", "-s", help="Benchmark suite (see 'ncosolve benchmarks')."),
    methods: Optional[str] = typer.Option(None, "--methods", help="Comma-separated methods (default: all installed)."),
    time_limit: float = typer.Option(2.0, "--time-limit", "-t", help="The same budget in seconds for every run."),
    seed: int = typer.Option(0, "--seed", help="Seed given to every method."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Jobs run at once, each in its own worker process "
                                                     "(with --ray, the cluster's CPUs decide)."),
    results: Optional[Path] = typer.Option(
        None, "--results", help="Folder of the store (<suite>.jsonl, runs.jsonl) and of leaderboard.csv / .json "
                                "[default: ./results/leaderboard-SUITE]; jobs already stored there are not re-run."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                      help="Send the jobs to this Ray cluster ('auto', 'ray://host:10001', ...)."),
) -> None:
    """Run every method on every instance of a suite under one budget; print and save cost, gap, time, feasibility.

    Each solution is re-checked by evaluate(); a method that raises, returns an infeasible solution or overruns
    its budget (more than 10% + 0.5 s) is recorded as infeasible with the reason. Each finished job is appended
    at once to the store under --results, so a killed run re-run with the same arguments does only the rest.
    'ncosolve leaderboard report DIR' summarises a store (terminal, Markdown, CSV, JSON, HTML).
    """
    if ctx.invoked_subcommand is not None:
        return
    names = None if methods is None else [m.strip() for m in methods.split(",") if m.strip()]
    if names is not None and not names:
        raise NcoError("--methods: give at least one method name")
    if jobs < 1:
        raise NcoError(f"--jobs must be at least 1, got {jobs}")
    folder = results if results is not None else Path("results") / f"leaderboard-{suite}"
    store = ResultStore(folder)
    planned, already = lb.pending(store, suite, names, time_limit, seed)
    if already:
        typer.echo(f"{already} of {planned} jobs already in {folder}: running the other {planned - already}", err=True)
    preload = tuple(_STATE["plugins"])
    if ray is not None:
        from ncosolve.runner import RayRunner

        runner = RayRunner(ray, preload=preload)
    else:
        from ncosolve.runner import LocalRunner

        runner = LocalRunner(jobs, preload=preload)
    if planned > already:
        env = lb.environment()
        store.add_run({"suite": suite, "methods": names, "time_limit": time_limit, "seed": seed, "workers": jobs,
                       "ray": ray, "planned": planned, "to_run": planned - already,
                       "kill_after_s": lb.kill_after(time_limit), "command": ["ncosolve", *sys.argv[1:]],
                       "started": env["date"], "environment": env})
    with _progress() as progress, _stdout_to_stderr():
        task = progress.add_task(suite, total=planned - already)

        def advance(row: dict, done: int, total: int) -> None:
            status = _fmt(row["cost"]) if lb.counts(row) else "no: " + _short(row["reason"], 40)
            progress.update(task, completed=done, total=total,
                            description=f"{suite}: {row['instance']} {row['method']} {status}")

        rows = lb.run_leaderboard(suite, names, time_limit, seed, advance, runner=runner, store=store)
    lb.write_csv(rows, folder / "leaderboard.csv")
    lb.write_json(rows, folder / "leaderboard.json", suite=suite, time_limit=time_limit, seed=seed, workers=jobs)
    out = _out()
    if len(rows) <= MAX_JOB_LINES:
        table = _table("instance", "method", "cost", "best", "gap %", "time s", "prepare s", "counts",
                       title=f"{suite}, {time_limit:g} s")
        for r in rows:
            verdict = "yes" if lb.counts(r) else "no: " + _short(r["reason"])
            table.add_row(r["instance"], r["method"], _fmt(r["cost"]), _fmt(r["best"]), _fmt(r["gap"], ".2f"),
                          _fmt(r["runtime_s"], ".2f"), _fmt(r.get("prepare_s"), ".2f"), verdict)
        out.print(table)
    from ncosolve import report

    for board in report.boards(rows):
        out.print(_summary_table(board["rows"], report.board_title(board)))
    counted = sum(lb.counts(r) for r in rows)
    out.print(f"{len(rows)} runs, {counted} feasible within budget; wrote {folder / 'leaderboard.csv'} and "
              f"{folder / 'leaderboard.json'}", soft_wrap=True)


MAX_JOB_LINES = 60  # beyond this many jobs the terminal shows the summary only (the files hold every job)


def _summary_table(rows: list[dict], title: str) -> Table:
    """Per method (rows of one problem): runs, mean cost, gap, time, preparation, feasible %, over budget,
    killed, wins."""
    table = _table("method", "runs", "mean cost", "mean gap %", "mean time s", "prepare s", "feasible %",
                   "over budget", "killed", "wins", title=title)
    for s in sorted(lb.summarise(rows), key=lambda s: s["method"]):
        table.add_row(s["method"], str(s["runs"]), _fmt(s["mean_cost"], ".6g"), _fmt(s["mean_gap"], ".2f"),
                      _fmt(s["mean_runtime_s"], ".2f"), _fmt(s["mean_prepare_s"], ".2f"), f"{s['feasible_pct']:.0f}",
                      str(s["over_budget"]), str(s["killed"]), str(s["wins"]))
    return table


@leaderboard_app.command("report")
def leaderboard_report(
    folder: Path = typer.Argument(..., metavar="DIR", help="A --results folder of 'ncosolve leaderboard'."),
    html: Optional[Path] = typer.Option(None, "--html", metavar="OUT", help="Write OUT/index.html: a static page."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write the summaries as Markdown."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write the summaries as CSV."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the summaries and run records as JSON."),
) -> None:
    """Summarise a results folder: a table per (suite, budget) in the terminal, and optional files.

    The HTML page has one sortable table per suite, a gap-versus-time plot and pictures of sample solutions.
    """
    from ncosolve import report

    if not folder.is_dir():
        raise NcoError(f"{folder}: no such results folder")
    store = ResultStore(folder)
    rows = store.rows()
    if not rows:
        raise NcoError(f"{folder}: no stored leaderboard rows (*.jsonl) in it")
    out = _out()
    for board in report.boards(rows):
        out.print(_summary_table(board["rows"], report.board_title(board)))
    written = []
    if markdown is not None:
        markdown.write_text(report.to_markdown(rows))
        written.append(markdown)
    if csv_path is not None:
        report.write_summary_csv(rows, csv_path)
        written.append(csv_path)
    if json_path is not None:
        report.write_report_json(rows, json_path, store.runs())
        written.append(json_path)
    if html is not None:
        written.append(report.write_html(rows, html, store.runs()))
    for path in written:
        typer.echo(f"wrote {path}", err=True)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def load_solution_file(path: Path):
    """A solution from ``solve --output`` JSON, a JSON list, or a .sol / .tour file; with its instance name."""
    if path.suffix.lower() != ".json":
        data = read_solution(path)
        return data.get("tour", data.get("routes")), None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise NcoError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, list):
        return data, None
    if not isinstance(data, dict) or data.get("solution") is None:
        raise NcoError(f"{path}: no 'solution' in it (expected the JSON of 'ncosolve solve --output')")
    return data["solution"], data.get("instance")


@app.command()
def plot(
    instance: str = typer.Argument(..., metavar="FILE|BENCHMARK:NAME", help="The instance the solution is for."),
    solution: Path = typer.Option(..., "--solution", help="Solution: JSON from 'solve --output', or .sol / .tour."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Image to write (.png, .svg, .pdf)."),
    gif: Optional[Path] = typer.Option(None, "--gif", help="Write an animated GIF of MAPF paths (e.g. paths.gif)."),
    fps: int = typer.Option(4, "--fps", help="Frames (timesteps) per second of the --gif animation."),
    title: Optional[str] = typer.Option(None, "--title", help="Title (default: name and cost from evaluate())."),
) -> None:
    """Draw a saved solution on its instance: the tour, one coloured route per vehicle, one coloured path per
    MAPF agent (also animated, --gif), or a network design's equilibrium flows with the chosen links."""
    from ncosolve.plotting import MAPF, check_plottable, save_animation, save_plot

    if output is None and gif is None:
        raise NcoError("give --output IMAGE and/or --gif ANIMATION")
    if fps < 1:
        raise NcoError(f"--fps must be at least 1, got {fps}")
    inst = load_instance(instance)
    check_plottable(inst, output)
    if gif is not None and inst.problem not in MAPF:
        raise NcoError(f"--gif {gif}: animations are of MAPF paths; {inst.name or 'this instance'} is {inst.problem}")
    sol, name = load_solution_file(solution)
    if name is not None and inst.name is not None and name != inst.name:
        raise NcoError(f"{solution} is a solution of {name!r}, not of {inst.name!r}")
    try:
        evaluate(inst, sol)
    except InfeasibleSolution as exc:
        raise NcoError(f"{solution} is not a feasible solution of {inst.name or 'this instance'}: {exc}") from None
    if output is not None:
        save_plot(inst, sol, output, title=title)
        typer.echo(f"wrote {output}", err=True)
    if gif is not None:
        frames = save_animation(inst, sol, gif, fps=fps, title=title)
        typer.echo(f"wrote {gif} ({frames} frames)", err=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(USAGE_ERROR)


def main(argv: Optional[List[str]] = None) -> None:
    """Console-script entry point: run the command, turning user errors into one ``error:`` line, status 2."""
    _STATE.update(debug=False, plugins=[])
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="ncosolve", standalone_mode=False)
    except getattr(_click_errors, "NoArgsIsHelpError", ()) as exc:
        typer.echo(exc.format_message())
        code = 0
    except _click_errors.UsageError as exc:
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(exc.format_message() + where)
    except _click_errors.ClickException as exc:
        _fail(exc.format_message())
    except typer.Abort:
        typer.echo("aborted", err=True)
        code = 130
    except (NcoError, OSError) as exc:
        if _STATE["debug"]:
            traceback.print_exc()
            sys.exit(USAGE_ERROR)
        _fail(str(exc) or type(exc).__name__)
    sys.exit(code or 0)
