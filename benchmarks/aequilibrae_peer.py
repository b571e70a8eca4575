"""AequilibraE side of the UE comparison: a long-lived server in AequilibraE's own venv (not with ncosolve).

    AEQ_SHOW_PROGRESS=FALSE OMP_NUM_THREADS=1 /work/venvs/aequilibrae/bin/python benchmarks/aequilibrae_peer.py

``benchmarks/network_design.py --parts aequilibrae`` starts it and talks to it in JSON lines, one request on
stdin, one answer on stdout (anything AequilibraE prints goes to stderr):

- ``{"cmd": "network", "init", "term" (0-based), "free_flow_time", "b", "power", "capacity" (L,), "demand" (Z, Z),
  "block_centroids", "closed": "penalty" | "exclude"}`` builds AequilibraE's ``Graph`` of every link (candidate
  links included) and prepares it once, with the zones as centroids (through traffic at centroids blocked when
  ``block_centroids``), the demand as an in-memory ``AequilibraeMatrix``; answers ``{"build_s": ...}``.
- ``{"cmd": "solve", "capacity" (L,), "is_open" (L,), "tol"}`` solves one design's user equilibrium with
  AequilibraE's bi-conjugate Frank-Wolfe (``bfw``, BPR ``t0 (1 + b (x/c)^power)``, one core) to relative gap
  ``tol`` on that graph. Only the link fields change between designs: the capacities, written into
  ``graph.graph`` and read by ``set_capacity_field``. Closed links (candidates not built) are, with
  ``"penalty"`` (default), given a free-flow time of ``CLOSED_TIME`` (written the same way and read by
  ``set_time_field``), so no all-or-nothing load ever uses them and their flow stays exactly 0, as if
  removed, with no graph rebuild; with ``"exclude"``, removed through ``Graph.exclude_links`` (AequilibraE's
  call for it, which re-prepares the graph) on a copy of the prepared graph. Answers the design's TTT
  (sum of flow x BPR time over its links), iterations, final relative gap and the solve's own wall and CPU
  seconds (field updates, assignment set-up and ``execute``; not the JSON transport).
- ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time

import numpy as np

if __name__ == "__main__" and {"-h", "--help"} & set(sys.argv[1:]):
    print(__doc__)
    sys.exit(0)
try:
    import pandas as pd
    from aequilibrae.matrix import AequilibraeMatrix
    from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass
except ImportError as err:
    sys.exit(f"aequilibrae_peer.py runs with the python of AequilibraE's own venv ({err}); "
             "`benchmarks/network_design.py --parts aequilibrae` starts it. See --help.")

CLOSED_TIME = 1e9  # free-flow time of a closed link: far above any path's time, so all-or-nothing never uses it


class Peer:
    def __init__(self, msg: dict) -> None:
        tick = time.perf_counter()
        self.t0 = np.asarray(msg["free_flow_time"], np.float64)
        self.b = np.asarray(msg["b"], np.float64)
        self.power = np.asarray(msg["power"], np.float64)
        self.closed = msg.get("closed", "penalty")
        links = len(self.t0)
        self.network = pd.DataFrame({
            "link_id": np.arange(1, links + 1), "a_node": np.asarray(msg["init"]) + 1,
            "b_node": np.asarray(msg["term"]) + 1, "direction": 1, "free_flow_time": self.t0,
            "capacity": np.asarray(msg["capacity"], np.float64), "b": self.b, "power": self.power})
        demand = np.asarray(msg["demand"], np.float64)
        zones = demand.shape[0]
        self.centroids = np.arange(1, zones + 1, dtype=np.int64)
        self.block = bool(msg.get("block_centroids", False))
        self.graph = self._prepared(self.network)
        self.matrix = AequilibraeMatrix()
        self.matrix.create_empty(zones=zones, matrix_names=["demand"], memory_only=True)
        self.matrix.index[:] = self.centroids
        self.matrix.matrices[:, :, 0] = demand
        self.matrix.computational_view(["demand"])
        self.build_s = time.perf_counter() - tick

    def _prepared(self, network: pd.DataFrame) -> Graph:
        graph = Graph()
        graph.network = network.copy()
        graph.prepare_graph(self.centroids)
        graph.set_graph("free_flow_time")
        graph.set_skimming([])
        graph.set_blocked_centroid_flows(self.block)
        return graph

    def solve(self, msg: dict) -> dict:
        tick, cpu = time.perf_counter(), time.process_time()
        cap = np.asarray(msg["capacity"], np.float64)
        is_open = np.asarray(msg["is_open"], bool)
        graph = self.graph
        if self.closed == "exclude" and not is_open.all():
            graph = copy.deepcopy(self.graph)
            graph.exclude_links(list(np.flatnonzero(~is_open) + 1))
        rows = graph.graph["link_id"].to_numpy() - 1  # prepared-graph row -> our link index
        graph.graph["capacity"] = cap[rows]
        closed_time = CLOSED_TIME if self.closed == "penalty" else self.t0[rows]
        graph.graph["free_flow_time"] = np.where(is_open[rows], self.t0[rows], closed_time)
        assignment = TrafficAssignment()
        assignment.set_classes([TrafficClass("car", graph, self.matrix)])
        assignment.set_cores(1)  # before set_algorithm, which copies the core count into the algorithm's state
        assignment.set_vdf("BPR")
        assignment.set_vdf_parameters({"alpha": "b", "beta": "power"})
        assignment.set_capacity_field("capacity")
        assignment.set_time_field("free_flow_time")
        assignment.set_algorithm("bfw")
        assignment.max_iter = int(msg.get("max_iter", 10_000))
        assignment.rgap_target = float(msg["tol"])
        assert assignment.assignment.cores == 1
        assignment.execute(log_specification=False)
        seconds, cpu_seconds = time.perf_counter() - tick, time.process_time() - cpu
        flows = np.zeros(len(cap))
        res = assignment.results()  # indexed by link_id
        flows[res.index.to_numpy() - 1] = res["PCE_AB"].to_numpy()
        if np.any(flows[~is_open] > 0):
            raise RuntimeError("a closed link carries flow")
        ttt = float(np.sum(flows * self.t0 * (1 + self.b * (flows / cap) ** self.power)))
        report = assignment.assignment.convergence_report
        return {"ttt": ttt, "iterations": int(report["iteration"][-1]), "rgap": float(report["rgap"][-1]),
                "seconds": seconds, "cpu_seconds": cpu_seconds}


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # whatever AequilibraE prints stays off the answer channel
    peer = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "quit":
            break
        if msg["cmd"] == "network":
            peer = Peer(msg)
            answer = {"build_s": peer.build_s, "links": int(peer.graph.num_links),
                      "compact_links": int(peer.graph.compact_num_links)}
        else:
            answer = peer.solve(msg)
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
