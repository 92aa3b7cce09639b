"""The service programmes of the province and the registry that runs them.

Contract for a programme module (``lnplan/programs/<module>.py``)
------------------------------------------------------------------
A programme module exposes, at module level:

``NAME: str``
    Short identifier, also the output sub-folder name (``"fitness_sites"``).
``SECTION: str``
    The scenario section it reads: ``"sites"``, ``"funding"`` or ``"screening"``. The programme
    runs when ``getattr(scenario, SECTION)`` is present and ``enabled``.
``run(scenario, world, out_dir) -> ProgrammeOutput``
    ``scenario`` is a validated :class:`lnplan.scenario.Scenario` (targets such as
    ``scenario.sites.p`` are already filled in from ``data/programs``: never write them as
    literals); ``world`` is a :class:`lnplan.world.World`; ``out_dir`` is the programme's own
    folder inside the run's temporary output folder (it exists; write extra files there if
    needed, e.g. solver logs). Return a :class:`ProgrammeOutput`; raise an
    :class:`lnplan.errors.LnplanError` subclass for mistakes the planner can fix.

The report (:func:`lnplan.report.tables.write_output`) writes each table of the output as
``<out>/<NAME>/<table>.csv`` (and ``.xlsx`` when ``output.formats`` has it) and each layer as
``<out>/<NAME>/<NAME>.gpkg`` (one GeoPackage layer per entry; also ``<layer>.geojson`` when
asked). Layers and tables must be shareable: aggregates
only, no household rows (use :func:`lnplan.geo.aggregate.shareable_cells`).

Registering: add the module path to :data:`PROGRAMMES` (already listed for the three planned
programmes; a listed module that does not exist yet is skipped).

A programme in outline (fitness sites)::

    NAME, SECTION = "fitness_sites", "sites"

    def run(scenario, world, out_dir):
        sec = scenario.sites                       # p = 80 comes from data/programs
        demand = aggregate_households(world.households, by=sec.demand, cell_km=sec.grid_cell_km,
                                      h3_resolution=sec.h3_resolution, townships=world.townships)
        cover = coverage_for_layers(demand.points, world.candidates,
                                    model=RoadModel.from_scenario(scenario.travel),
                                    mountain_counties=world.mountain_counties(),
                                    travel_time_min=sec.travel_time_min,
                                    matrix=scenario.data.travel_matrix)
        result = solve_...(CoverageProblem(weights=demand.points["weight"].to_numpy(), ...))
        cells = shareable_cells(world.households.assign(covered=...), by="grid",
                                min_households=scenario.maps.min_cell_households,
                                value_columns=["covered"])
        return ProgrammeOutput(name=NAME, tables={"sites": ...}, layers={"coverage": cells},
                               summary={"objective": result.objective})

(``aggregate_households``/``shareable_cells`` from :mod:`lnplan.geo.aggregate`,
``coverage_for_layers``/``RoadModel`` from :mod:`lnplan.geo.travel`.)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

if TYPE_CHECKING:
    from lnplan.scenario import Scenario
    from lnplan.world import World

logger = logging.getLogger(__name__)

#: Programme modules in run order.
PROGRAMMES: tuple[str, ...] = (
    "lnplan.programs.fitness_sites",
    "lnplan.programs.employment_fund",
    "lnplan.programs.screening_routes",
)

SECTIONS = ("sites", "funding", "screening")


@dataclass(frozen=True)
class ProgrammeOutput:
    """What a programme returns: shareable tables and map layers, a summary, and its models.

    ``models`` maps a model's name (``"siting"``, ``"allocation"``, ``"tours"``) to its
    :func:`lnplan.optimize.result.outcome_record`, for the run manifest.
    """

    name: str
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    layers: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def available() -> list[ModuleType]:
    """The registered programme modules that exist, in run order, after checking their contract."""
    modules = []
    for path in PROGRAMMES:
        if importlib.util.find_spec(path) is None:
            logger.debug("programme %s not present; skipped", path)
            continue
        module = importlib.import_module(path)
        for attr in ("NAME", "SECTION", "run"):
            if not hasattr(module, attr):
                raise TypeError(f"programme module {path} lacks {attr} (see lnplan.programs)")
        if module.SECTION not in SECTIONS:
            raise TypeError(f"programme {path}: SECTION {module.SECTION!r} not in {SECTIONS}")
        modules.append(module)
    return modules


def enabled(scenario: Scenario) -> list[ModuleType]:
    """The available programmes whose scenario section is present and enabled."""
    wanted = set(scenario.enabled_sections())
    return [m for m in available() if m.SECTION in wanted]


def missing_sections(scenario: Scenario) -> list[str]:
    """Enabled scenario sections for which no programme module exists yet."""
    have = {m.SECTION for m in available()}
    return [s for s in scenario.enabled_sections() if s not in have]


def run_enabled(
    scenario: Scenario,
    world: World,
    out_dir: Path,
    *,
    on_start: Callable[[str], None] | None = None,
) -> list[ProgrammeOutput]:
    """Run every enabled programme in order; each gets ``out_dir / NAME`` (created).

    ``on_start(NAME)`` is called before each programme (the CLI shows progress with it).
    """
    outputs = []
    for module in enabled(scenario):
        if on_start is not None:
            on_start(module.NAME)
        folder = Path(out_dir) / module.NAME
        folder.mkdir(parents=True, exist_ok=True)
        logger.info("running programme %s", module.NAME)
        result = module.run(scenario, world, folder)
        if not isinstance(result, ProgrammeOutput):
            raise TypeError(f"programme {module.NAME} returned {type(result).__name__}")
        outputs.append(result)
    return outputs
