"""JAX's compiled programs kept on disk, as numba's ``cache=True`` keeps the kernels: importing this module (the
package does, before anything of it compiles) points JAX's persistent compilation cache at ``cache_folder()``."""

import os
from collections.abc import Mapping
from pathlib import Path

import jax


def cache_folder(environ: Mapping[str, str] = os.environ) -> str | None:
    """Where ncosolve keeps JAX's compiled programs: ``NCOSOLVE_JAX_CACHE`` (empty: nowhere), by default
    ``$XDG_CACHE_HOME/ncosolve/jax`` (``~/.cache/ncosolve/jax``)."""
    default = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ncosolve" / "jax"
    return environ.get("NCOSOLVE_JAX_CACHE", str(default)) or None


def _persistent_compilation_cache() -> None:
    """Keep the compiled UE solver on disk, as numba's ``cache=True`` keeps the kernels: JAX compiles it once per
    network shape (3-5 s on 2 cores), and a new process (a leaderboard worker, the next CLI call) then loads it in
    about 0.5 s. In ``cache_folder()``, at most 256 MiB, every program kept however quick its compilation; a cache
    folder the user set for JAX itself wins, with the user's settings."""
    folder = cache_folder()
    if jax.config.jax_compilation_cache_dir or folder is None:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", 256 * 2**20)


_persistent_compilation_cache()
