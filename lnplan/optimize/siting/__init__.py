"""Exact facility-location models: maximal covering, p-median, p-center, set cover.

Pure models in the sense of ARCHITECTURE.md: arrays in (frozen problem dataclasses), a frozen
:class:`SitingResult` out. Every model accepts the same :class:`SiteRules` (existing sites
kept open, excluded candidates, capacities, per-group bounds, site costs with a budget) and
reports coverage per named group of demand points (e.g. city, county) without knowing any geography.

Which backend and why (each module states its formulation):

- :mod:`~lnplan.optimize.siting.coverage` — MCLP, partial set cover and equity: HiGHS MIP through
  OR-Tools (MathOpt) on a reduced, tight formulation (merged demand rows, dominated sites
  dropped, greedy + swap incumbent).
- :mod:`~lnplan.optimize.siting.median` — p-median and facility location: HiGHS MIP on the radius
  formulation (Elloumi 2010; García, Labbé, Marín 2011) with iterative level extension, cut off by
  greedy + fast interchange; with capacities the classic split-assignment formulation. p-center:
  a sequence of covering feasibility MIPs over the sorted distinct distances.

CP-SAT is not used: these models are large linear programs with a few hundred to a few thousand
binaries whose LP relaxations are tight, which is the ground of LP-based branch-and-bound; a naive
CP-SAT MCLP of 20,000 x 2,000 was far from optimal after 60 s where HiGHS proves optimality.
"""

from lnplan.optimize.siting._model import (
    Equity,
    GroupCoverage,
    SiteRules,
    SitingResult,
    SolveParams,
)
from lnplan.optimize.siting.coverage import (
    CoverageProblem,
    SetCoverProblem,
    solve_max_coverage,
    solve_set_cover,
)
from lnplan.optimize.siting.median import (
    CenterProblem,
    MedianProblem,
    solve_p_center,
    solve_p_median,
)

__all__ = [
    "CenterProblem",
    "CoverageProblem",
    "Equity",
    "GroupCoverage",
    "MedianProblem",
    "SetCoverProblem",
    "SiteRules",
    "SitingResult",
    "SolveParams",
    "solve_max_coverage",
    "solve_p_center",
    "solve_p_median",
    "solve_set_cover",
]
