"""Scenario files: the validated settings of one planning run.

A scenario is a TOML file (see ``scenarios/liaoning_2022.toml``). It is validated with pydantic
(v2, every model ``extra="forbid"``): an unknown key, a wrong type or an impossible value raises
:class:`lnplan.errors.ScenarioError` whose message names the key path (``funding.budget_yuan``),
what was given and what is accepted. Every quantity carries its unit in its name (``budget_yuan``,
``radius_km``, ``speed_kph``, ``time_limit_s``).

Loading
-------
``load_scenario(path, overrides)``:

1. reads the TOML file; relative paths in it (the ``data`` section, ``extends``) are relative to
   the folder of the file that contains them;
2. ``extends = "base.toml"`` deep-merges the file over its base (tables merge key by key; values
   and arrays replace); chains are allowed, cycles are an error;
3. applies the ``--set KEY=VALUE`` overrides in order. ``VALUE`` is read with TOML value syntax
   (``40000000``, ``1.5``, ``true``, ``["csv", "gpkg"]``, ``"text"``); what does not parse as a
   TOML value is taken as text (``--set screening.base=沈阳市``). Relative paths in overrides are
   relative to the working folder;
4. fills programme targets that the file does not set from the targets file ``data.targets``
   (``sites.p`` ← ``fitness_demo_sites``, ``funding.budget_yuan`` ← ``employment_fund_yuan``,
   ``funding.jobs_target`` ← ``new_jobs_per_year``, ``screening.age_min_years`` /
   ``age_max_years`` ← ``screening_age_min_years`` / ``screening_age_max_years``);
5. validates everything at once and reports every error.

Sections
--------
Shared (this module): ``name``, ``description``, ``extends``, ``seed``, ``output``, ``data``,
``world`` (the synthetic demo world, :mod:`lnplan.geo.synth`), ``travel`` (road travel-time model,
:mod:`lnplan.geo.travel`), ``maps``.

Programme sections: ``sites`` (:class:`SitesSection`, fitness demonstration sites),
``funding`` (:class:`FundingSection`, employment security fund), ``screening``
(:class:`ScreeningSection`, child screening tours). A section that is absent is ``None`` and its
programme does not run; ``enabled = false`` keeps the settings but skips the programme.

Extending a programme section (for the programme helpers): add fields to the section model below,
each with a default, a unit in its name and bounds (``Field(ge=..., le=...)``); cross-field rules
go in a ``model_validator(mode="after")`` raising ``ValueError`` with a plain message (it is shown
with the section's key path). A new target taken from the targets file is one line in
``_TARGET_DEFAULTS``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    DirectoryPath,
    Field,
    FilePath,
    ValidationError,
    model_validator,
)

from lnplan.errors import InputError, ScenarioError
from lnplan.targets import (
    DEFAULT_CITY_POPULATION,
    DEFAULT_COUNTY_TERRAIN,
    DEFAULT_PRIORITY_COUNTIES,
    DEFAULT_TARGETS,
    DEFAULT_TOWNSHIPS,
    Targets,
    load_targets,
)

logger = logging.getLogger(__name__)

#: Targets-file keys that fill scenario fields left unset: (section, field) -> target key.
_TARGET_DEFAULTS: dict[tuple[str, str], str] = {
    ("sites", "p"): "fitness_demo_sites",
    ("funding", "budget_yuan"): "employment_fund_yuan",
    ("funding", "jobs_target"): "new_jobs_per_year",
    ("screening", "age_min_years"): "screening_age_min_years",
    ("screening", "age_max_years"): "screening_age_max_years",
}

#: Keys holding file paths, resolved relative to the folder of the scenario file that sets them.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("data", "boundaries"),
    ("data", "targets"),
    ("data", "priority_counties"),
    ("data", "city_population"),
    ("data", "townships"),
    ("data", "county_terrain"),
    ("data", "households", "path"),
    ("data", "facilities", "path"),
    ("data", "candidates", "path"),
    ("data", "travel_matrix", "path"),
)

#: The smallest number of households a shown cell may have (privacy); scenarios may only raise it.
MIN_CELL_HOUSEHOLDS = 5

Datum = Literal["wgs84", "gcj02", "bd09"]
OutputFormat = Literal["gpkg", "csv", "xlsx", "geojson"]
NeedIndicator = Literal[
    "working_age_disabled",
    "registered_unemployed_disabled",
    "low_income_disabled_households",
    "jobs_placed_last_year",
]


def _default_formats() -> list[OutputFormat]:
    return ["gpkg", "csv"]


def _default_need_weights() -> dict[NeedIndicator, float]:
    return {
        "working_age_disabled": 0.4,
        "registered_unemployed_disabled": 0.4,
        "low_income_disabled_households": 0.2,
    }


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --- shared sections -----------------------------------------------------------------------------


class OutputSection(_Section):
    """Where and how results are written."""

    folder: Path = Field(default=Path("out"), description="relative to the working folder")
    formats: list[OutputFormat] = Field(
        default_factory=_default_formats, min_length=1, description="table/layer formats"
    )

    @model_validator(mode="after")
    def _unique_formats(self) -> OutputSection:
        if len(set(self.formats)) != len(self.formats):
            raise ValueError(f"formats: each format at most once, got {self.formats}")
        return self


class LayerSource(_Section):
    """A user point layer (read with :func:`lnplan.geo.layers.read_layer`)."""

    path: FilePath
    coords: Datum = "wgs84"
    layer: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = Field(default_factory=dict, description="canonical -> file column")


class MatrixSource(_Section):
    """A user travel matrix in long form (CSV or Parquet), replacing the road model."""

    path: FilePath
    origin_column: str = "origin_id"
    destination_column: str = "destination_id"
    value_column: str = "travel_time_min"


class DataSection(_Section):
    """Input files. Defaults are the files shipped in ``data/``."""

    boundaries: DirectoryPath | None = Field(
        default=None, description="folder of boundary GeoJSON; default: the shipped data/boundaries"
    )
    targets: FilePath = DEFAULT_TARGETS
    priority_counties: FilePath = DEFAULT_PRIORITY_COUNTIES
    city_population: FilePath = DEFAULT_CITY_POPULATION
    townships: FilePath = DEFAULT_TOWNSHIPS
    county_terrain: FilePath = DEFAULT_COUNTY_TERRAIN
    households: LayerSource | None = None
    facilities: LayerSource | None = None
    candidates: LayerSource | None = None
    travel_matrix: MatrixSource | None = None


class WorldSection(_Section):
    """Settings of the synthetic demo world (:mod:`lnplan.geo.synth`)."""

    households_per_10k_people: float = Field(
        default=70.0, gt=0, le=2000, description="severely disabled households per 10,000 residents"
    )
    households_scale: float = Field(
        default=1.0, gt=0, le=10, description="multiplies the household count (small test worlds)"
    )
    children_per_10k_rural_people: float = Field(
        default=4.0, ge=0, le=500, description="children 8-14 awaiting screening per 10,000 rural"
    )
    rehab_centre_share: float = Field(
        default=0.6, ge=0, le=1, description="share of subdistricts with a community rehab centre"
    )
    parks_per_county: int = Field(default=2, ge=0, le=50, description="candidate parks per county")


class TerrainTravel(_Section):
    """Road travel in one kind of terrain: time = great-circle km × detour_factor ÷ speed_kph."""

    detour_factor: float = Field(ge=1.0, le=5.0)
    speed_kph: float = Field(gt=0, le=130)


class TravelSection(_Section):
    """The road travel-time model (:mod:`lnplan.geo.travel`); see its docstring for the defaults."""

    plain: TerrainTravel = TerrainTravel(detour_factor=1.3, speed_kph=60.0)
    mountain: TerrainTravel = TerrainTravel(detour_factor=1.5, speed_kph=40.0)


class MapsSection(_Section):
    """Map options."""

    tiles: Literal["auto", "none", "tianditu", "gaode", "openstreetmap", "custom"] = Field(
        default="auto",
        description="base tiles: 'auto' is Tianditu when a key is set, else 'none' (a light "
        "basemap drawn from the embedded outlines); 'gaode' shifts layers to GCJ-02 for display",
    )
    tianditu_key: str | None = Field(
        default=None,
        description="Tianditu key (TIANDITU_KEY in the environment wins); it is readable by "
        "whoever opens the HTML",
    )
    tiles_url: str | None = Field(default=None, description="URL template for tiles = 'custom'")
    tiles_attribution: str | None = None
    offline_assets: bool = Field(default=True, description="embed Leaflet JS/CSS (no CDN)")
    language: Literal["zh", "en"] = Field(default="zh", description="language of maps and pages")
    snapshots: bool = Field(
        default=False, description="also write PNG and A4 PDF snapshots of each map (Chromium)"
    )
    min_cell_households: int = Field(
        default=MIN_CELL_HOUSEHOLDS,
        ge=MIN_CELL_HOUSEHOLDS,
        description="cells with fewer households are merged or suppressed (privacy; at least 5)",
    )

    @model_validator(mode="after")
    def _custom_needs_url(self) -> MapsSection:
        if self.tiles == "custom" and not self.tiles_url:
            raise ValueError("tiles_url: tiles = 'custom' needs a {z}/{x}/{y} URL template")
        return self


# --- programme sections --------------------------------------------------------------------------


class SitesSection(_Section):
    """Fitness demonstration sites: choose ``p`` candidates (lnplan.programs.fitness_sites)."""

    enabled: bool = True
    p: int = Field(ge=1, description="number of sites; default: targets fitness_demo_sites")
    objective: Literal["mclp", "pmedian", "pcenter", "setcover"] = "mclp"
    coverage_by: Literal["travel_time", "distance"] = "travel_time"
    travel_time_min: float = Field(default=30.0, gt=0, le=600)
    radius_km: float = Field(default=10.0, gt=0, le=500)
    min_sites_per_city: int = Field(default=3, ge=0)
    max_sites_per_city: int | None = Field(
        default=None, ge=0, description="most new sites per city; default: no limit"
    )
    existing_kinds: list[str] = Field(
        default_factory=list,
        description="kinds of data.facilities that already serve as sites: they stay open and "
        "cover households, and count neither towards p nor towards the city quotas",
    )
    exclude_candidates: list[str] = Field(
        default_factory=list, description="candidate_id values that may not be chosen"
    )
    keep_candidates: list[str] = Field(
        default_factory=list,
        description="candidate_id values that must be chosen; they count towards p "
        "(set by lnplan run --baseline to keep a baseline's sites)",
    )
    demand: Literal["township", "grid", "h3"] = "grid"
    grid_cell_km: float = Field(default=2.0, gt=0, le=100)
    h3_resolution: int = Field(default=7, ge=0, le=15)
    time_limit_s: float = Field(
        default=60.0,
        gt=0,
        description="wall-clock safety cap of the whole site search; hitting it is a warning "
        "(the work limits max_nodes and max_iterations should end the search first)",
    )
    max_nodes: int = Field(
        default=200,
        ge=0,
        description="work limit: branch-and-bound nodes of each MIP search (count); 0 skips "
        "the MIP of mclp, whose answer is then the greedy-and-swap one with the Lagrangian "
        "bound (the other objectives search the root only). The same scenario and seed then "
        "give the same sites on any machine",
    )
    max_iterations: int = Field(
        default=1000,
        ge=0,
        description="work limit: subgradient iterations (count) of the Lagrangian bound of mclp",
    )
    capacity_households: float | None = Field(
        default=None,
        gt=0,
        description="households each site can serve (every candidate alike); default: no limit",
    )
    capacity_column: str | None = Field(
        default=None,
        description="candidate column with the households each site can serve (overrides "
        "capacity_households where set)",
    )
    site_cost_yuan: float | None = Field(
        default=None, ge=0, description="cost of opening each new site (every candidate alike)"
    )
    site_cost_column: str | None = Field(
        default=None, description="candidate column with the cost of opening each site, yuan"
    )
    budget_yuan: float | None = Field(
        default=None, ge=0, description="most the new sites may cost together; needs a site cost"
    )
    equity: Literal["none", "max_min", "floor"] = Field(
        default="none",
        description='coverage fairness across cities (objective "mclp"): "max_min" raises the '
        'lowest city coverage rate first; "floor" keeps every city at least equity_floor',
    )
    equity_floor: float = Field(default=0.0, ge=0, le=1, description="least city coverage rate")

    @model_validator(mode="after")
    def _quotas(self) -> SitesSection:
        if self.budget_yuan is not None and (
            self.site_cost_yuan is None and self.site_cost_column is None
        ):
            raise ValueError("budget_yuan: needs site_cost_yuan or site_cost_column")
        if self.equity != "none" and self.objective != "mclp":
            raise ValueError(f'equity: {self.equity!r} applies to objective "mclp" only')
        if (
            self.max_sites_per_city is not None
            and self.max_sites_per_city < self.min_sites_per_city
        ):
            raise ValueError(
                f"max_sites_per_city: {self.max_sites_per_city} is below min_sites_per_city "
                f"{self.min_sites_per_city}"
            )
        return self


class FundingSection(_Section):
    """Employment security fund across the priority counties (lnplan.programs.employment_fund)."""

    enabled: bool = True
    budget_yuan: int = Field(gt=0, description="default: targets employment_fund_yuan")
    unit_yuan: int = Field(default=10_000, gt=0, description="allocations are multiples of this")
    objective: Literal["proportional", "maxmin", "jobs"] = "proportional"
    need_weights: dict[NeedIndicator, float] = Field(default_factory=_default_need_weights)
    floor_yuan: int = Field(default=0, ge=0, description="least allocation per eligible county")
    cap_yuan: int | None = Field(default=None, gt=0, description="most allocation per county")
    jobs_target: int = Field(ge=0, description="default: targets new_jobs_per_year")
    deterministic_time_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="CP-SAT work limit per solve (deterministic seconds, not wall time): the same "
        "scenario gives the same allocation under any machine load",
    )
    time_limit_s: float = Field(
        default=30.0, gt=0, description="wall-clock safety cap per solve; hitting it is a warning"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FundingSection:
        if self.budget_yuan % self.unit_yuan:
            raise ValueError(
                f"budget_yuan: {self.budget_yuan} is not a multiple of unit_yuan {self.unit_yuan}"
            )
        if self.floor_yuan % self.unit_yuan:
            raise ValueError(
                f"floor_yuan: {self.floor_yuan} is not a multiple of unit_yuan {self.unit_yuan}"
            )
        if self.cap_yuan is not None and self.cap_yuan < max(self.floor_yuan, self.unit_yuan):
            raise ValueError(
                f"cap_yuan: {self.cap_yuan} is below floor_yuan {self.floor_yuan} or unit_yuan"
            )
        if any(w < 0 for w in self.need_weights.values()):
            raise ValueError(f"need_weights: every weight must be >= 0, got {self.need_weights}")
        if not self.need_weights or sum(self.need_weights.values()) <= 0:
            raise ValueError("need_weights: at least one weight must be > 0")
        return self


#: Screening settings planners ask for that the tours cannot honour yet, with the reason.
_SCREENING_NOT_YET = {
    "time_windows": "townships' hours are set as visiting_hours (every township) and "
    "visiting_hours_by_township (township code -> hours), e.g. visiting_hours = ['08:00-11:30']",
}


def _hours(text: Any, key: str) -> tuple[dt.time, dt.time]:
    """``"HH:MM-HH:MM"`` as two times, with an error naming the key."""
    try:
        a, b = str(text).split("-")
        start, end = dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip())
    except ValueError:
        raise ValueError(
            f"{key}: {text!r} is not visiting hours; write 'HH:MM-HH:MM', e.g. '08:00-11:30'"
        ) from None
    if end <= start:
        raise ValueError(f"{key}: {text!r} ends before it starts")
    return start, end


def _team_dates(raw: Any) -> dict[int, list[dt.date]]:
    """``team_blocked_dates`` as team number -> sorted dates; ``[from, to]`` pairs are ranges."""
    if not isinstance(raw, Mapping):
        raise ValueError(
            "team_blocked_dates: give a table of team number -> dates, e.g. "
            '{"2" = [2023-09-18, [2023-10-09, 2023-10-13]]} ([from, to]: every date between)'
        )
    out: dict[int, list[dt.date]] = {}
    for key, items in raw.items():
        try:
            team = int(str(key).strip().removesuffix("队"))
        except ValueError:
            raise ValueError(
                f"team_blocked_dates: {key!r} is not a team number (1, 2, ...)"
            ) from None
        if not isinstance(items, list | tuple):
            items = [items]
        dates: set[dt.date] = set()
        for item in items:
            pair = list(item) if isinstance(item, list | tuple) else [item, item]
            try:
                if len(pair) != 2:
                    raise ValueError
                a, b = (
                    d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in pair
                )
            except (TypeError, ValueError):
                raise ValueError(
                    f"team_blocked_dates: team {team}: {item!r} is not a date or a [from, to] "
                    "pair of dates (write 2023-09-18 or [2023-09-18, 2023-09-22])"
                ) from None
            if b < a:
                raise ValueError(
                    f"team_blocked_dates: team {team}: the range [{a}, {b}] ends before it starts"
                )
            dates.update(a + dt.timedelta(days=k) for k in range((b - a).days + 1))
        out[team] = sorted(dates | set(out.get(team, [])))
    return out


class ScreeningSection(_Section):
    """Child screening tours by mobile teams (lnplan.programs.screening_routes)."""

    enabled: bool = True
    n_teams: int = Field(default=4, ge=1, le=200)
    base: str = Field(default="沈阳市", min_length=1, description="teams' home city/county")
    bases: list[str] = Field(
        default_factory=list,
        description="one home city/county per base; teams are given to the bases in turn "
        "(team 1 to the first, team 2 to the second, ...); empty: every team at `base`",
    )
    examiners_per_team: int = Field(
        default=1, ge=1, le=50, description="examiners screening side by side in one team"
    )
    start_date: dt.date | None = Field(
        default=None, description="first day of the campaign (working days count from it)"
    )
    blocked_dates: list[dt.date] = Field(
        default_factory=list, description="dates no team works (besides weekends and holidays)"
    )
    team_blocked_dates: dict[int, list[dt.date]] = Field(
        default_factory=dict,
        description="per team number (1 = the first team): dates the team does not work (leave, "
        'another duty), e.g. {"2" = [2023-09-18, [2023-10-09, 2023-10-13]]} ([from, to]: every '
        "date between); none of its trips includes them, and they count as days off between "
        "two trips",
    )
    visiting_hours: list[str] = Field(
        default_factory=list,
        description="hours at which township hospitals receive a team, 'HH:MM-HH:MM' each, e.g. "
        "['08:00-11:30']: a visit starts inside them (the screening may run on); empty: any "
        "working hour",
    )
    visiting_hours_by_township: dict[str, list[str]] = Field(
        default_factory=dict,
        description="township code -> its own visiting hours (replace visiting_hours there)",
    )
    gather_km: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="road km: the children of townships within this distance of a host "
        "township's hospital are screened there (their families bring them); hosts are chosen "
        "greedily, most children gathered first; unset: every township is visited",
    )
    balance_weight: float = Field(
        default=0.0, ge=0, description="weight of the busiest trip's working time (0: none)"
    )
    priority_weight: float = Field(
        default=1.0, ge=1, le=100, description="value of a child in a priority county vs. 1"
    )
    mountain_weight: float = Field(
        default=1.0, ge=1, le=100, description="value of a child in a mountain county vs. 1"
    )
    min_share_by_city: float = Field(
        default=0.0, ge=0, le=1, description="floor on the share of each city's children screened"
    )
    min_share_priority: float = Field(
        default=0.0, ge=0, le=1, description="floor on the share screened in each priority county"
    )
    target_share: float | None = Field(
        default=None, gt=0, le=1, description="sizing: share of all children to screen by deadline"
    )
    deadline: dt.date | None = Field(default=None, description="sizing: last day of the campaign")
    max_teams: int = Field(default=60, ge=1, le=500, description="sizing: most teams tried")
    max_trip_days: int = Field(default=5, ge=1, le=60)
    trip_blocks: Literal["fixed", "free"] = Field(
        default="fixed",
        description="fixed: trips in consecutive blocks of max_trip_days; free: a trip starts "
        "on any day and ends when best (one vehicle per possible trip: slow beyond a few teams)",
    )
    rest_days: int = Field(
        default=0, ge=0, le=30, description="working days at base between trips (free trips)"
    )
    horizon_days: int = Field(default=20, ge=1, le=366)
    day_start: dt.time = dt.time(8, 0)
    day_end: dt.time = dt.time(17, 0)
    lunch_min: int = Field(default=60, ge=0, le=240)
    setup_min: int = Field(default=30, ge=0, le=600)
    min_per_child: float = Field(default=20.0, gt=0, le=600)
    age_min_years: int = Field(ge=0, le=18, description="default: targets")
    age_max_years: int = Field(ge=0, le=18, description="default: targets")
    time_limit_s: float = Field(default=60.0, gt=0)
    max_iterations: int | None = Field(
        default=None,
        ge=1,
        description="stop the tour search after this many improving solutions instead of at "
        "time_limit_s: the same scenario and seed then give the same tours on any machine",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, raw: Any) -> Any:
        if isinstance(raw, Mapping):
            for key, why in _SCREENING_NOT_YET.items():
                if key in raw:
                    raise ValueError(f"{key}: not supported yet: {why}")
            if "team_blocked_dates" in raw:
                raw = {**raw, "team_blocked_dates": _team_dates(raw["team_blocked_dates"])}
        return raw

    @property
    def working_min_per_day(self) -> int:
        """Minutes between day start and day end, less lunch."""
        start = self.day_start.hour * 60 + self.day_start.minute
        end = self.day_end.hour * 60 + self.day_end.minute
        return end - start - self.lunch_min

    @model_validator(mode="after")
    def _consistent(self) -> ScreeningSection:
        if self.day_end <= self.day_start:
            raise ValueError(f"day_end: {self.day_end} must be after day_start {self.day_start}")
        if self.working_min_per_day <= self.setup_min:
            raise ValueError(
                f"setup_min: {self.setup_min} is not shorter than the working day "
                f"({self.working_min_per_day} min after lunch)"
            )
        if self.age_min_years > self.age_max_years:
            raise ValueError(
                f"age_min_years: {self.age_min_years} is above age_max_years {self.age_max_years}"
            )
        if (self.target_share is None) != (self.deadline is None):
            raise ValueError("target_share: give target_share and deadline together (sizing)")
        if self.deadline is not None and self.start_date is None:
            raise ValueError("deadline: sizing needs start_date too")
        if self.deadline is not None and self.start_date and self.deadline < self.start_date:
            raise ValueError(f"deadline: {self.deadline} is before start_date {self.start_date}")
        if self.max_trip_days > self.horizon_days:
            raise ValueError(
                f"max_trip_days: {self.max_trip_days} exceeds horizon_days {self.horizon_days}"
            )
        self._check_team_dates()
        for text in self.visiting_hours:
            self._check_hours(text, "visiting_hours")
        for code, hours in self.visiting_hours_by_township.items():
            if not hours:
                raise ValueError(f"visiting_hours_by_township: township {code}: no hours given")
            for text in hours:
                self._check_hours(text, f"visiting_hours_by_township: township {code}")
        return self

    def _check_team_dates(self) -> None:
        for team, dates in self.team_blocked_dates.items():
            if not 1 <= team <= self.n_teams:
                raise ValueError(
                    f"team_blocked_dates: team {team} is not one of the teams 1..{self.n_teams}"
                )
            early = [d for d in dates if self.start_date and d < self.start_date]
            if early:
                raise ValueError(
                    f"team_blocked_dates: team {team}: {early[0]} is before start_date "
                    f"{self.start_date}"
                )

    def _check_hours(self, text: str, key: str) -> None:
        start, end = _hours(text, key)
        if end <= self.day_start or start >= self.day_end:
            raise ValueError(
                f"{key}: {text!r} lies outside the working day "
                f"{self.day_start:%H:%M}-{self.day_end:%H:%M}"
            )

    def hours_of(self, code: str) -> list[tuple[dt.time, dt.time]]:
        """Visiting hours of a township (its own, else ``visiting_hours``; empty: any hour)."""
        texts = self.visiting_hours_by_township.get(str(code), self.visiting_hours)
        return [_hours(t, "visiting_hours") for t in texts]


class StabilitySection(_Section):
    """How much a plan may give up to stay close to a baseline run (lnplan run --baseline)."""

    max_loss: float = Field(
        default=0.005,
        ge=0,
        le=0.5,
        description="largest relative loss of the best objective accepted to keep the "
        "baseline's decisions (0.005 = 0.5 %)",
    )


# --- the scenario --------------------------------------------------------------------------------


class Scenario(_Section):
    """One planning run: shared settings plus the programme sections it enables."""

    name: str = Field(min_length=1)
    description: str = ""
    extends: str | None = Field(default=None, description="base scenario, relative to this file")
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    output: OutputSection = Field(default_factory=OutputSection)
    data: DataSection = Field(default_factory=DataSection)
    world: WorldSection = Field(default_factory=WorldSection)
    travel: TravelSection = Field(default_factory=TravelSection)
    maps: MapsSection = Field(default_factory=MapsSection)
    stability: StabilitySection = Field(default_factory=StabilitySection)
    sites: SitesSection | None = None
    funding: FundingSection | None = None
    screening: ScreeningSection | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_targets(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        sections = {s for s, _ in _TARGET_DEFAULTS}
        needed = [
            (s, f, key)
            for (s, f), key in _TARGET_DEFAULTS.items()
            if isinstance(raw.get(s), Mapping) and f not in raw[s]
        ]
        if not needed:
            return raw
        data = raw.get("data")
        path = data.get("targets", DEFAULT_TARGETS) if isinstance(data, Mapping) else None
        if path is None:
            path = DEFAULT_TARGETS
        try:
            targets = _load_targets_cached(str(Path(path).resolve()))
        except InputError as exc:
            raise ValueError(f"data.targets: {exc}") from None
        out = dict(raw)
        for s in sections:
            if isinstance(out.get(s), Mapping):
                out[s] = dict(out[s])
        for s, f, key in needed:
            value = targets.value(key)
            out[s][f] = int(value) if float(value).is_integer() else value
        return out

    def targets(self) -> Targets:
        """The targets file this scenario refers to (``data.targets``)."""
        return _load_targets_cached(str(Path(self.data.targets).resolve()))

    def enabled_sections(self) -> list[str]:
        """Names of the programme sections present and enabled, in run order."""
        return [
            s
            for s in ("sites", "funding", "screening")
            if (sec := getattr(self, s)) is not None and sec.enabled
        ]

    def to_json(self) -> str:
        """The resolved scenario as JSON (paths absolute, every default filled in)."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


@functools.lru_cache(maxsize=16)
def _load_targets_cached(path: str) -> Targets:
    return load_targets(path)


# --- loading -------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario file not found: {path}") from None
    except IsADirectoryError:
        raise ScenarioError(f"scenario path is a folder, expected a .toml file: {path}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None


def _absolutize(raw: dict[str, Any], base_dir: Path) -> None:
    """Make the relative paths among ``_PATH_KEYS`` absolute against ``base_dir`` (in place)."""
    for keys in _PATH_KEYS:
        node: Any = raw
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        last = keys[-1]
        if isinstance(node, dict) and isinstance(node.get(last), str):
            p = Path(node[last]).expanduser()
            node[last] = str(p if p.is_absolute() else (base_dir / p).resolve())


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into a copy of ``base``: tables merge key by key, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_with_bases(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(f"extends: cycle between scenario files: {cycle}")
    raw = _read_toml(path)
    _absolutize(raw, path.parent)
    base_ref = raw.get("extends")
    if base_ref is None:
        return raw
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise ScenarioError(f"{path}: extends: expected the path of a base scenario file (text)")
    base_path = Path(base_ref).expanduser()
    if not base_path.is_absolute():
        base_path = path.parent / base_path
    if not base_path.is_file():
        raise ScenarioError(f"{path}: extends: base scenario not found: {base_path}")
    base = _read_with_bases(base_path, (*chain, path))
    merged = deep_merge(base, raw)
    merged["extends"] = str(base_path.resolve())
    return merged


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``KEY.PATH=VALUE`` into the key path and a TOML value (text if it is not TOML).

    Raises
    ------
    ScenarioError
        No ``=``, an empty key, or an empty part in the key path.
    """
    if "=" not in text:
        raise ScenarioError(
            f"--set {text!r}: expected KEY=VALUE, e.g. --set funding.budget_yuan=40000000"
        )
    key, value_text = text.split("=", 1)
    keys = [k.strip() for k in key.strip().split(".")]
    if not key.strip() or any(not k for k in keys):
        raise ScenarioError(
            f"--set {text!r}: the key must be a dotted path like funding.budget_yuan"
        )
    value_text = value_text.strip()
    try:
        value: Any = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    return keys, value


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw scenario dict (returns a new dict)."""
    out = deep_merge(raw, {})
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for depth, k in enumerate(keys[:-1]):
            child = node.get(k)
            if child is None:
                child = node[k] = {}
            elif not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ScenarioError(
                    f"--set {text!r}: {where} is a value ({child!r}), not a table, so it has no "
                    f"key {keys[depth + 1]!r}"
                )
            else:
                child = node[k] = dict(child)
            node = child
        node[keys[-1]] = value
        if tuple(keys) in _PATH_KEYS and isinstance(value, str):
            _absolutize(out, Path.cwd())
    return out


def _loc_path(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after[_consistent()]",) or str(item).startswith("function-"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _accepted_keys(loc: Sequence[int | str]) -> list[str]:
    """Field names of the model at ``loc`` (the parent of an unknown key)."""
    model: Any = Scenario
    for item in loc:
        if not isinstance(item, str) or not (
            isinstance(model, type) and issubclass(model, BaseModel)
        ):
            return []
        field = model.model_fields.get(item)
        if field is None:
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if a is not type(None)]
        model = args[0] if args else ann
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def format_validation_error(exc: ValidationError, *, source: str) -> str:
    """One line per problem: key path, what is wrong, the value given, what is accepted."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = [x for x in err["loc"] if not str(x).startswith("function-")]
        path = _loc_path(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            accepted = _accepted_keys(loc[:-1])
            hint = f"; accepted keys here: {', '.join(accepted)}" if accepted else ""
            lines.append(f"{path}: unknown key{hint}")
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            # Cross-field rules say "field: message"; show them at the field's key path.
            msg = msg[len("Value error, ") :]
            head, sep, rest = msg.partition(": ")
            if sep and (head in _accepted_keys(loc) or (not loc and "." in head)):
                path = _loc_path([*loc, *head.split(".")])
                lines.append(f"{path}: {rest}")
                continue
        given = err.get("input")
        shown = ""
        if kind != "missing" and not isinstance(given, Mapping):
            shown = f" (got {given!r})"
        lines.append(f"{path}: {msg}{shown}")
    n = len(lines)
    head = f"{source}: {n} problem{'s' if n != 1 else ''} in the scenario"
    return head + "\n  " + "\n  ".join(lines)


def scenario_from_dict(raw: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Validate a raw scenario mapping; :class:`ScenarioError` names every bad key path."""
    try:
        return Scenario.model_validate(dict(raw))
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, source=source)) from None


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, merge (``extends``), override (``--set``) and validate a scenario file.

    Parameters
    ----------
    path
        The scenario TOML file.
    overrides
        ``KEY=VALUE`` strings, e.g. ``["funding.budget_yuan=40000000"]``, applied in order.

    Raises
    ------
    ScenarioError
        The file is missing or not TOML, ``extends`` is broken or cyclic, an override is malformed,
        or validation fails (the message names each key path and what is accepted).
    """
    path = Path(path)
    raw = _read_with_bases(path)
    raw = apply_overrides(raw, overrides)
    source = str(path) + (" with --set " + " ".join(overrides) if overrides else "")
    scenario = scenario_from_dict(raw, source=source)
    logger.info("scenario %s loaded from %s", scenario.name, path)
    return scenario
