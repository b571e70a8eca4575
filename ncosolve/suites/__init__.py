"""The loaders of the shipped benchmark suites, one module per family; their specs are in ``ncosolve.specs``."""
