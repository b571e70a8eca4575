"""System-optimum-relaxation branch and bound (SORB) for network design, with OR-Tools' MIP solver (SCIP).

For every design the system-optimum (SO) total travel time is at most the user-equilibrium (UE) one, so
min over designs of SO TTT bounds the design problem from below. The SO problem over designs is a mixed-integer
program: origin-based link flows, one 0/1 variable per candidate, the budget, and each link's convex cost
x t(x) under-estimated by tangent lines (a piecewise-linear outer approximation, so the bound stays valid).
A link touched by candidates has one flow copy per combination of their choices (its capacity in that
combination), switched on by continuous weights that equal the product of the binaries.

The search is the SORB loop in its simplest correct form: solve the MIP for the design with the least
bound, score that design at true UE (the incumbent is the best of those), cut it off with a no-good
constraint, add tangents at the MIP's flows (Kelley cuts, tightening the bound), and repeat until the bound
reaches the incumbent (optimal at the UE tolerance) or the time limit. Simplified against a full SORB: SCIP
re-solves the MIP from scratch each round instead of one tree with the UE check in a callback, and the bound
is SO only (no UE-side cuts), so it enumerates designs in bound order and pays off when the SO bound
separates designs well.
"""

from __future__ import annotations

import time
from itertools import product

import numpy as np
from ortools.linear_solver import pywraplp

from ncosolve.baselines.ndp_exact import DesignScorer
from ncosolve.errors import NcoError
from ncosolve.problems.network import bpr_times

TANGENT_RATIOS = np.linspace(0.0, 3.0, 16)  # initial tangent points, as flow / capacity


def _cost(network, link: int, capacity: float, x):
    """x t(x) of ``link`` at capacity ``capacity`` and its derivative (BPR), for the tangent cuts."""
    t0, b, p = network.free_flow_time[link], network.b[link], network.power[link]
    slope = t0 * (1.0 + (p + 1.0) * b * (x / capacity) ** p)
    return x * bpr_times(x, capacity, t0, b, p), slope


class SORelaxation:
    """The SO-relaxation MIP of an ``NDPInstance`` in pywraplp (SCIP)."""

    def __init__(self, instance):

        self.instance = instance
        net = instance.network
        self.solver = solver = pywraplp.Solver.CreateSolver("SCIP")
        if solver is None:
            raise NcoError("ndp-sorb: OR-Tools was built without SCIP")
        k, m = instance.num_candidates, net.num_links
        demand = net.demand
        origins = np.flatnonzero(demand.sum(axis=1) > 0)
        total = float(demand.sum())
        self.y = [solver.BoolVar(f"y{j}") for j in range(k)]
        solver.Add(sum(float(c) * y for c, y in zip(instance.candidate_cost, self.y)) <= instance.budget * (1 + 1e-9))
        for j, kk in self._conflicting_pairs():
            solver.Add(self.y[j] + self.y[kk] <= 1)
        # Origin-based flows; links out of a no-through zone carry only that zone's own traffic.
        blocked = net.no_through()[net.init]
        flow = {}
        for o in origins:
            for a in range(m):
                ub = 0.0 if blocked[a] and net.init[a] != o else total
                flow[o, a] = solver.NumVar(0.0, ub, f"x{o}_{a}")
        zones = net.num_zones
        out_links = [np.flatnonzero(net.init == v) for v in range(net.num_nodes)]
        in_links = [np.flatnonzero(net.term == v) for v in range(net.num_nodes)]
        for o in origins:
            for v in range(net.num_nodes):
                supply = demand[o].sum() if v == o else -(demand[o, v] if v < zones else 0.0)
                solver.Add(sum(flow[o, a] for a in out_links[v]) - sum(flow[o, a] for a in in_links[v]) == supply)
        # Link states: each combination of the candidates touching a link, with its capacity (or closed).
        touching = [[] for _ in range(m)]
        for j, row in enumerate(instance.candidate_links):  # ndp-ls: donor and receiving link
            for a in row[row >= 0]:
                touching[a].append(j)
        self.states = []  # (link, capacity, flow var, cost var)
        cost_terms = []
        for a in range(m):
            cands = sorted(set(touching[a]))
            link_flow = sum(flow[o, a] for o in origins)
            combos = list(product((0, 1), repeat=len(cands)))
            weights = [solver.NumVar(0.0, 1.0, f"w{a}_{c}") for c in range(len(combos))] if cands else [None]
            if cands:
                solver.Add(sum(weights) == 1)
                for i, j in enumerate(cands):
                    solver.Add(sum(w for w, combo in zip(weights, combos) if combo[i]) == self.y[j])
            parts = []
            for w, combo in zip(weights, combos):
                design = np.zeros(k)
                design[cands] = combo
                cap, is_open = instance.link_arrays(design[None])
                if not is_open[0, a]:
                    continue
                x = solver.NumVar(0.0, total, f"xs{a}_{len(self.states)}")
                z = solver.NumVar(0.0, solver.infinity(), f"z{a}_{len(self.states)}")
                if w is not None:
                    solver.Add(x <= total * w)
                parts.append(x)
                cost_terms.append(z)
                self.states.append((a, float(cap[0, a]), x, z))
            solver.Add(link_flow == sum(parts))
        for a, cap, x, z in self.states:
            self.add_tangents(a, cap, x, z, cap * TANGENT_RATIOS)
        solver.Minimize(sum(cost_terms))

    def _conflicting_pairs(self) -> list[tuple[int, int]]:
        """Candidate pairs that may not be chosen together (ndp-ls: the two directions of one pair)."""
        inst = self.instance
        if inst.variant != "ndp-ls":
            return []
        donors = inst.candidate_links[:, 0]
        return [(j, int(r)) for j, rec in enumerate(inst.candidate_links[:, 1]) for r in np.flatnonzero(donors == rec)
                if j < r]

    def add_tangents(self, link: int, capacity: float, x, z, points) -> None:
        """z >= tangent of the link cost at each flow in ``points``."""
        values, slopes = _cost(self.instance.network, link, capacity, np.asarray(points, dtype=np.float64))
        for p, v, s in zip(points, values, slopes):
            self.solver.Add(z >= float(v - s * p) + float(s) * x)

    def solve(self, seconds: float) -> tuple[str, float, np.ndarray | None]:
        """(status, lower bound, design) of the MIP within ``seconds``; design None when none was found."""

        self.solver.SetTimeLimit(max(1, int(1000 * seconds)))
        status = self.solver.Solve()
        if status == pywraplp.Solver.INFEASIBLE:
            return "infeasible", np.inf, None
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            return "timeout", -np.inf, None
        bound = self.solver.Objective().BestBound()
        design = np.array([round(y.solution_value()) for y in self.y], dtype=np.int64)
        return ("optimal" if status == pywraplp.Solver.OPTIMAL else "feasible"), bound, design

    def cut_off(self, design: np.ndarray) -> None:
        """Exclude ``design`` (no-good cut) and tighten the cost cuts at the current flows (Kelley)."""
        flows = [(x.solution_value(), z.solution_value()) for _, _, x, z in self.states]  # before the model changes
        self.solver.Add(sum(1 - y if d else y for y, d in zip(self.y, design)) >= 1)
        for (a, cap, x, z), (flow, cost) in zip(self.states, flows):
            value, _ = _cost(self.instance.network, a, cap, np.array([flow]))
            if value[0] > cost * (1 + 1e-4) + 1e-9:
                self.add_tangents(a, cap, x, z, [flow])


def ndp_sorb(instance, time_limit: float, seed: int = 0, rel_tol: float = 1e-4):
    """Best design at true UE found by the SORB loop within ``time_limit``; optimal (``info["complete"]``) once
    the SO bound is within ``rel_tol`` of it.
    """
    deadline = time.perf_counter() + time_limit
    relax = SORelaxation(instance)
    scorer = DesignScorer(instance, deadline)
    # Each bound holds for the designs not yet cut off when it was computed, a superset of those left now,
    # so the best bound on what is left is the largest seen.
    best, best_ttt, bound, rounds, complete = None, np.inf, -np.inf, 0, False
    while time.perf_counter() < deadline:
        status, round_bound, design = relax.solve(deadline - time.perf_counter())
        bound = max(bound, round_bound)
        if status == "infeasible" or bound >= best_ttt * (1 - rel_tol):
            complete = True
            break
        if design is None:
            break
        if instance.feasible(design[None])[0]:  # SCIP's tolerances could let a design graze over the budget
            ttt = float(scorer(design[None])[0])
            rounds += 1
            if np.isnan(ttt):
                break
            if ttt < best_ttt:
                best, best_ttt = design, ttt
        relax.cut_off(design)
    if best is None:  # not even one round: the do-nothing design is always feasible
        best = np.zeros(instance.num_candidates, dtype=np.int64)
        best_ttt = float(scorer(best[None])[0])
    lower = min(bound, best_ttt)
    return best, {"rounds": rounds, "complete": complete, "ttt": best_ttt,
                  "lower_bound": float(lower) if np.isfinite(lower) else None}
