"""Gymnasium environments, registered as ``ncosolve/<Name>-v0`` on import."""
