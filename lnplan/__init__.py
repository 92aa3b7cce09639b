"""lnplan: geospatial planning and resource allocation for Liaoning's disability services.

The public API (for notebooks and scripts; see :mod:`lnplan.api` and the README)::

    import lnplan
    scn = lnplan.load_scenario("scenarios/quick.toml", set={"funding.budget_yuan": 40_000_000})
    plan = lnplan.run(scn, out="out/b")
    plan.sites.table, plan.fund.table, plan.screening.schedule, plan.sites.map()
    lnplan.compare("out/a", "out/b")
    lnplan.sweep(scn, vary={"sites.p": range(60, 121, 20)})   # a DataFrame, one row per point
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lnplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

# Eager on purpose: ``lnplan.run`` is both the module lnplan/run.py and the API function; the
# function wins only if it is bound after the module's first import (which this line does).
from lnplan.api import Plan, ProgrammeView, load_scenario, run
from lnplan.compare import Comparison, compare

# Likewise ``lnplan.sweep`` is the function; the module's helpers are imported by name
# (``from lnplan.sweep import grid``).
from lnplan.sweep import sweep

__all__ = [
    "Comparison",
    "Plan",
    "ProgrammeView",
    "__version__",
    "compare",
    "load_scenario",
    "run",
    "sweep",
]
