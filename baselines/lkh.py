"""LKH-3 through elkai for the TSP (symmetric or asymmetric), run in a child process to honour the time limit.

LKH itself stops at its ``TOTAL_TIME_LIMIT``, but not during its preprocessing, and elkai holds the GIL
while it runs; so the search happens in a separate Python process that the parent kills if it overruns.
elkai's public ``DistanceMatrix.solve_tsp`` only takes ``runs``, so the child calls the function it
wraps, ``elkai._elkai.solve_problem(params, problem)``, to pass the LKH parameters ``SEED`` and
``TOTAL_TIME_LIMIT`` as well.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np

from ncosolve.baselines.scaling import integer_scale, to_int
from ncosolve.errors import NcoError
from ncosolve.registry import register

# elkai takes a dense matrix as text: beyond this many nodes the matrix alone costs seconds and
# hundreds of MB, so larger instances are refused rather than run badly. Near the limit LKH's
# preprocessing dominates (about 1 s at 1000 nodes, 8-10 s at 3000 on one core): give such instances
# budgets of 20 s or more, or the tour returned is barely improved.
MAX_NODES = 3000

# LKH stores costs as C ints multiplied by its PRECISION (100), so scaled lengths must stay near 1e7 or
# below; 1e6 leaves room for the transformed costs of asymmetric instances.
LKH_MAX_VALUE = 10**6

# LKH is asked to finish this many seconds before the budget ends (printing and collecting the tour).
_FINISH_EARLY_S = 0.05

_WORKER = r"""
import sys, time
import numpy as np
from elkai import _elkai

n, symmetric, runs, seed, deadline = sys.stdin.buffer.readline().split()
n = int(n)
matrix = np.frombuffer(sys.stdin.buffer.read(), dtype=np.int64).reshape(n, n)
problem = (f"TYPE : {'TSP' if symmetric == b'1' else 'ATSP'}\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
           "EDGE_WEIGHT_FORMAT : FULL_MATRIX\nEDGE_WEIGHT_SECTION\n"
           + "\n".join(" ".join(map(str, row)) for row in matrix.tolist()) + "\nEOF\n")
limit = max(0.01, float(deadline) - time.time())
params = f"RUNS = {int(runs)}\nSEED = {int(seed)}\nTOTAL_TIME_LIMIT = {limit:.3f}\nPROBLEM_FILE = :stdin:\n"
tour = _elkai.solve_problem(params, problem)
print(" ".join(str(i - 1) for i in tour), flush=True)
"""


def _tour_length(matrix: np.ndarray, tour: np.ndarray) -> int:
    return int(matrix[tour, np.roll(tour, -1)].sum())


def run_lkh(matrix: np.ndarray, runs: int, lkh_seed: int, finish_by: float,
            kill_at: float) -> tuple[np.ndarray | None, str]:
    """LKH-3's best tour over ``runs`` runs of an integer matrix, told to finish by ``finish_by``.

    ``lkh_seed`` is LKH's ``SEED`` (positive); times are ``time.perf_counter()`` values. The child is
    killed at ``kill_at`` if LKH overruns (its preprocessing ignores the limit). Returns the tour, or
    None and the reason (the child's error output, or the overrun).
    """
    n = len(matrix)
    wall_deadline = time.time() + (finish_by - time.perf_counter())
    symmetric = int(np.array_equal(matrix, matrix.T))
    message = f"{n} {symmetric} {runs} {lkh_seed} {wall_deadline!r}\n".encode() + matrix.astype(np.int64).tobytes()
    proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    writer = threading.Thread(target=_send, args=(proc.stdin, message), daemon=True)
    reader.start()
    writer.start()
    reason = ""
    try:
        proc.wait(timeout=max(0.0, kill_at - time.perf_counter()))
        if proc.returncode:
            reason = "LKH failed: " + proc.stderr.read().decode(errors="replace").strip()[-500:]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reason = "LKH did not finish its preprocessing within the time limit"
    writer.join()
    reader.join()
    proc.stdout.close()
    proc.stderr.close()
    if reason or len(out) != 1:
        return None, reason or "LKH returned no tour"
    tour = np.array(out[0].split(), dtype=np.int64)
    if len(tour) != n:  # seen under heavy load at a 10 s budget on a 2,000-city instance: an empty line
        return None, f"LKH returned {len(tour)} of {n} cities"
    return tour, ""


def _send(pipe, message: bytes) -> None:
    """Write ``message`` to the child's stdin and close it; a child that died early just ends the write."""
    try:
        pipe.write(message)
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass


@register("lkh", ("tsp",), f"LKH-3 via elkai (symmetric and asymmetric TSP, up to {MAX_NODES} nodes)",
          requires=("elkai",), extra="lkh", default_time_limit=10.0, strength=30)
def lkh_solve(instance, time_limit: float, seed: int = 0, runs: int = 10):
    """Best tour of ``runs`` LKH-3 runs (seeded), stopped by LKH at ``time_limit`` seconds.

    Lengths are scaled to integers exactly when the instance's convention allows it (see
    ``integer_scale``). Returns None with ``info["status"]`` saying why when LKH gave no tour in time.

    Raises
    ------
    NcoError : the instance has more than ``MAX_NODES`` nodes, or ``runs`` is not a positive integer.
    """
    start = time.perf_counter()
    n = instance.n
    if n > MAX_NODES:
        raise NcoError(f"lkh: {n} nodes is above its limit of {MAX_NODES} (elkai needs a dense matrix); "
                       "use 'ortools' for larger instances")
    if not isinstance(runs, (int, np.integer)) or runs < 1:
        raise NcoError(f"lkh: runs must be a positive integer, got {runs!r}")
    if n <= 3:  # at most two tours exist (the two directions): take the shorter
        tours = [np.arange(n), np.arange(n)[::-1]]
        return min(tours, key=instance.path_length), {"status": "trivial"}
    scale, exact = integer_scale(instance, LKH_MAX_VALUE)
    matrix = to_int(instance.distance_matrix(), scale)
    info = {"scale": scale, "exact_scaling": exact, "runs": runs}
    if time.perf_counter() - start >= time_limit:  # starting LKH now could only overrun
        return None, {**info, "status": "no time left for LKH's preprocessing after building the distance matrix"}
    lkh_seed = seed % (2**31 - 1) + 1  # LKH reads SEED = 0 as "seed from the clock"
    tour, reason = run_lkh(matrix, runs, lkh_seed, finish_by=start + time_limit - _FINISH_EARLY_S,
                           kill_at=start + 1.05 * time_limit + 0.1)  # 0.4 s left to reap it
    info["lkh_seed"] = lkh_seed
    if tour is None:
        info["status"] = reason
        return None, info
    info["status"] = "done"
    info["objective_scaled"] = _tour_length(matrix, tour)
    return np.roll(tour, -int(np.argmax(tour == 0))), info
