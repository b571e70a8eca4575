"""Gymnasium environments, registered as ``ncosolve/<Name>-v0`` on import.

``gym.make("ncosolve/TSP-v0", size=50)``; routing envs take ``size``, ``distribution``, ``matrix`` and
``render_mode`` (see ``ncosolve.envs.tsp`` and ``ncosolve.envs.vrp``), and have a batched form in torch,
``gym.make_vec("ncosolve/TSP-v0", num_envs=B, vectorization_mode="vector_entry_point", size=50)`` (see
``ncosolve.envs.vector``; it also takes ``tensors`` and ``device``). Both step the one routing core,
``ncosolve.envs.routing_core``, that the attention policies train on. Bump ``-vN`` when dynamics change.
"""

from gymnasium import register

for _name, _module, _env in [("TSP", "tsp", "TSPEnv"), ("CVRP", "vrp", "CVRPEnv"), ("CVRPTW", "vrp", "CVRPTWEnv")]:
    register(id=f"ncosolve/{_name}-v0", entry_point=f"ncosolve.envs.{_module}:{_env}",
             vector_entry_point=f"ncosolve.envs.vector:{_name}VectorEnv",
             kwargs={"size": 20, "distribution": "uniform"})
register(id="ncosolve/MAPF-v0", entry_point="ncosolve.envs.mapf:MAPFEnv")
register(id="ncosolve/NetworkDesign-v0", entry_point="ncosolve.envs.network_design:NetworkDesignEnv")
