"""The public API for notebooks and scripts: load a scenario, run it, look at the plan.

::

    import lnplan
    scn = lnplan.load_scenario("scenarios/quick.toml", set={"funding.budget_yuan": 40_000_000})
    plan = lnplan.run(scn, out="out/b")         # or lnplan.run(scn): nothing written
    plan.sites.table                            # GeoDataFrame of the chosen sites (EPSG:4326)
    plan.fund.table                             # DataFrame: yuan per priority county
    plan.screening.schedule                     # DataFrame: which team visits which township when
    plan.sites.map()                            # folium.Map, shown inline in Jupyter
    lnplan.compare("out/a", "out/b")            # what changed between two runs

Progress: ``progress=None`` shows a bar (``tqdm.auto``: a widget in Jupyter, text in a terminal)
only when the output is a notebook or a terminal; ``False`` shows none; a callable
``progress(text, done, total)`` receives every step (the CLI draws a rich bar with it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from lnplan.errors import InputError
from lnplan.programs import ProgrammeOutput, enabled
from lnplan.run import WORLD_STEP, WRITE_STEP, RunResult, run_scenario
from lnplan.scenario import Scenario
from lnplan.scenario import load_scenario as _load_scenario_file
from lnplan.world import World

__all__ = ["Plan", "ProgrammeView", "load_scenario", "run"]

#: Programme name -> the Plan attribute and the table shown as ``.table``.
VIEWS: dict[str, tuple[str, str]] = {
    "fitness_sites": ("sites", "sites"),
    "employment_fund": ("fund", "allocation"),
    "screening_routes": ("screening", "schedule"),
}

ProgressFn = Callable[[str, int, int], None]


def load_scenario(path: str | Path, set: Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file, with overrides.

    Parameters
    ----------
    path
        The scenario TOML file.
    set
        Overrides by dotted key, e.g. ``{"funding.budget_yuan": 40_000_000, "sites.p": 82}``;
        values are Python values (numbers, text, booleans, lists).

    Raises
    ------
    lnplan.errors.ScenarioError
        The file is missing or invalid; the message names every bad key.
    """
    overrides = [f"{key}={_toml_value(value)}" for key, value in (set or {}).items()]
    return _load_scenario_file(path, overrides)


def _toml_value(value: Any) -> str:
    """A Python value as TOML value syntax (what ``--set KEY=VALUE`` parses)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    raise InputError(
        f"set: value {value!r} of type {type(value).__name__} is not accepted; give a number, "
        "text, a boolean or a list of them"
    )


@dataclass(frozen=True)
class ProgrammeView:
    """One programme's result in a :class:`Plan`.

    ``table`` is the main table (sites: a GeoDataFrame in EPSG:4326; fund: the allocation per
    county; screening: the schedule); ``tables`` and ``layers`` hold everything the programme
    returned; ``summary`` its headline figures; ``models`` the solver records (status, bound,
    gap, work, time); ``outcome`` is "solved" or "reused".
    """

    name: str
    output: ProgrammeOutput
    main_table: str
    outcome: str = "solved"
    key: str = ""
    scenario: Scenario | None = None
    world: World | None = None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the programme, by name."""
        return dict(self.output.tables)

    @property
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Every map layer of the programme (aggregates only), by name."""
        return dict(self.output.layers)

    @property
    def summary(self) -> dict[str, Any]:
        """The programme's headline figures."""
        return dict(self.output.summary)

    @property
    def models(self) -> dict[str, Any]:
        """The outcome record of each model (engine, status, objective, bound, gap, work)."""
        return dict(self.output.models)

    @property
    def table(self) -> pd.DataFrame:
        """The main table; a GeoDataFrame with an explicit CRS when it has coordinates."""
        frame = self.output.tables[self.main_table]
        if isinstance(frame, gpd.GeoDataFrame):
            return frame
        # Rows with an id that the programme's point layers carry get those points (sites).
        for id_col in ("candidate_id", "facility_id"):
            if id_col not in frame.columns:
                continue
            points = [
                layer[[id_col, layer.geometry.name]].to_crs("EPSG:4326")
                for layer in self.output.layers.values()
                if id_col in layer.columns and set(layer.geom_type.dropna()) <= {"Point"}
            ]
            if points:
                geo = pd.concat(points, ignore_index=True).drop_duplicates(id_col)
                if geo.geometry.name != "geometry":
                    geo = geo.rename_geometry("geometry")
                merged = frame.merge(geo, on=id_col, how="left")
                return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")
        return frame

    def __getattr__(self, name: str) -> Any:
        # plan.screening.schedule, plan.fund.sensitivity, ...: tables by attribute
        tables = self.__dict__.get("output")
        if tables is not None and name in tables.tables:
            return tables.tables[name]
        raise AttributeError(f"{self.name} has no attribute or table {name!r}")

    def map(self) -> Any:
        """The programme's shared map as a folium.Map (shows inline in Jupyter)."""
        from lnplan.maps import programme_page
        from lnplan.maps.page import display_outlines

        if not self.output.layers:
            raise InputError(f"{self.name}: this programme returned no map layers")
        if self.scenario is None or self.world is None:
            raise InputError(f"{self.name}: no scenario and world to draw the map with")
        outlines = display_outlines(self.world.counties)
        return programme_page(self.scenario, self.world, self.output, outlines).folium_map()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{k}</td><td>{v}</td></tr>"
            for k, v in self.summary.items()
            if not isinstance(v, dict | list)
        )
        return f"<b>{self.name}</b> ({self.outcome})<table>{rows}</table>"


@dataclass(frozen=True)
class Plan:
    """The result of :func:`run`: one view per programme, the manifest and the run folder."""

    scenario: Scenario
    result: RunResult
    views: Mapping[str, ProgrammeView]

    @property
    def sites(self) -> ProgrammeView:
        """Fitness demonstration sites."""
        return self._view("sites")

    @property
    def fund(self) -> ProgrammeView:
        """Employment security fund."""
        return self._view("fund")

    @property
    def screening(self) -> ProgrammeView:
        """Child screening tours."""
        return self._view("screening")

    def _view(self, attr: str) -> ProgrammeView:
        if attr not in self.views:
            raise InputError(
                f"this plan has no {attr!r} programme: its scenario section is absent or "
                f"disabled (programmes run: {', '.join(self.views) or 'none'})"
            )
        return self.views[attr]

    @property
    def views_by_name(self) -> dict[str, ProgrammeView]:
        """The views by programme name (``fitness_sites``, ...)."""
        return {v.name: v for v in self.views.values()}

    @property
    def manifest(self) -> dict[str, Any]:
        """What ``run.json`` holds (also without an output folder)."""
        return dict(self.result.manifest)

    @property
    def out_dir(self) -> Path | None:
        """The run folder, or None when the plan was not written."""
        return self.result.out_dir

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings of the run (e.g. a search stopped by its wall-clock cap)."""
        return self.result.warnings

    @property
    def world_summary(self) -> pd.DataFrame:
        """Counts per city of the world the plan was made on."""
        return self.result.summary

    def _repr_html_(self) -> str:
        parts = [v._repr_html_() for v in self.views.values()]
        return f"<h4>{self.scenario.name}</h4>" + "".join(parts)


def run(
    scenario: Scenario,
    out: str | Path | None = None,
    *,
    fresh: bool = False,
    baseline: str | Path | None = None,
    progress: bool | ProgressFn | None = None,
) -> Plan:
    """Run a scenario and return its :class:`Plan`.

    Parameters
    ----------
    scenario
        From :func:`load_scenario`.
    out
        A run folder to write (whole or not at all, with the per-programme cache inside it);
        None writes nothing (outputs are then cached in this Python process only).
    fresh
        Solve everything again, ignoring cached outputs.
    baseline
        An earlier run folder (or :class:`Plan` written to one) whose plan should change as
        little as possible (see :mod:`lnplan.stability`).
    progress
        None: a ``tqdm.auto`` bar when in a notebook or a terminal; False: none; a callable
        ``progress(text, done, total)``.
    """
    if isinstance(baseline, Plan):
        if baseline.out_dir is None:
            raise InputError("baseline: the plan was not written; run it with out=... first")
        baseline = baseline.out_dir
    total = len(enabled(scenario)) + 1 + (out is not None)
    reporter = _reporter(progress, total)
    try:
        result = run_scenario(
            scenario,
            out,
            on_step=reporter.step if reporter is not None else None,
            fresh=fresh,
            baseline=baseline,
        )
    finally:
        if reporter is not None:
            reporter.close()
    return plan_of(scenario, result)


def plan_of(scenario: Scenario, result: RunResult) -> Plan:
    """Wrap a :class:`lnplan.run.RunResult` as a :class:`Plan`."""
    runs = {r.name: r for r in result.runs}
    views = {}
    for output in result.outputs:
        attr, main = VIEWS.get(output.name, (output.name, next(iter(output.tables), "")))
        run_info = runs.get(output.name)
        views[attr] = ProgrammeView(
            name=output.name,
            output=output,
            main_table=main,
            outcome=run_info.outcome if run_info else "solved",
            key=run_info.key if run_info else "",
            scenario=scenario,
            world=result.world,
        )
    return Plan(scenario=scenario, result=result, views=views)


class _Reporter:
    """Counts steps and forwards them to a progress function."""

    def __init__(self, fn: ProgressFn, total: int, close: Callable[[], None] | None = None):
        self.fn, self.total, self.done, self._close = fn, total, 0, close

    def step(self, text: str) -> None:
        if text not in (WORLD_STEP, WRITE_STEP) and not text.startswith("programme "):
            return
        self.fn(text, self.done, self.total)
        self.done += 1

    def close(self) -> None:
        self.fn("done", self.total, self.total)
        if self._close is not None:
            self._close()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    get = getattr(shell, "get_ipython", None)
    ip = get() if get is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _reporter(progress: bool | ProgressFn | None, total: int) -> _Reporter | None:
    if progress is False:
        return None
    if callable(progress):
        return _Reporter(progress, total)
    if progress is None and not (_in_notebook() or sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="step", leave=False)

    def show(text: str, done: int, total: int) -> None:
        bar.set_description_str(text)
        bar.n = done
        bar.refresh()

    return _Reporter(show, total, close=bar.close)


#: The scenario ``lnplan demo`` runs.
DEMO_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.toml"


def headline(view: ProgrammeView) -> str:
    """One line with the programme's headline figure (for the terminal)."""
    s = view.summary
    if view.name == "fitness_sites" and "covered_households" in s:
        return (
            f"{s.get('sites', 0)} new sites; {s['covered_households']:,} of "
            f"{s.get('households', 0):,} households ({s.get('coverage_rate', 0):.1%}) within "
            f"{s.get('reach', 'reach')} ({s.get('status', '')})"
        )
    if view.name == "employment_fund" and "budget_yuan" in s:
        return (
            f"{s['budget_yuan'] / 10_000:,.0f} 万元 split among {s.get('priority_counties', 0)} "
            f"priority counties by {s.get('objective', '')} ({s.get('status', '')})"
        )
    if view.name == "screening_routes" and "children_screened" in s:
        return (
            f"{s['children_screened']:,} of {s.get('children_awaiting', 0):,} children screened "
            f"in {s.get('townships_visited', 0)} townships on {s.get('trips', 0)} trips "
            f"({s.get('status', '')})"
        )
    shown = [f"{k} {v}" for k, v in s.items() if isinstance(v, int | float | str)][:3]
    return ", ".join(shown)
