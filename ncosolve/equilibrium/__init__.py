"""Static user-equilibrium traffic assignment in JAX (bi-conjugate Frank-Wolfe, jit-compiled, vmap-batched)."""

from ncosolve.equilibrium.solver import equilibrium, equilibrium_batch, topology
from ncosolve.equilibrium.types import EquilibriumResult

__all__ = ["EquilibriumResult", "equilibrium", "equilibrium_batch", "topology"]
