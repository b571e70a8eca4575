"""Reading and writing instance and solution files (TSPLIB, VRPLIB/CVRPLIB, Solomon)."""

from ncosolve.io.readers import read_instance, read_solution, register_reader
from ncosolve.io.writers import write_instance, write_solution

import ncosolve.io.movingai  # noqa: E402,F401  (registers the MovingAI .map/.scen reader)
import ncosolve.io.tntp  # noqa: E402,F401  (registers the TNTP / DNDP readers)

__all__ = ["read_instance", "read_solution", "register_reader", "write_instance", "write_solution"]
