"""AequilibraE side of the UE throughput comparison; runs in AequilibraE's own venv, not with ncosolve.

    AEQ_SHOW_PROGRESS=FALSE /work/venvs/aequilibrae/bin/python benchmarks/aequilibrae_peer.py designs.npz

Reads the arrays ``benchmarks/network_design.py`` writes (links 0-based ``init``/``term``, ``free_flow_time``,
``b``, ``power``, per-design ``capacity`` and ``is_open`` (B, L), ``demand`` (Z, Z), ``tol``), solves each
design's user equilibrium with AequilibraE's bi-conjugate Frank-Wolfe on one core to relative gap ``tol``
(closed links dropped, zones as centroids with no through traffic blocked), and prints one JSON object:
per-design TTT, iterations, relative gap, and the wall and CPU time of all designs (graph building included).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from aequilibrae.matrix import AequilibraeMatrix
from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass


def solve(data, row: int, matrix) -> dict:
    """UE of design ``row``."""
    keep = data["is_open"][row]
    links = pd.DataFrame({
        "link_id": np.arange(1, keep.sum() + 1), "a_node": data["init"][keep] + 1, "b_node": data["term"][keep] + 1,
        "direction": 1, "free_flow_time": data["free_flow_time"][keep], "capacity": data["capacity"][row][keep],
        "b": data["b"][keep], "power": data["power"][keep]})
    graph = Graph()
    graph.network = links
    graph.prepare_graph(np.arange(1, data["demand"].shape[0] + 1, dtype=np.int64))
    graph.set_graph("free_flow_time")
    graph.set_skimming([])
    graph.set_blocked_centroid_flows(False)
    assignment = TrafficAssignment()
    assignment.set_classes([TrafficClass("car", graph, matrix)])
    assignment.set_vdf("BPR")
    assignment.set_vdf_parameters({"alpha": "b", "beta": "power"})
    assignment.set_capacity_field("capacity")
    assignment.set_time_field("free_flow_time")
    assignment.set_algorithm("bfw")
    assignment.set_cores(1)
    assignment.max_iter = 10_000
    assignment.rgap_target = float(data["tol"])
    assignment.execute(log_specification=False)
    flows = assignment.results()["PCE_AB"].to_numpy()  # results are indexed by link_id, in order
    cap, t0 = data["capacity"][row][keep], data["free_flow_time"][keep]
    ttt = float(np.sum(flows * t0 * (1 + data["b"][keep] * (flows / cap) ** data["power"][keep])))
    report = assignment.assignment.convergence_report
    return {"ttt": ttt, "iterations": int(report["iteration"][-1]), "rgap": float(report["rgap"][-1])}


def main() -> None:
    data = dict(np.load(sys.argv[1]))
    zones = data["demand"].shape[0]
    matrix = AequilibraeMatrix()
    matrix.create_empty(zones=zones, matrix_names=["demand"], memory_only=True)
    matrix.index[:] = np.arange(1, zones + 1)
    matrix.matrices[:, :, 0] = data["demand"]
    matrix.computational_view(["demand"])
    solve(data, 0, matrix)  # warm-up (imports, first allocations), not timed
    tick, cpu = time.perf_counter(), time.process_time()
    rows = [solve(data, r, matrix) for r in range(len(data["capacity"]))]
    print(json.dumps({"seconds": time.perf_counter() - tick, "cpu_seconds": time.process_time() - cpu, "designs": rows}))


if __name__ == "__main__":
    main()
