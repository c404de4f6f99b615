"""Precision studies: which formats does a network need (issue 13, docs/study.md).

Sits after :mod:`fixsim.network` and :mod:`fixsim.verify` in the dataflow: a *point* is
a format assignment applied to a base spec (:mod:`.points`); each point is evaluated on
labelled frames against the float model (:mod:`.evaluate`) and costed by a documented
rough hardware model (:mod:`.cost`); :mod:`.executors` runs the points in process, on a
process pool or on Dask, with a content-hash cache (:mod:`.cache`) so an interrupted
sweep resumes; :mod:`.sweep` plans grids and the per-tensor bisection search and picks
the cheapest point meeting the targets; :mod:`.output` writes the tables, the Pareto
plots and the chosen spec; :mod:`.profile` measures value ranges and conversion events
of one bit-exact run.
"""

from .points import Point, base_assignment, grid_points, parse_overrides, tensor_names

__all__ = ["Point", "base_assignment", "grid_points", "parse_overrides", "tensor_names"]
