"""LKH-3 through elkai for the TSP (symmetric or asymmetric), run in a child process to honour the time limit.

LKH itself stops at its ``TOTAL_TIME_LIMIT``, but only between trials and not during its preprocessing;
elkai holds the GIL while it runs, and elkai's LKH measures that limit in CPU seconds (``clock()``), which
on a loaded machine lag the wall clock. So the search happens in a separate Python process that the parent
kills at the deadline. While it runs, LKH writes every improved tour to an ``OUTPUT_TOUR_FILE`` that the
parent reads, so a child killed at the deadline still yields the best tour it had found.
elkai's public ``DistanceMatrix.solve_tsp`` only takes ``runs``, so the child calls the function it
wraps, ``elkai._elkai.solve_problem(params, problem)``, to pass the other LKH parameters.

Two ways in:

- coordinate instances go to LKH as ``NODE_COORD_SECTION`` text in their own edge-weight type (``EUC_2D``,
  ``CEIL_2D``, ``ATT``, ``GEO``: LKH computes those exactly as ``ncosolve.problems.distances`` does);
  ``EXACT_2D`` (float) coordinates are shifted and scaled so that the largest possible distance is
  ``LKH_MAX_VALUE`` and sent as ``EUC_2D``, and ``TRUNC1_2D`` ones are scaled by 10 and sent as
  ``FLOOR_2D``. Nothing dense is built in Python, so there is no size limit here; LKH itself keeps a
  cost matrix up to 20,000 nodes (800 MB at 20,000) and computes distances on the fly above.
- matrix instances (``TSPInstance(dist=...)``, asymmetric ones too) are sent as an integer
  ``FULL_MATRIX``, up to ``MAX_NODES`` nodes.

LKH's default candidate set (``ALPHA``: a subgradient ascent on the complete graph) costs O(n^2) per
ascent iteration, about 9 s at 2,100 nodes, so larger coordinate instances use sparse candidate
generation (``POPMUSIC``, or ``DELAUNAY`` / ``QUADRANT`` when even that would eat too much of the budget),
with ``INITIAL_PERIOD = 100``; see ``candidate_set``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ncosolve.baselines.scaling import integer_scale, to_int
from ncosolve.errors import NcoError
from ncosolve.problems.distances import coord_distances

# Matrix instances are sent as a dense integer matrix in text: beyond this many nodes the matrix alone
# costs seconds and hundreds of MB, so larger ones are refused rather than run badly (coordinate
# instances have no limit). Near the limit LKH's preprocessing dominates (about 1 s at 1000 nodes,
# 8-10 s at 3000 on one core): give such instances budgets of 20 s or more.
MAX_NODES = 3000

# LKH's PRECISION (its default): the factor between the lengths it is given and its internal costs, in which
# node penalties (PI_FILE) are written.
PRECISION = 100
# LKH stores costs as C ints multiplied by its PRECISION, so scaled lengths must stay near 1e7 or
# below; 1e6 leaves room for the transformed costs of asymmetric instances.
LKH_MAX_VALUE = 10**6
# A coordinate instance in LKH's own edge-weight type is sent as is while its largest possible distance
# (the bounding-box diagonal) times PRECISION fits a C int; beyond, it is scaled like EXACT_2D.
_NATIVE_MAX_VALUE = 2 * 10**7
_NATIVE_TYPES = ("EUC_2D", "CEIL_2D", "ATT", "GEO")

# Candidate sets, cheapest last, with the CPU seconds their preprocessing (reading, ascent, candidates) was
# measured to take with elkai's LKH-3.0.8 on a loaded 2-core VM, fitted as power laws of n over TSPLIB
# instances: ALPHA 2.0 s at 1,060 nodes, 9.4 s at 2,103, 12.3 s at 2,392 (~2.9e-7 n^2.26); POPMUSIC 1.6 s
# at 2,103, 4.6 s at 3,795, 7.7 s at 5,934, 29 s at 13,509 (~1.16e-5 n^1.55); DELAUNAY 0.4 s, 0.9 s,
# 2.2 s, 9.1 s (~1.53e-6 n^1.64); QUADRANT has no ascent at all. The first one whose estimate fits
# _PREPROCESS_SHARE of the budget is used: with T = max(10, 0.01 n) that is ALPHA up to ~1,150 nodes,
# POPMUSIC up to ~17,000 and DELAUNAY above. POPMUSIC gave better tours than DELAUNAY at equal CPU
# budgets wherever it fitted (d2103 0.01% vs 0.16% at 10 s, fl3795 0.003% vs 0.35% at 38 s, rl5934 0.07%
# vs 0.22% at 59 s), and either beat ALPHA once ALPHA's ascent took most of the budget (d2103: 1.96%).
CANDIDATE_SETS = ("alpha", "popmusic", "delaunay", "quadrant")
_PREPROCESS_ESTIMATE = {"alpha": lambda n: 2.9e-7 * n**2.26, "popmusic": lambda n: 1.16e-5 * n**1.55,
                        "delaunay": lambda n: 1.53e-6 * n**1.64, "quadrant": lambda n: 0.0}
_PREPROCESS_SHARE = 0.25
_CANDIDATE_PARAMS = {
    "alpha": "",
    "popmusic": "CANDIDATE_SET_TYPE = POPMUSIC\nINITIAL_PERIOD = 100\n",
    "delaunay": "CANDIDATE_SET_TYPE = DELAUNAY\nINITIAL_PERIOD = 100\n",
    "quadrant": "CANDIDATE_SET_TYPE = QUADRANT\n",
}

# LKH is asked to finish this many seconds before the budget ends (printing and collecting the tour).
_FINISH_EARLY_S = 0.05
# How often the parent reads LKH's tour file while the child runs.
_POLL_S = 0.25

# Protocol: one header line "<kind> <n> <symmetric> <deadline> <params bytes>", the LKH parameters, then
# either the problem text (kind "text") or an n x n int64 matrix (kind "matrix"). The child adds
# TOTAL_TIME_LIMIT (the wall time left at its start) and prints the 0-based tour on one line. Before reading,
# it prints "ready" once elkai is imported, so ``prepare_lkh`` can start it before a budget's clock.
_WORKER = r"""
import sys, time
from elkai import _elkai

print("ready", flush=True)
header = sys.stdin.buffer.readline()
if not header:  # a spare child whose parent never used it
    sys.exit(0)
kind, n, symmetric, deadline, size = header.split()
n = int(n)
params = sys.stdin.buffer.read(int(size)).decode()
if kind == b"matrix":  # int64 values, row by row (no numpy import: it costs the child ~0.2 s to start)
    from array import array
    values = array("q")
    values.frombytes(sys.stdin.buffer.read())
    problem = (f"TYPE : {'TSP' if symmetric == b'1' else 'ATSP'}\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
               "EDGE_WEIGHT_FORMAT : FULL_MATRIX\nEDGE_WEIGHT_SECTION\n"
               + "\n".join(" ".join(map(str, values[i * n:(i + 1) * n])) for i in range(n)) + "\nEOF\n")
else:
    problem = sys.stdin.buffer.read().decode()
limit = max(0.01, float(deadline) - time.time())
tour = _elkai.solve_problem(params + f"TOTAL_TIME_LIMIT = {limit:.3f}\n", problem)
print(" ".join(str(i - 1) for i in tour), flush=True)
"""


def _candidate_file_params(text: str, subgradient: bool, penalties: bool) -> str:
    """LKH parameters for candidates read from a file (see ``lkh_solve``). LKH trims each node's set to
    MAX_CANDIDATES (default 5) as it reads it and, after an ascent, keeps that many per node by alpha: without
    the ascent it is the file's largest count (every edge read is kept), with it the smallest (as many per
    node as the file gives every node, e.g. 5 for a symmetrized top 5, like LKH's own sets). Without the
    ascent the penalties come from a ``PI_FILE`` when ``penalties`` (the caller names it), else they are 0."""
    counts = [int(line.split()[2]) for line in text.splitlines()[1:] if len(line.split()) >= 3]
    if subgradient:  # the ascent keeps a POPMUSIC set it finds already there: here, the file's edges
        return f"CANDIDATE_SET_TYPE = POPMUSIC\nINITIAL_PERIOD = 100\nMAX_CANDIDATES = {min(counts, default=5)}\n"
    zero_pi = "" if penalties else "PI_FILE = 0\n"
    return f"SUBGRADIENT = NO\n{zero_pi}MAX_CANDIDATES = {max(counts, default=5)}\n"


def penalty_file_text(pi: np.ndarray) -> str:
    """LKH-3 ``PI_FILE`` text: the node count, then ``id pi`` per node (1-based ids, integer pi in LKH's
    units: ``PRECISION`` times the lengths LKH is given)."""
    pi = np.rint(np.asarray(pi, dtype=np.float64)).astype(np.int64)
    return f"{len(pi)}\n" + "".join(f"{i} {v}\n" for i, v in enumerate(pi.tolist(), start=1))


def read_penalty_file(text: str) -> np.ndarray:
    """The penalties of a ``PI_FILE`` text (as LKH writes them after its ascent), by 0-based node, LKH's units."""
    tokens = text.split()
    n = int(tokens[0])
    pairs = np.array(tokens[1:1 + 2 * n], dtype=np.int64).reshape(n, 2)
    pi = np.zeros(n, dtype=np.int64)
    pi[pairs[:, 0] - 1] = pairs[:, 1]
    return pi


def ascent_penalties(instance, time_limit: float) -> np.ndarray | None:
    """LKH-3's node penalties pi after its full subgradient ascent (ALPHA) on a coordinate instance, in the
    instance's length units (training labels for a penalty network), or None if LKH wrote none in time."""
    problem, _, _, scale, _ = coordinate_problem(instance)
    with tempfile.TemporaryDirectory(prefix="ncosolve-pi-") as tmp:
        path = os.path.join(tmp, "pi.txt")
        now = time.perf_counter()
        run_lkh(problem, 1, 1, finish_by=now + time_limit, kill_at=now + time_limit, n=instance.n,
                extra_params=f"CANDIDATE_SET_TYPE = ALPHA\nMAX_TRIALS = 1\nPI_FILE = {path}\n")
        try:
            with open(path) as f:
                return read_penalty_file(f.read()) / (PRECISION * scale)
        except (OSError, ValueError):  # none written, or cut off by the kill
            return None


def candidate_set(n: int, time_limit: float) -> str:
    """The candidate set for an ``n``-node coordinate instance: the first of ``CANDIDATE_SETS`` whose
    measured preprocessing cost fits a quarter of ``time_limit`` (``quadrant`` if none does)."""
    for name in CANDIDATE_SETS:
        if _PREPROCESS_ESTIMATE[name](n) <= _PREPROCESS_SHARE * time_limit:
            return name
    return "quadrant"


def coordinate_problem(instance) -> tuple[str, str, np.ndarray, float, bool]:
    """LKH problem text of a coordinate instance: ``(text, lkh_type, lkh_coords, scale, exact)``.

    ``exact``: LKH measures edges exactly as ``evaluate`` does (the instance's own type, sent as is).
    """
    coords = np.asarray(instance.coords, dtype=np.float64)
    ewt = instance.edge_weight_type
    lo = coords.min(axis=0)
    diagonal = float(np.hypot(*(coords.max(axis=0) - lo)))
    if ewt in _NATIVE_TYPES and (ewt == "GEO" or diagonal <= _NATIVE_MAX_VALUE):
        lkh_type, points, scale, exact = ewt, coords, 1.0, True
    elif ewt == "TRUNC1_2D" and diagonal * 10 <= LKH_MAX_VALUE:
        lkh_type, points, scale, exact = "FLOOR_2D", (coords - lo) * 10.0, 10.0, False
    else:  # EXACT_2D, or coordinates too large for LKH's ints
        scale = LKH_MAX_VALUE / diagonal if diagonal > 0 else 1.0
        lkh_type, points, exact = "EUC_2D", (coords - lo) * scale, False
    lines = "\n".join(f"{i} {x!r} {y!r}" for i, (x, y) in enumerate(points.tolist(), start=1))
    text = (f"TYPE : TSP\nDIMENSION : {len(points)}\nEDGE_WEIGHT_TYPE : {lkh_type}\nNODE_COORD_SECTION\n"
            f"{lines}\nEOF\n")
    return text, lkh_type, points, scale, exact


def _tour_length(matrix: np.ndarray, tour: np.ndarray) -> int:
    return int(matrix[tour, np.roll(tour, -1)].sum())


def _read_tour_file(path: str, n: int) -> np.ndarray | None:
    """The 0-based tour in an LKH tour file, or None if it is missing, partly written or not n cities."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    head, found, tail = text.partition("TOUR_SECTION")
    if not found or "EOF" not in tail:
        return None
    try:
        nodes = np.array(tail.split("-1", 1)[0].split(), dtype=np.int64) - 1
    except ValueError:
        return None
    if len(nodes) != n or np.any(nodes < 0) or np.any(nodes >= n) or len(np.unique(nodes)) != n:
        return None
    return nodes


def run_lkh(problem, runs: int, lkh_seed: int, finish_by: float, kill_at: float,
            extra_params: str = "", n: int | None = None,
            files: dict[str, str] | None = None) -> tuple[np.ndarray | None, str]:
    """LKH-3's best tour over ``runs`` runs, told to finish by ``finish_by``.

    ``problem`` is an integer matrix, or the TSPLIB text of a problem with ``n`` nodes; ``extra_params``
    are added LKH parameter lines; ``files`` maps LKH file parameters (e.g. ``CANDIDATE_FILE``) to the text
    of the file, written to the run's temporary directory and named in the parameters. ``lkh_seed`` is LKH's
    ``SEED`` (positive); times are
    ``time.perf_counter()`` values. The child is killed at ``kill_at`` if it has not finished (LKH's
    preprocessing ignores the limit, and its limit is in CPU seconds); the best tour it had written by
    then is returned, with a reason starting "stopped at the time limit". Returns the tour, or None and
    the reason (the child's error output, or the overrun).
    """
    if isinstance(problem, np.ndarray):
        matrix = problem.astype(np.int64)
        n = len(matrix)
        kind, symmetric, payload = "matrix", int(np.array_equal(matrix, matrix.T)), matrix.tobytes()
    else:
        kind, symmetric, payload = "text", 1, problem.encode()
    with tempfile.TemporaryDirectory(prefix="ncosolve-lkh-") as tmp:
        tour_file = os.path.join(tmp, "best.tour")
        for k, (keyword, text) in enumerate((files or {}).items()):
            path = os.path.join(tmp, f"input{k}.txt")
            with open(path, "w") as f:
                f.write(text)
            extra_params += f"{keyword} = {path}\n"
        params = (f"RUNS = {int(runs)}\nSEED = {int(lkh_seed)}\nPROBLEM_FILE = :stdin:\n"
                  f"OUTPUT_TOUR_FILE = {tour_file}\n{extra_params}").encode()
        wall_deadline = time.time() + (finish_by - time.perf_counter())
        message = f"{kind} {n} {symmetric} {wall_deadline!r} {len(params)}\n".encode() + params + payload
        return _run_child(message, n, tour_file, kill_at)


_SPARE: list = []  # at most one child started by prepare_lkh, elkai imported, waiting for its problem


def _start_child() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def prepare_lkh(instance=None) -> None:
    """Start the LKH child (a Python process importing elkai) before the clock, so no budget pays for its start;
    the next solve uses it."""
    if _SPARE and _SPARE[0].poll() is None:
        return
    proc = _start_child()
    if proc.stdout.readline().strip() == b"ready":
        _SPARE[:] = [proc]
    else:  # it failed to start: the solve starts its own and reports the error
        proc.kill()
        proc.wait()


def _run_child(message: bytes, n: int, tour_file: str, kill_at: float) -> tuple[np.ndarray | None, str]:
    spare = _SPARE.pop() if _SPARE else None
    proc = spare if spare is not None and spare.poll() is None else _start_child()
    out: list[bytes] = []
    err: list[bytes] = []
    threads = [threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True),
               threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),
               threading.Thread(target=_send, args=(proc.stdin, message), daemon=True)]
    for t in threads:
        t.start()
    reason, written, stamp = "", None, None
    while True:
        left = kill_at - time.perf_counter()
        if left <= 0:
            proc.kill()
            proc.wait()
            reason = "killed"
            break
        try:
            proc.wait(timeout=min(_POLL_S, left))
            break
        except subprocess.TimeoutExpired:
            pass
        try:  # keep the last complete tour file: the one there at the kill may be half written
            st = os.stat(tour_file)
        except OSError:
            continue
        if (st.st_mtime_ns, st.st_size) != stamp:
            tour = _read_tour_file(tour_file, n)
            if tour is not None:
                written, stamp = tour, (st.st_mtime_ns, st.st_size)
    for t in threads:
        t.join()
    proc.stdout.close()
    proc.stderr.close()
    if reason == "killed":
        tour = _read_tour_file(tour_file, n)
        tour = written if tour is None else tour
        if tour is None:
            return None, "LKH did not finish its preprocessing within the time limit"
        return tour, "stopped at the time limit: the best tour LKH had written"
    if proc.returncode:
        return None, "LKH failed: " + b"".join(err).decode(errors="replace").strip()[-500:]
    out = [line for line in out if line.strip() != b"ready"]
    if len(out) != 1:
        return None, "LKH returned no tour"
    tour = np.array(out[0].split(), dtype=np.int64)
    if len(tour) != n:  # seen under heavy load at a 10 s budget on a 2,000-city instance: an empty line
        # (and an empty tour when LKH's limit ran out before its first run): take its file if complete
        written = _read_tour_file(tour_file, n)
        if written is not None:
            return written, ""
        return None, f"LKH returned {len(tour)} of {n} cities"
    return tour, ""


def _input_files(candidate_file: str | None, penalty_file: str | None) -> dict[str, str] | None:
    """The input files ``run_lkh`` writes for LKH: {parameter: text}, or None."""
    files = {"CANDIDATE_FILE": candidate_file, "PI_FILE": penalty_file}
    return {key: text for key, text in files.items() if text is not None} or None


def _send(pipe, message: bytes) -> None:
    """Write ``message`` to the child's stdin and close it; a child that died early just ends the write."""
    try:
        pipe.write(message)
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass


def lkh_solve(instance, time_limit: float, seed: int = 0, runs: int = 10, candidates: str | None = None,
              candidate_file: str | None = None, subgradient: bool = True, penalties: np.ndarray | None = None):
    """Best tour of ``runs`` LKH-3 runs (seeded), stopped at ``time_limit`` seconds.

    Coordinate instances are sent as coordinates (any size; see the module docstring), matrix instances
    as an integer matrix, scaled exactly when the instance's convention allows it (see ``integer_scale``).
    ``candidates`` forces one of ``CANDIDATE_SETS`` for a coordinate instance (default: ``candidate_set``
    by size and budget). Returns None with ``info["status"]`` saying why when LKH gave no tour in time.

    ``candidate_file``: the text of an LKH ``CANDIDATE_FILE`` (1-based ``id dad count (cand alpha)*`` lines,
    e.g. ``ncosolve.baselines.lkh_gnn.candidate_file_text``) giving a coordinate instance's candidate edges
    instead of ``candidates``. With ``subgradient`` (LKH's default) LKH's ascent runs on those edges as its
    sparse graph (they are read as a POPMUSIC set would be), then ranks them, the 1-tree's edges and the
    transitive ones by their alpha-values, keeping the file's smallest count per node; with ``subgradient``
    False, ``SUBGRADIENT = NO`` and ``PI_FILE = 0``: no ascent, penalties 0, the file's edges in its order.
    Without a candidate file, ``subgradient`` False only turns LKH's ascent off. ``penalties``: node penalties
    pi (n floats, in the instance's length units, e.g. a network's prediction) that replace the ascent's, for a
    coordinate instance with ``subgradient`` False: LKH reads them as a ``PI_FILE`` (instead of ``PI_FILE = 0``
    with a candidate file) and, without one, builds its candidate set and alpha order under them.

    Raises
    ------
    NcoError : a matrix instance has more than ``MAX_NODES`` nodes, ``runs`` is not a positive integer,
        ``candidates`` is not one of ``CANDIDATE_SETS``, or a candidate file is given for a matrix instance.
    """
    start = time.perf_counter()
    n = instance.n
    coordinates = instance.coords is not None and instance.edge_weight_type != "EXPLICIT"
    if not coordinates and n > MAX_NODES:
        raise NcoError(f"lkh: a distance-matrix instance of {n} nodes is above its limit of {MAX_NODES} "
                       "(sent to LKH as a dense matrix); give coordinates, or use 'ortools'")
    if not isinstance(runs, (int, np.integer)) or runs < 1:
        raise NcoError(f"lkh: runs must be a positive integer, got {runs!r}")
    if candidates is not None and candidates not in CANDIDATE_SETS:
        raise NcoError(f"lkh: candidates must be one of {CANDIDATE_SETS}, got {candidates!r}")
    if candidate_file is not None and not coordinates:
        raise NcoError("lkh: a candidate file is for coordinate instances only")
    if penalties is not None and (not coordinates or subgradient or len(penalties) != n):
        raise NcoError("lkh: penalties replace the ascent on a coordinate instance: give subgradient=False and "
                       "one penalty per node")
    if n <= 3:  # at most two tours exist (the two directions): take the shorter
        tours = [np.arange(n), np.arange(n)[::-1]]
        return min(tours, key=instance.path_length), {"status": "trivial"}
    if coordinates:
        problem, lkh_type, points, scale, exact = coordinate_problem(instance)
        chosen = "file" if candidate_file is not None else candidates or candidate_set(n, time_limit)
        info = {"scale": scale, "exact_scaling": exact, "runs": runs, "edge_weight_type": lkh_type,
                "candidates": chosen}
        extra = (_candidate_file_params(candidate_file, subgradient, penalties is not None) if chosen == "file"
                 else _CANDIDATE_PARAMS[chosen])
        penalty_file = None if penalties is None else penalty_file_text(np.asarray(penalties) * PRECISION * scale)
    else:
        scale, exact = integer_scale(instance, LKH_MAX_VALUE)
        problem = matrix = to_int(instance.distance_matrix(), scale)
        info = {"scale": scale, "exact_scaling": exact, "runs": runs, "edge_weight_type": "EXPLICIT",
                "candidates": "alpha"}
        extra, penalty_file = "", None
    if not subgradient and candidate_file is None:
        extra += "SUBGRADIENT = NO\n"
    info["subgradient"] = bool(subgradient)
    if time.perf_counter() - start >= time_limit:  # starting LKH now could only overrun
        return None, {**info, "status": "no time left for LKH's preprocessing after building its input"}
    lkh_seed = seed % (2**31 - 1) + 1  # LKH reads SEED = 0 as "seed from the clock"
    tour, reason = run_lkh(problem, runs, lkh_seed, finish_by=start + time_limit - _FINISH_EARLY_S,
                           kill_at=start + 1.05 * time_limit + 0.1,  # 0.4 s left to reap it
                           extra_params=extra, n=n,
                           files=_input_files(candidate_file, penalty_file))
    info["lkh_seed"] = lkh_seed
    if tour is None:
        info["status"] = reason
        return None, info
    info["status"] = reason or "done"
    if coordinates:
        nxt = np.roll(tour, -1)
        if lkh_type == "FLOOR_2D":
            edges = np.floor(coord_distances(points, tour, nxt, "EXACT_2D"))
        else:
            edges = coord_distances(points, tour, nxt, lkh_type)
        info["objective_scaled"] = int(np.sum(np.rint(edges).astype(np.int64)))
    else:
        info["objective_scaled"] = _tour_length(matrix, tour)
    return np.roll(tour, -int(np.argmax(tour == 0))), info
