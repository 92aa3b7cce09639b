"""Child screening tours: expert teams from a provincial base screen children in townships.

The programme (:func:`run`, registered in :mod:`lnplan.programs`)
------------------------------------------------------------------
1. **Sites**: townships with children awaiting screening (``children_8_14`` in
   ``world.townships``). When there are more than the horizon could ever serve, only the largest
   are offered to the solver (:func:`preselect`): sorted by children, until they hold
   ``PRESELECT_FACTOR`` times the children the teams could screen if they never drove or set up.
   Every township not screened, offered or not, is listed in ``unscreened``.
2. **Base**: ``screening.base`` names a city (its city rehabilitation centre) or a county (its
   county rehabilitation centre) in ``world.facilities``; all ``n_teams`` teams start there.
3. **Travel**: road travel times from :class:`lnplan.geo.travel.RoadModel` (great-circle km times
   the terrain's detour factor over its speed; mountain counties from the world); road km are
   great-circle km times the mean detour factor of the two ends.
4. **Routing** (:mod:`lnplan.optimize.routing`): working days ``day_start``-``day_end`` with a
   ``lunch_min`` break at 12:00 (or mid-day if 12:00 is outside the day), trips of at most
   ``max_trip_days`` days sleeping where each day ends, ``horizon_days`` working days, service
   ``setup_min + min_per_child × children`` per visit, large townships split into visit-days, and
   townships dropped (fewest children first) when the horizon is too short.

Outputs (aggregates by township; no household rows): tables ``schedule`` (per team, day and
visit, with arrival, start, end and departure times), ``team_days`` (children, km and hours
driven, overnight place), ``teams`` (totals), ``unscreened`` (children left per township); layers
``routes`` (one line per trip), ``screened`` and ``unscreened`` (township points).
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from shapely.geometry import LineString

from lnplan.errors import InputError, UnknownPlaceError
from lnplan.geo.aggregate import MIN_HOUSEHOLDS, suppress_small_counts

if TYPE_CHECKING:
    from lnplan.optimize.routing import RoutingProblem, RoutingResult
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario, ScreeningSection
    from lnplan.world import World

logger = logging.getLogger(__name__)

NAME = "screening_routes"
SECTION = "screening"

#: Offer the solver townships holding this many times the children the teams could screen at most.
PRESELECT_FACTOR = 2.0
#: Never offer fewer townships than this (when there are that many).
PRESELECT_MIN = 60


@dataclass(frozen=True)
class Base:
    """Where the teams start: a rehabilitation centre."""

    name: str
    lon: float
    lat: float
    county_code: str


def find_base(place: str, world: World) -> Base:
    """The city or county rehabilitation centre of ``place`` (a city or county name).

    Raises
    ------
    UnknownPlaceError
        ``place`` is neither a city nor a county of the world; lists the closest names.
    InputError
        The place has no rehabilitation centre among ``world.facilities``.
    """
    towns, fac = world.townships, world.facilities
    cities = dict(zip(towns["city"].astype(str), towns["city_code"].astype(str), strict=False))
    counties = dict(
        zip(towns["county"].astype(str), towns["county_code"].astype(str), strict=False)
    )
    if place in cities:
        hit = fac[
            (fac["kind"] == "city_rehab_centre") & (fac["city_code"].astype(str) == cities[place])
        ]
    elif place in counties:
        hit = fac[
            (fac["kind"] == "county_rehab_centre")
            & (fac["county_code"].astype(str) == counties[place])
        ]
    else:
        names = sorted(set(cities) | set(counties))
        raise UnknownPlaceError(
            place,
            difflib.get_close_matches(place, names, n=5, cutoff=0.3),
            what="base city or county",
        )
    if hit.empty:
        raise InputError(f"screening.base {place!r}: no rehabilitation centre found there")
    row = hit.to_crs("EPSG:4326").iloc[0]
    return Base(
        name=str(row["name"]),
        lon=float(row.geometry.x),
        lat=float(row.geometry.y),
        county_code=str(row["county_code"]),
    )


def preselect(towns: pd.DataFrame, sec: ScreeningSection) -> pd.DataFrame:
    """The townships offered to the solver: the largest, until they hold ``PRESELECT_FACTOR``
    times the most children the teams could screen (no driving, no set-up)."""
    work_min = sec.working_min_per_day
    ceiling = sec.n_teams * sec.horizon_days * work_min / sec.min_per_child
    ordered = towns.sort_values(["children_8_14", "code"], ascending=[False, True])
    cum = ordered["children_8_14"].cumsum().to_numpy()
    n = int(np.searchsorted(cum, PRESELECT_FACTOR * ceiling) + 1)
    n = min(len(ordered), max(n, PRESELECT_MIN))
    return ordered.head(n)


def _calendar(sec: ScreeningSection):  # -> Calendar
    from lnplan.optimize.routing import Calendar

    start = sec.day_start.hour * 3600 + sec.day_start.minute * 60
    end = sec.day_end.hour * 3600 + sec.day_end.minute * 60
    lunch = sec.lunch_min * 60
    lunch_start = 12 * 3600
    if lunch and not (start < lunch_start and lunch_start + lunch < end):
        lunch_start = (start + end - lunch) // 2
    return Calendar(
        horizon_days=sec.horizon_days,
        trip_max_days=sec.max_trip_days,
        day_start_s=start,
        day_end_s=end,
        lunch_start_s=lunch_start,
        lunch_s=lunch,
    )


def build_problem(
    scenario: Scenario, world: World
) -> tuple[RoutingProblem, pd.DataFrame, Base, npt.NDArray[np.float64]]:
    """The routing problem of the scenario: problem, offered townships, base, node lon/lat."""
    from lnplan.geo.travel import (
        RoadModel,
        distance_matrix_km,
        layer_lonlat,
        travel_time_matrix_min,
    )
    from lnplan.optimize.routing import ScreeningSite, build_screening_problem

    sec = scenario.screening
    assert sec is not None
    towns = world.townships[world.townships["children_8_14"] > 0]
    if towns.empty:
        raise InputError("world.townships: no township has children awaiting screening")
    base = find_base(sec.base, world)
    offered = preselect(towns, sec)
    lonlat = np.vstack([[base.lon, base.lat], layer_lonlat(offered, "townships")])
    mountain_codes = world.mountain_counties()
    mountain = np.array(
        [base.county_code in mountain_codes]
        + [str(c) in mountain_codes for c in offered["county_code"]]
    )
    model = RoadModel.from_scenario(scenario.travel)
    minutes = travel_time_matrix_min(
        lonlat, lonlat, model=model, a_mountain=mountain, b_mountain=mountain
    )
    detour = np.where(mountain, model.mountain_detour_factor, model.plain_detour_factor)
    road_km = distance_matrix_km(lonlat, lonlat) * (detour[:, None] + detour[None, :]) / 2.0
    labels = [f"{c}{n}" for c, n in zip(offered["county"], offered["name"], strict=True)]
    sites = [
        ScreeningSite(node=k + 1, children=int(c), name=labels[k])
        for k, c in enumerate(offered["children_8_14"])
    ]
    problem = build_screening_problem(
        np.rint(minutes * 60).astype(np.int64),
        road_km,
        sites,
        [0] * sec.n_teams,
        calendar=_calendar(sec),
        setup_s=sec.setup_min * 60,
        per_child_s=round(sec.min_per_child * 60),
        team_names=[f"team {k + 1}" for k in range(sec.n_teams)],
        node_names=[base.name, *labels],
    )
    return problem, offered, base, lonlat


def _clock(t_s: int, day_s: int | None = None) -> str:
    """``HH:MM`` of a moment; ``(+n d)`` when it falls ``n`` days after ``day_s``'s day."""
    tod = t_s % 86400
    text = f"{tod // 3600:02d}:{tod % 3600 // 60:02d}"
    if day_s is not None and t_s // 86400 > day_s // 86400:
        text += f" (+{t_s // 86400 - day_s // 86400} d)"
    return text


def tables(
    problem: RoutingProblem, result: RoutingResult, offered: pd.DataFrame, towns: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Schedule, team-day, team and unscreened tables of a routing result."""
    site_of_node = {k + 1: row for k, (_, row) in enumerate(offered.iterrows())}
    schedule, days, teams = [], [], []
    trip_no: dict[int, int] = {}
    screened = pd.Series(0, index=towns["code"].astype(str))
    for trip in result.trips:
        trip_no[trip.team] = trip_no.get(trip.team, 0) + 1
        order = 0
        for day in trip.days:
            for v in day.visits:
                order += 1
                site = site_of_node[v.node]
                screened[str(site["code"])] += v.demand
                schedule.append(
                    {
                        "team": trip.team_name,
                        "trip": trip_no[trip.team],
                        "day": day.day + 1,
                        "order": order,
                        "township_code": str(site["code"]),
                        "township": site["name"],
                        "county": site["county"],
                        "city": site["city"],
                        "visit": problem.stops[v.stop].name,
                        "arrive": _clock(v.arrival_s),
                        "start": _clock(v.start_s),
                        "end": _clock(v.end_s),
                        "depart": _clock(v.departure_s, v.start_s),
                        "children_screened": v.demand,
                    }
                )
            days.append(
                {
                    "team": trip.team_name,
                    "trip": trip_no[trip.team],
                    "day": day.day + 1,
                    "stops": len(day.visits),
                    "children_screened": day.children,
                    "km_driven": round(day.driving_km, 1),
                    "hours_driven": round(day.driving_h, 2),
                    "overnight": day.overnight_name,
                }
            )
    for k, team in enumerate(problem.teams):
        own = [t for t in result.trips if t.team == k]
        teams.append(
            {
                "team": team.name,
                "trips": len(own),
                "days_away": sum(len(t.days) for t in own),
                "townships_visited": len({v.node for t in own for v in t.visits}),
                "children_screened": sum(t.demand for t in own),
                "km_driven": round(sum(t.distance_km for t in own), 1),
                "hours_driven": round(sum(t.travel_time_s for t in own) / 3600, 2),
            }
        )
    left = towns.assign(
        children_screened=screened.reindex(towns["code"].astype(str)).to_numpy(),
    )
    left = left.assign(children_left=left["children_8_14"] - left["children_screened"])
    left = left[left["children_left"] > 0]
    unscreened = pd.DataFrame(
        {
            "township_code": left["code"].astype(str),
            "township": left["name"],
            "county": left["county"],
            "city": left["city"],
            "children_left": left["children_left"].astype(int),
            "offered_to_solver": left["code"].isin(offered["code"]),
        }
    ).sort_values(["children_left", "township_code"], ascending=[False, True])
    return {
        "schedule": pd.DataFrame(schedule),
        "team_days": pd.DataFrame(days),
        "teams": pd.DataFrame(teams),
        "unscreened": unscreened.reset_index(drop=True),
    }


def layers(
    result: RoutingResult,
    lonlat: npt.NDArray[np.float64],
    towns: gpd.GeoDataFrame,
    tabs: dict[str, pd.DataFrame],
    *,
    min_count: int = MIN_HOUSEHOLDS,
) -> dict[str, gpd.GeoDataFrame]:
    """Trip lines and screened / unscreened township points (aggregates only).

    Township counts of children from 1 to ``min_count - 1`` are blanked in these shareable
    layers (the tables for the teams keep them).
    """
    lines = []
    trip_no: dict[int, int] = {}
    for trip in result.trips:
        trip_no[trip.team] = trip_no.get(trip.team, 0) + 1
        nodes = [trip.base_node, *[v.node for v in trip.visits], trip.base_node]
        lines.append(
            {
                "team": trip.team_name,
                "trip": trip_no[trip.team],
                "first_day": trip.days[0].day + 1,
                "last_day": trip.days[-1].day + 1,
                "children_screened": trip.demand,
                "km": round(trip.distance_km, 1),
                "geometry": LineString([tuple(lonlat[n]) for n in nodes]),
            }
        )
    routes = (
        gpd.GeoDataFrame(lines, geometry="geometry", crs="EPSG:4326")
        if lines
        else gpd.GeoDataFrame({"team": []}, geometry=[], crs="EPSG:4326")
    )
    sched = tabs["schedule"]
    points = towns.to_crs("EPSG:4326")
    screened_layer = gpd.GeoDataFrame()
    if not sched.empty:
        per = sched.groupby("township_code").agg(
            children_screened=("children_screened", "sum"),
            team=("team", "first"),
            first_day=("day", "min"),
        )
        hit = points[points["code"].astype(str).isin(per.index)]
        screened_layer = gpd.GeoDataFrame(
            {
                "township": hit["name"].to_numpy(),
                "county": hit["county"].to_numpy(),
                "children_screened": per.loc[
                    hit["code"].astype(str), "children_screened"
                ].to_numpy(),
                "team": per.loc[hit["code"].astype(str), "team"].to_numpy(),
                "first_day": per.loc[hit["code"].astype(str), "first_day"].to_numpy(),
            },
            geometry=hit.geometry.to_numpy(),
            crs="EPSG:4326",
        )
    left = tabs["unscreened"].set_index("township_code")
    miss = points[points["code"].astype(str).isin(left.index)]
    unscreened_layer = gpd.GeoDataFrame(
        {
            "township": miss["name"].to_numpy(),
            "county": miss["county"].to_numpy(),
            "children_left": left.loc[miss["code"].astype(str), "children_left"].to_numpy(),
        },
        geometry=miss.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    unscreened_layer = suppress_small_counts(unscreened_layer, ["children_left"], minimum=min_count)
    # Drawn in this order: the many unscreened townships underneath, the routes on top.
    out = {"unscreened": unscreened_layer}
    if not screened_layer.empty:
        out["screened"] = suppress_small_counts(
            screened_layer, ["children_screened"], minimum=min_count
        )
    out["routes"] = routes
    return out


def run(scenario: Scenario, world: World, out_dir: Path) -> ProgrammeOutput:
    """Plan the screening tours of the scenario on the world (see the module docstring)."""
    from lnplan.optimize.routing import SolveParams, solve_routing
    from lnplan.programs import ProgrammeOutput

    sec = scenario.screening
    if sec is None:
        raise InputError("the scenario has no [screening] section")
    problem, offered, base, lonlat = build_problem(scenario, world)
    logger.info(
        "screening: %d townships offered (%d visits), %d teams from %s",
        len(offered), len(problem.stops), sec.n_teams, base.name,
    )  # fmt: skip
    params = SolveParams(
        time_limit_s=sec.time_limit_s, seed=scenario.seed, max_iterations=sec.max_iterations
    )
    result = solve_routing(problem, params)
    towns = world.townships[world.townships["children_8_14"] > 0]
    tabs = tables(problem, result, offered, towns)
    summary = {
        "engine": result.engine,
        "status": result.status,
        "base": base.name,
        "teams": sec.n_teams,
        "horizon_days": sec.horizon_days,
        "children_awaiting": int(towns["children_8_14"].sum()),
        "children_screened": int(result.demand_served),
        "children_left": int(towns["children_8_14"].sum()) - int(result.demand_served),
        "townships_visited": int(tabs["schedule"]["township_code"].nunique())
        if not tabs["schedule"].empty
        else 0,
        "townships_offered": len(offered),
        "trips": result.n_routes,
        "km_driven": round(result.distance_km, 1),
        "hours_driven": round(result.travel_time_s / 3600, 1),
        "runtime_s": round(result.runtime_s, 1),
        "solution_checked": result.checked,
    }
    if world.label:
        summary["data"] = world.label
    return ProgrammeOutput(
        name=NAME,
        tables=tabs,
        layers=layers(result, lonlat, towns, tabs, min_count=scenario.maps.min_cell_households),
        summary=summary,
    )
