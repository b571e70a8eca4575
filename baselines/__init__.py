"""Classical solvers behind the method interface; importing this module registers them."""

from ncosolve.baselines import constructive, lkh, local_search, ortools_routing, pyvrp_solver  # noqa: F401
from ncosolve.baselines import mapf_cbs, mapf_cpsat, mapf_lacam, mapf_pibt, mapf_prioritized  # noqa: F401
from ncosolve.baselines import ndp_exact, ndp_ga, ndp_greedy, ndp_sorb  # noqa: F401
