"""Gymnasium environments, registered as ``ncosolve/<Name>-v0`` on import.

``gym.make("ncosolve/TSP-v0", size=50)``; routing envs take ``size``, ``distribution``, ``matrix`` and
``render_mode`` (see ``ncosolve.envs.tsp`` and ``ncosolve.envs.vrp``). Bump ``-vN`` when dynamics change.
"""

from gymnasium import register

register(id="ncosolve/TSP-v0", entry_point="ncosolve.envs.tsp:TSPEnv",
         kwargs={"size": 20, "distribution": "uniform"})
register(id="ncosolve/CVRP-v0", entry_point="ncosolve.envs.vrp:CVRPEnv",
         kwargs={"size": 20, "distribution": "uniform"})
register(id="ncosolve/CVRPTW-v0", entry_point="ncosolve.envs.vrp:CVRPTWEnv",
         kwargs={"size": 20, "distribution": "uniform"})
register(id="ncosolve/MAPF-v0", entry_point="ncosolve.envs.mapf:MAPFEnv")
register(id="ncosolve/NetworkDesign-v0", entry_point="ncosolve.envs.network_design:NetworkDesignEnv")
