"""Static user-equilibrium traffic assignment in JAX (bi-conjugate Frank-Wolfe, jit-compiled, vmap-batched)."""

from ncosolve.traffic.solver import equilibrium, equilibrium_batch, topology
from ncosolve.traffic.types import EquilibriumResult

__all__ = ["EquilibriumResult", "equilibrium", "equilibrium_batch", "topology"]
