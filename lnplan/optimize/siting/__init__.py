"""Exact facility-location models: maximal covering, p-median, p-center, set cover.

Pure models in the sense of ARCHITECTURE.md: arrays in (frozen problem dataclasses), a frozen
:class:`SitingResult` out. Every model accepts the same :class:`SiteRules` (existing sites
kept open, excluded candidates, capacities, per-group bounds, site costs with a budget) and
reports coverage per named group of demand points (e.g. city, county) without knowing any geography.

Which backend and why (each module states its formulation):

- :mod:`~lnplan.optimize.siting.coverage` — MCLP, partial set cover and equity: HiGHS MIP through
  OR-Tools (MathOpt) on a reduced, tight formulation (merged demand rows, dominated sites
  dropped, greedy + swap incumbent); above 2 M nonzeros a Benders LP bound (Cordeau, Furini,
  Ljubić 2019; scipy's HiGHS), an incumbent from the LP's sites, reduced-cost fixing, then MIPs
  over growing site sets with the incumbent as cutoff.
- :mod:`~lnplan.optimize.siting.median` — p-median and facility location: greedy + fast
  interchange, a Lagrangian bound with site and distance-level elimination, site probing and a
  Lagrangian branch and bound over the sites left where the LP is weak, else a reduced HiGHS MIP
  on the radius formulation (Elloumi 2010; García, Labbé, Marín 2011).
- :mod:`~lnplan.optimize.siting.center` — p-center: a sequence of covering feasibility MIPs over
  the sorted distinct distances.
- :mod:`~lnplan.optimize.siting.flows` — capacities (split assignment): the classic formulation,
  with a Lagrangian phase (bound, incumbents, site fixing) before the exact HiGHS MIP on large
  models.

Covering models are split further: :mod:`.coverage_model` (their MIP and result assembly),
:mod:`.equity` (max-min and floor equity over groups of demand).

Shared pieces: :mod:`.reduction` (exact reductions of covering models), :mod:`.heuristics`
(covering greedy and swaps), :mod:`._verify` (every answer's objective recomputed and its rules
checked, independent of the models), :mod:`._model` (problem, rule and result types; the result
contract of :mod:`lnplan.optimize.result`).

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
from lnplan.optimize.siting.center import CenterProblem, solve_p_center
from lnplan.optimize.siting.coverage import (
    CoverageProblem,
    SetCoverProblem,
    solve_max_coverage,
    solve_set_cover,
)
from lnplan.optimize.siting.median import MedianProblem, solve_p_median

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
