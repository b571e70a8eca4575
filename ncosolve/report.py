"""Leaderboard reports from stored rows: per-suite summaries as Markdown, CSV, JSON and a static HTML page.

Rows are grouped into boards, one per (suite, budget): methods are only compared under the same budget.
The HTML page is one self-contained file: a sortable table per board (plain JavaScript), a gap-versus-time
plot per board and pictures of sample solutions (matplotlib, embedded as base64 PNG), so it can be mailed
or served as is.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
from pathlib import Path

from matplotlib.figure import Figure

from ncosolve.benchmarks import load_benchmark
from ncosolve.errors import NcoError
from ncosolve.leaderboard import SUMMARY_KEYS, counts, environment, summarise

# what each summary column is called in tables, and how its values are written
COLUMNS = (("method", "method", "{}"), ("runs", "runs", "{}"), ("feasible_pct", "feasible %", "{:.0f}"),
           ("mean_cost", "mean cost", "{:.6g}"), ("mean_gap", "mean gap %", "{:.2f}"),
           ("mean_runtime_s", "mean time s", "{:.2f}"), ("mean_prepare_s", "prepare s", "{:.2f}"),
           ("over_budget", "over budget", "{}"), ("killed", "killed", "{}"), ("wins", "wins", "{}"))


def boards(rows: list[dict]) -> list[dict]:
    """One board per (suite, time limit, problem), in first-seen order: its rows, seeds and per-method summary.
    A suite of mixed problems (``quick``) has a board per problem, so no mean mixes problem kinds."""
    grouped: dict[tuple, list[dict]] = {}
    for r in rows:
        grouped.setdefault((r["suite"], float(r["time_limit"]), r["problem"]), []).append(r)
    return [{"suite": suite, "time_limit": t, "problem": problem, "rows": mine,
             "seeds": sorted({r["seed"] for r in mine}), "instances": len({r["instance"] for r in mine}),
             "maximise": any(r.get("maximise") for r in mine),
             "summary": sorted(summarise(mine), key=lambda s: s["method"])}
            for (suite, t, problem), mine in grouped.items()]


def cell(value, spec: str = "{}") -> str:
    """A table cell: ``spec`` applied, "-" for missing or non-finite numbers."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return spec.format(value)


def board_title(board: dict) -> str:
    """E.g. ``quick: tsp, 2 s per job, 3 instances, seed 0`` (and ``higher is better`` for a maximised objective)."""
    seeds = ", ".join(map(str, board["seeds"]))
    return (f"{board['suite']}: {board['problem']}, {board['time_limit']:g} s per job, {board['instances']} "
            f"instance{'s' if board['instances'] != 1 else ''}, "
            f"seed{'s' if len(board['seeds']) > 1 else ''} {seeds}"
            + (", higher is better" if board["maximise"] else ""))


def to_markdown(rows: list[dict]) -> str:
    """A Markdown section per board with its summary table."""
    parts = ["# ncosolve leaderboard", ""]
    for board in boards(rows):
        parts += [f"## {board_title(board)}", "", "| " + " | ".join(h for _, h, _ in COLUMNS) + " |",
                  "|" + "|".join("---" if k == "method" else "---:" for k, _, _ in COLUMNS) + "|"]
        for s in board["summary"]:
            parts.append("| " + " | ".join(cell(s[k], f) for k, _, f in COLUMNS) + " |")
        parts.append("")
    return "\n".join(parts)


def write_summary_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """One CSV line per (board, method), columns ``SUMMARY_KEYS`` (suite, time limit, problem, method, ...)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(SUMMARY_KEYS)
        for board in boards(rows):
            for s in board["summary"]:
                writer.writerow(["" if s[k] is None else s[k] for k in SUMMARY_KEYS])


def write_report_json(rows: list[dict], path: str | os.PathLike, runs: list[dict] = ()) -> None:
    """The boards (summaries, no rows) with the run records and the environment writing the report."""
    doc = {"environment": environment(), "runs": list(runs),
           "boards": [{k: b[k] for k in ("suite", "time_limit", "problem", "seeds", "instances", "maximise",
                                         "summary")}
                      for b in boards(rows)]}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def _png(fig: Figure) -> str:
    """A figure as a ``data:`` URI (base64 PNG)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def gap_time_plot(board: dict) -> str:
    """Mean gap (or mean cost, without references) against mean time, one labelled point per method."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    use_gap = any(s["mean_gap"] is not None for s in board["summary"])
    key = "mean_gap" if use_gap else "mean_cost"
    for s in board["summary"]:
        if s[key] is None or s["mean_runtime_s"] is None:  # no answer to place (every run failed before timing)
            continue
        ax.scatter(s["mean_runtime_s"], s[key], s=40, zorder=2)
        ax.annotate(s["method"], (s["mean_runtime_s"], s[key]), textcoords="offset points", xytext=(5, 4),
                    fontsize="small")
    ax.set_xlabel("mean time per job (s)")
    ax.set_ylabel("mean gap (%, positive: worse than the reference)" if use_gap else
                  f"mean {'value, higher' if board['maximise'] else 'cost, lower'} is better (no references)")
    ax.axvline(board["time_limit"], color="grey", ls="--", lw=0.8, label="budget")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(board_title(board), fontsize="medium")
    return _png(fig)


def sample_solutions(board: dict, per_problem: int = 2) -> list[tuple[str, str]]:
    """(caption, PNG data URI) pictures of stored solutions, per problem kind of the board, on its first
    drawable instance: the best feasible solution, and the worst feasible one of another method (best is the
    highest value for a maximised objective). Tours, routes, MAPF paths and network flows are drawn."""
    from ncosolve.plotting import can_plot, plot_solution

    try:
        instances = {inst.name: inst for inst in load_benchmark(board["suite"])}
    except NcoError:  # a suite from a plugin not loaded now, or whose data is not installed here
        return []
    out, drawn = [], set()
    for name in dict.fromkeys(r["instance"] for r in board["rows"]):
        inst = instances.get(name)
        if inst is None or inst.problem in drawn or not can_plot(inst):
            continue
        ok = sorted((r for r in board["rows"] if r["instance"] == name and r["feasible"]
                     and r.get("solution") is not None),
                    key=lambda r: -r["cost"] if r.get("maximise") else r["cost"])
        if not ok:
            continue
        drawn.add(inst.problem)
        picked = [ok[0]] + [r for r in ok[::-1] if r["method"] != ok[0]["method"]][:1]
        for r in picked[:per_problem]:
            fig = Figure(figsize=(4.5, 4.5), layout="constrained")
            caption = f"{name}: {r['method']}, cost {r['cost']:.6g}" + (
                "" if r["gap"] is None else f", gap {r['gap']:.2f} %")
            plot_solution(inst, r["solution"], ax=fig.add_subplot(), title=caption)
            out.append((caption, _png(fig)))
    return out


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; }
.meta { color: #555; font-size: 0.9em; }
"""

# Click a header to sort by that column; again to reverse. Numbers sort as numbers, "-" always last.
_SCRIPT = """
function sortTable(th) {
  const table = th.closest("table"), body = table.tBodies[0];
  const col = Array.from(th.parentNode.children).indexOf(th);
  const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
  for (const other of th.parentNode.children) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", dir);
  const key = row => {
    const text = row.cells[col].textContent.trim();
    if (text === "-") return null;
    const num = Number(text);
    return isNaN(num) ? text : num;
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === null || y === null) return (x === null) - (y === null);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return dir === "ascending" ? c : -c;
  });
  for (const row of rows) body.appendChild(row);
}
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => sortTable(th)));
"""


def _table_html(headers: list[str], body: list[list[str]], css_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f'<table class="sortable" id="{css_id}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def to_html(rows: list[dict], runs: list[dict] = ()) -> str:
    """The whole report page as one HTML string (see the module docstring)."""
    env = environment()
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>ncosolve leaderboard</title>",
             f"<style>{_STYLE}</style></head><body><h1>ncosolve leaderboard</h1>",
             f"<p class='meta'>{len(rows)} stored jobs; report written {html.escape(env['date'])} with ncosolve "
             f"{html.escape(str(env['versions']['ncosolve']))}. Every cost was re-checked by evaluate(); "
             "infeasible, crashed, over-budget and killed jobs count as runs without a counted result.</p>"]
    for k, run in enumerate(runs):
        e = run.get("environment", {})
        parts.append(f"<p class='meta'>run {k + 1}: {html.escape(str(run.get('suite')))}, "
                     f"{run.get('time_limit')} s, seed {run.get('seed')}, {run.get('workers')} worker(s) on "
                     f"{html.escape(str(e.get('host')))} ({html.escape(str(e.get('processor')))}, "
                     f"{e.get('cpu_count')} CPUs, GPUs: {html.escape(', '.join(e.get('gpus') or []) or 'none')}), "
                     f"started {html.escape(str(run.get('started')))}</p>")
    for b, board in enumerate(boards(rows)):
        parts.append(f"<section><h2>{html.escape(board_title(board))}</h2>")
        body = [[cell(s[k], f) for k, _, f in COLUMNS] for s in board["summary"]]
        parts.append(_table_html([h for _, h, _ in COLUMNS], body, f"summary-{b}"))
        parts.append(f'<img class="plot" alt="gap versus time, {html.escape(board["suite"])}" '
                     f'src="{gap_time_plot(board)}">')
        pictures = sample_solutions(board)
        if pictures:
            parts.append("<h3>Sample solutions</h3>")
            parts += [f'<figure><img class="solution" alt="{html.escape(c)}" src="{uri}">'
                      f"<figcaption>{html.escape(c)}</figcaption></figure>" for c, uri in pictures]
        per_job = [[r["instance"], r["method"], str(r["seed"]), cell(r["cost"], "{:.6g}"), cell(r["best"], "{:.6g}"),
                    cell(r["gap"], "{:.2f}"), cell(r["runtime_s"], "{:.2f}"),
                    "yes" if counts(r) else "no: " + (r.get("reason") or "")] for r in board["rows"]]
        parts.append(f"<details><summary>all {len(per_job)} jobs</summary>")
        parts.append(_table_html(["instance", "method", "seed", "cost", "reference", "gap %", "time s", "feasible"],
                                 per_job, f"jobs-{b}"))
        parts.append("</details></section>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "".join(parts)


def write_html(rows: list[dict], folder: str | os.PathLike, runs: list[dict] = ()) -> Path:
    """Write ``to_html`` as ``folder/index.html``; its path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(to_html(rows, runs))
    return path
