"""Reading and writing instance and solution files (TSPLIB, VRPLIB/CVRPLIB, Solomon, MovingAI, TNTP, DNDP)."""

from ncosolve.io.readers import read_instance, read_solution, register_reader
from ncosolve.io.writers import write_instance, write_solution


__all__ = ["read_instance", "read_solution", "register_reader", "write_instance", "write_solution"]
