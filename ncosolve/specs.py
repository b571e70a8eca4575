"""The one place that says which methods and benchmark suites ship with ncosolve.

Each spec names its code as ``"module:function"``; nothing here imports a solver or reads a data file, so
listing them is free. Adding a method is one ``MethodSpec`` line here (or, outside ncosolve, one entry point
in the group ``ncosolve.methods``). Fields: ``ncosolve.catalog.MethodSpec`` / ``SuiteSpec``.
"""

from __future__ import annotations

from ncosolve.catalog import MethodSpec as M, SuiteSpec as S

_B = "ncosolve.baselines."
_P = "ncosolve.policies."
_S = "ncosolve.search.methods:"
ROUTING = ("tsp", "cvrp", "cvrptw")
LIFELONG = ("mapf", "mapf-lifelong")
_EQ = "ncosolve.problems.network:prepare_equilibrium"
_MCTS = "heatmap-guided MCTS over k-opt moves, "

METHODS = (
    # routing: classical
    M("ortools", ROUTING, _B + "ortools_routing:ortools_solve", "OR-Tools routing: path-cheapest-arc start, then "
      "guided local search until the time limit", default_time_limit=10.0, strength=20),
    M("lkh", ("tsp",), _B + "lkh:lkh_solve", "LKH-3 via elkai (symmetric and asymmetric TSP)", requires=("elkai",),
      extra="lkh", default_time_limit=10.0, strength=30, prepare=_B + "lkh:prepare_lkh"),
    M("lkh-gnn", ("tsp",), _B + "lkh_gnn:lkh_gnn", "LKH-3 via elkai on a learned candidate set (NeuroLKH-style): "
      "the shipped GNN heatmap's symmetrized top-5 edges per city and 2 nearest per quadrant as LKH's "
      "CANDIDATE_FILE (options candidates=, quadrant=; subgradient=False: no ascent; with penalties=True, learned "
      "node penalties instead; symmetric coordinate TSP)", requires=("elkai",), extra="lkh",
      default_time_limit=10.0, prepare=_B + "lkh_gnn:prepare_lkh_gnn"),
    M("pyvrp", ("cvrp", "cvrptw"), _B + "pyvrp_solver:pyvrp_solve", "PyVRP iterated local search (state of the art "
      "for CVRP/VRPTW) until the time limit", requires=("pyvrp",), extra="pyvrp", default_time_limit=10.0,
      strength=30),
    M("nearest-neighbor", ROUTING, _B + "constructive:nearest_neighbor", "Nearest-neighbour construction "
      "(capacity and time-window aware)", strength=1, prepare=_B + "constructive:prepare_constructive"),
    M("insertion", ROUTING, _B + "constructive:insertion", "Farthest, random or cheapest insertion (option "
      "rule='farthest'|'random'|'cheapest')", strength=5, prepare=_B + "constructive:prepare_constructive"),
    M("2opt", ROUTING, _B + "local_search:two_opt", "Insertion or nearest-neighbour start + numba 2-opt / Or-opt "
      "local search (CVRP, CVRPTW: within routes, after PyVRP's relocate / swap / 2-opt* between them)", default_time_limit=10.0, strength=10, prepare=_B + "local_search:prepare_two_opt"),
    # routing: search and learned
    M("mcts", ("tsp",), _S + "mcts_softdist", _MCTS + "softdist heatmap by default (heatmap=; numba, sparse; "
      "symmetric TSP)", default_time_limit=10.0, prepare=_S + "prepare_mcts"),
    M("mcts-knn", ("tsp",), _S + "mcts_knn", _MCTS + "parameter-free knn-prior heatmap (numba, sparse; symmetric "
      "TSP)", default_time_limit=10.0, prepare=_S + "prepare_mcts_knn"),
    M("mcts-gnn", ("tsp",), _S + "mcts_gnn", _MCTS + "learned edge-gated GNN heatmap on the k-NN graph (torch "
      "inference inside the budget; numba, sparse; symmetric TSP)", default_time_limit=10.0,
      prepare=_S + "prepare_mcts_gnn"),
    M("attention", ("tsp", "cvrp", "cvrptw"), _P + "methods:attention_solve", "Pair-aware attention policy (POMO-style), "
      "greedy multi-start + x8 augmentation; shipped checkpoint of the nearest size", default_time_limit=10.0,
      strength=2, prepare=_P + "methods:prepare_attention"),
    M("attention-sample", ("tsp", "cvrp", "cvrptw"), _P + "methods:attention_sample_solve", "Pair-aware attention policy, "
      "multi-start sampling until the time limit", default_time_limit=10.0, strength=2,
      prepare=_P + "methods:prepare_attention"),
    M("attention+2opt", ("tsp", "cvrp", "cvrptw"), _P + "methods:attention_2opt_solve", "Pair-aware attention policy "
      "(greedy multi-start + x8 augmentation), then 2opt's local search on its best distinct solutions in turn "
      "until the time limit", default_time_limit=10.0, strength=3,
      prepare=_P + "methods:prepare_attention_2opt"),
    M("rl4co-pomo", ("tsp", "cvrp"), _P + "rl4co_pomo:rl4co_pomo_solve", "rl4co's POMO (its attention model, "
      "REINFORCE with shared baseline), multi-start greedy + x8 augmentation; shipped checkpoint of the nearest "
      "size (Euclidean only)", requires=("rl4co",), extra="rl4co", default_time_limit=10.0,
      prepare=_P + "rl4co_pomo:prepare_rl4co"),
    # MAPF
    M("mapf-prioritized", LIFELONG, _B + "mapf_prioritized:solve_prioritized", "prioritized planning with "
      "space-time A*, random restarts; windowed replanning (RHCR-style) for lifelong", default_time_limit=10.0,
      strength=1),
    M("mapf-pibt", LIFELONG, _B + "mapf_pibt:solve_pibt", "PIBT: priority inheritance with backtracking, one step "
      "at a time", default_time_limit=10.0, strength=1, prepare=_B + "mapf_pibt:prepare_pibt"),
    M("mapf-lacam", ("mapf",), _B + "mapf_lacam:solve_lacam", "LaCAM: complete configuration search with PIBT "
      "successors", default_time_limit=10.0, strength=3, prepare=_B + "mapf_lacam:prepare_lacam"),
    M("mapf-cbs", ("mapf",), _B + "mapf_cbs:solve_cbs", "Conflict-Based Search: optimal sum of costs, up to 10 "
      "agents", default_time_limit=10.0, strength=2),
    M("mapf-cpsat", ("mapf",), _B + "mapf_cpsat:solve_cpsat", "exact CP-SAT model on the time-expanded graph (tiny "
      "instances)", requires=("ortools",), default_time_limit=30.0),
    M("mapf-learned", LIFELONG, _P + "mapf_methods:solve_learned", "Follower-style policy: per-agent planning on a "
      "congestion-aware cost map, windowed PBS over all agents when it finds collision-free windows, otherwise a "
      "shared PPO-trained network picks each move and a PIBT collision shield (CS-PIBT) resolves conflicts; "
      "shipped checkpoint (pbs_window=0: the network alone)", default_time_limit=10.0,
      prepare=_P + "mapf_methods:prepare_learned"),
    # network design
    M("ndp-exact", ("ndp",), _B + "ndp_exact:ndp_exact", "enumerate every affordable design at user equilibrium "
      "(up to 16 candidates)", default_time_limit=600.0, strength=20, prepare=_EQ),
    M("ndp-sorb", ("ndp",), _B + "ndp_sorb:ndp_sorb", "system-optimum relaxation branch and bound (OR-Tools SCIP "
      "MIP bound, designs checked at user equilibrium)", default_time_limit=300.0, strength=15, prepare=_EQ),
    M("ndp-ga", ("ndp",), _B + "ndp_ga:ndp_ga", "genetic algorithm over designs, fitness = TTT at user "
      "equilibrium", default_time_limit=60.0, strength=30, prepare=_EQ),
    M("ndp-greedy", ("ndp",), _B + "ndp_greedy:ndp_greedy", "greedy: add the affordable candidate saving most "
      "travel time per unit cost", default_time_limit=60.0, strength=10, prepare=_EQ),
    M("ndp-surrogate-ga", ("ndp",), _P + "ndp_surrogate:ndp_surrogate_ga", "GA with a GNN surrogate of "
      "equilibrium flows as fitness; the best designs re-scored at true user equilibrium", default_time_limit=60.0,
      strength=25, prepare=_P + "ndp_surrogate:prepare_surrogate"),
    M("ndp-rl", ("ndp",), _P + "ndp_rl:ndp_rl", "RL policy (GNN over the network, REINFORCE) adding candidates one "
      "at a time in the NetworkDesign env; greedy rollout, then sampled ones until the time limit",
      default_time_limit=30.0, strength=5, prepare=_P + "ndp_rl:prepare_ndp_rl"),
)

_R = "ncosolve.suites.routing:"
_L = "ncosolve.suites.tsp_large:"
_MA = "ncosolve.suites.mapf:"
_N = "ncosolve.suites.network:"
_OPT = "proven optima"
_SOL = "best-known solutions (.sol)"
_STORED = "stored"  # the text comes from data/references/<suite>.json (ncosolve.references.reference_text)

SUITES = (
    S("tsplib", "tsp", "51 TSPLIB EUC_2D instances, 51-13509 nodes", _OPT, _R + "tsplib", (None,),
      _R + "file_references"),
    S("tsplib-200", "tsp", "TSPLIB instances of at most 200 nodes", _OPT, _R + "tsplib", (200,),
      _R + "file_references"),
    S("tsplib-1000", "tsp", "TSPLIB instances of at most 1000 nodes", _OPT, _R + "tsplib", (1000,),
      _R + "file_references"),
    *(S(f"cvrplib-{s}", "cvrp", f"CVRPLIB set {s}", _SOL, _R + "cvrplib", (s,), _R + "file_references")
      for s in "ABPX"),
    S("solomon", "cvrptw", "Solomon VRPTW C1, C2, R2, RC1", _SOL, _R + "solomon", ("",), _R + "file_references"),
    *(S(f"solomon-{c}", "cvrptw", f"Solomon VRPTW class {c}", _SOL, _R + "solomon", (c,), _R + "file_references")
      for c in ("C1", "C2", "R2", "RC1")),
    S("quick", "routing", "8 small TSPLIB / CVRPLIB / Solomon instances for smoke runs",
      "optima / best-known solutions", _R + "quick", (), _R + "file_references"),
    *(S(name, problem, f"{count} uniform {size}-{'node' if problem == 'tsp' else 'customer'} instances, Kool et al. "
        "draws (seed 1234), EXACT_2D", _STORED, _R + "generated", (name,), "ncosolve.references:stored_values")
      for name, (problem, size, count) in (
          ("tsp50-uniform", ("tsp", 50, 32)), ("tsp100-uniform", ("tsp", 100, 32)),
          ("tsp500-uniform", ("tsp", 500, 16)), ("tsp1000-uniform", ("tsp", 1000, 16)),
          ("cvrp50-uniform", ("cvrp", 50, 16)), ("cvrp100-uniform", ("cvrp", 100, 16)))),
    *(S(name, "tsp", f"{count} uniform {name.split('-')[0][3:]}-city instances (Fu et al. 2021), EXACT_2D",
        f"mean of {what} ({mean}), given to every instance: average the gaps", _L + "load", (name,),
        _L + "references")
      for name, count, mean, what in (("tsp500-fu", 128, 16.5458, "Concorde optima"),
                                      ("tsp1000-fu", 128, 23.1182, "Concorde optima"),
                                      ("tsp10000-fu", 16, 71.7778, "LKH-3 tours"))),
    S("mapf-movingai", "mapf", "7 one-shot MAPF instances on shipped MovingAI maps: random-32-32-10-random-1.scen's "
      "first 10 / 20 / 30 agents, and seeded random scenarios (read_instance(map, agents, seed=0)) on empty-16-16 "
      "(16 agents), maze-32-32-2 (8), room-32-32-4 (12), warehouse-10-20-10-2-1 (20); objective: sum of costs, "
      "4-connected moves and waits (the .scen column of octile lengths is not used)", _STORED, _MA + "movingai",
      ("mapf-movingai",), "ncosolve.references:stored_values"),
    S("mapf-lifelong", "mapf-lifelong", "3 lifelong MAPF instances on shipped MovingAI maps (random-32-32-10, "
      "room-32-32-4 and warehouse-10-20-10-2-1; 16 / 12 / 16 agents, horizon 64, starts and goal streams drawn with "
      "seed 0); objective: throughput, goals reached per timestep (higher is better)", _STORED, _MA + "lifelong",
      ("mapf-lifelong",), "ncosolve.references:stored_values", maximise=True),
    S("ndp-synthetic", "ndp", "5 network design instances on shipped networks: Braess (1 candidate: the shortcut), "
      "DNDP on a 4x4 grid city (10 new streets) and a 2-ring 6-spoke city (8), lane swaps on a ring city (12), "
      "lane additions on a 3x3 grid (24); objective: total travel time at user equilibrium", _STORED,
      _N + "synthetic", ("ndp-synthetic",), "ncosolve.references:stored_values"),
    S("dndp-siouxfalls", "ndp", "8 SiouxFalls DNDP instances SF_DNDP_10_1..8 (Rey 2019; 10 candidate links each, "
      "budget half their total cost); objective: total travel time at user equilibrium. NOT SHIPPED "
      "(TransportationNetworks licence, academic use only): read from $NCOSOLVE_DATA or ../shared/data (dndp/ and "
      "tntp/SiouxFalls_trips.tntp)", _STORED, _N + "dndp_siouxfalls", ("dndp-siouxfalls",),
      "ncosolve.references:stored_values"),
)
