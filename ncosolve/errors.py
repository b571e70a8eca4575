"""The errors ncosolve raises on purpose; catch ``NcoError`` to catch them all."""

from __future__ import annotations


class NcoError(Exception):
    """Base of every error the library raises deliberately."""


class InvalidInstance(NcoError, ValueError):
    """Bad instance data or an unreadable instance file; the message names the field."""


class InfeasibleSolution(NcoError):
    """A solution that breaks a constraint of its instance; the message says which."""


class UnknownMethod(NcoError, ValueError):
    """A method name that is not registered, or does not support the instance."""


class MissingDependency(NcoError, ImportError):
    """An optional dependency a method needs is not installed; names the extra."""
