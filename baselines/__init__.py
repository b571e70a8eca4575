"""Classical solvers behind the method interface; each module is imported when its method is first used
(the catalog in ``ncosolve.specs`` names them)."""
