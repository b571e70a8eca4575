"""Static user-equilibrium traffic assignment in JAX (bi-conjugate Frank-Wolfe, jit-compiled, vmap-batched)."""

from ncosolve.traffic.compile_cache import cache_folder  # first: sets JAX's cache before any compilation
from ncosolve.traffic.solver import equilibrium, equilibrium_batch, topology
from ncosolve.traffic.types import EquilibriumResult

__all__ = ["EquilibriumResult", "cache_folder", "equilibrium", "equilibrium_batch", "topology"]
