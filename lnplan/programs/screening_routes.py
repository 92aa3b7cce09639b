"""Child screening tours: expert teams from their bases screen children in townships.

The programme (:func:`run`, registered in :mod:`lnplan.programs`)
------------------------------------------------------------------
1. **Teams**: ``n_teams`` teams of ``examiners_per_team`` examiners. Team ``k`` is based at
   ``screening.bases[k % len(bases)]`` (a city: its city rehabilitation centre; a county: its
   county rehabilitation centre in ``world.facilities``), or at ``screening.base`` for all.
   A visit screening ``c`` children takes ``setup_min + c × min_per_child ÷ examiners_per_team``
   minutes (:func:`service_s`), so a team-day screens at most :func:`children_per_team_day`.
2. **Dates**: ``horizon_days`` working days from ``start_date``, skipping weekends, China's
   public holidays (days worked in lieu count) and ``blocked_dates``
   (:mod:`lnplan.programs.screening_calendar`). Every table carries dates.
3. **Travel**: road minutes from :class:`lnplan.geo.travel.RoadModel` (great-circle km times the
   terrain's detour factor over its speed), replaced by ``data.travel_matrix`` for the pairs it
   has (ids: township codes and the bases' facility ids); road km are great-circle km times the
   mean detour factor of the two ends.
4. **Visit-days**: a township out of reach in one working day (the shortest drive in leaves no
   time for one child) is left out and listed in ``unscreened`` with the reason. A township over
   one day's capacity is split into full visit-days and a remainder (:func:`split_parts`), each
   paying its own set-up; visits are numbered in the order they happen.
5. **Offer** (:func:`preselect`): per city (and priority county) the most valuable visit-days
   until they hold the floors ``min_share_by_city`` / ``min_share_priority``, then the most
   valuable of the rest, value being children × weight (``priority_weight``,
   ``mountain_weight``) per second on site and driving in.
6. **Routing** (:mod:`lnplan.optimize.routing`): trips of at most ``max_trip_days`` working days
   sleeping where each day ends; each visit may be dropped at a penalty of its children times
   their weight (four times more for visit-days that meet a floor); ``balance_weight`` evens
   the trips out.
7. **Check** (:mod:`lnplan.programs.screening_check`): the tables are re-derived from the
   scenario and the travel model by independent code before anything is returned; a broken
   rule stops the run (:class:`~lnplan.programs.screening_check.PlanCheckError`).

Floors the data prove impossible (a city's reachable children, or more children than
:func:`upper_bound` allows) raise :class:`lnplan.errors.InfeasibleError`; floors the search
misses are reported (``floors`` table, ``floors_met``). The summary states the need in team-days
(screening time alone) beside the team-days available and used, and an upper bound on the
children the teams can screen (:func:`upper_bound`) with the gap. With ``target_share`` and
``deadline``, :func:`size_campaign` finds the fewest teams reaching the share by the deadline.

Per team and per township (:func:`_team_days_and_hours`):

- ``team_blocked_dates``: team ``k`` (numbered from 1) does no screening on these dates (leave,
  another duty). None of its trips includes them: it is back at its base the working day before
  and leaves again the working day after, because a team called to another duty is not in the
  field; blocked days count as days off between two trips (``rest_days``).
- ``visiting_hours`` / ``visiting_hours_by_township``: a township hospital receives a team only
  in these hours; the visit (set-up included) starts inside them and may run on, as a hospital
  that has received a team keeps its rooms for it. The same hours hold on every working day.
- ``gather_km`` (:func:`gather_hosts`): the children of every township within ``gather_km`` road
  km of a host township's hospital are screened there; their families bring them, so the
  team's only visit is to the host, whose visit-days hold all their children (service time grows
  with them, split into visit-days as above). Hosts are chosen by a greedy set cover by
  children: the township whose hospital has the most children not yet served within reach hosts
  them all (ties: lowest code), until every township is served. The ``gathering`` table lists
  each township served at a host with others, the road km to it and its children; a host's
  visits screen its own children first, then its neighbours', nearest first (:func:`_share_out`).

Outputs (aggregates by township; no household rows): tables ``schedule`` (per team, date and
visit: arrival, start, end, departure), ``trips`` (leave and return), ``team_days`` (children, km
and hours driven, overnight place), ``teams``, ``unscreened`` (children left per township and
why), ``coverage_by_city``, ``coverage_by_county``, ``floors``, ``sizing``, ``gathering``;
layers ``routes`` (one line per trip), ``screened`` and ``unscreened`` (township points),
``coverage`` (counties).
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from shapely.geometry import LineString

from lnplan.errors import InfeasibleError, InputError, UnknownPlaceError
from lnplan.geo.aggregate import MIN_HOUSEHOLDS, suppress_small_counts
from lnplan.programs.screening_calendar import CampaignDates, working_days_until

if TYPE_CHECKING:
    from lnplan.optimize.routing import RoutingProblem, RoutingResult, SolveParams
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import MatrixSource, Scenario, ScreeningSection
    from lnplan.world import World

logger = logging.getLogger(__name__)

NAME = "screening_routes"
SECTION = "screening"

#: Offer the solver visit-days holding this share of the children the teams could screen with no
#: driving. The search starts from an exactly timed greedy plan, so a larger offer screens more,
#: at more model-building time: on the demo (8 teams x 30 days, 5 solutions per round) offers of
#: 0.3 / 0.4 / 0.5 / 0.6 of that capacity screened 4,764 / 5,655 / 5,735 / 5,850 children in
#: 2.9 / 6.5 / 8.5 / 14.3 s of CPU (0.6 offers every reachable township).
PRESELECT_FACTOR = 0.5
#: Never offer fewer townships than this (when there are that many).
PRESELECT_MIN = 60
#: Sizing offers at least this many times the target's children (the offer must not bind).
SIZING_OFFER = 1.25
#: A visit-day chosen to meet a city's or priority county's floor is worth this many times more.
FLOOR_BOOST = 4.0


@dataclass(frozen=True)
class Base:
    """Where the teams start: a rehabilitation centre."""

    name: str
    lon: float
    lat: float
    county_code: str
    facility_id: str = ""


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
        facility_id=str(row["facility_id"]),
    )


def team_bases(sec: ScreeningSection, world: World) -> list[Base]:
    """The base of every team: ``screening.bases`` in turn, or ``screening.base`` for all."""
    places = sec.bases or [sec.base]
    found = {p: find_base(p, world) for p in dict.fromkeys(places)}
    return [found[places[k % len(places)]] for k in range(sec.n_teams)]


def per_child_s(sec: ScreeningSection) -> int:
    """Seconds of a visit per child: ``min_per_child`` minutes shared by the team's examiners."""
    return round(sec.min_per_child * 60 / sec.examiners_per_team)


def service_s(sec: ScreeningSection, children: int) -> int:
    """Seconds on site for a visit screening ``children``: set-up plus the children's time."""
    return sec.setup_min * 60 + children * per_child_s(sec)


def children_per_team_day(sec: ScreeningSection) -> int:
    """Most children one team can screen in a working day with no driving (one set-up)."""
    return max((sec.working_min_per_day * 60 - sec.setup_min * 60) // per_child_s(sec), 0)


@dataclass(frozen=True)
class Part:
    """One visit-day of a township offered to the solver (a township over a day's capacity is
    split into full days and a remainder, each paying its own set-up)."""

    key: str
    row: int  # position in the township table
    children: int
    value: float  # children x weight (priority / mountain), per second on site and driving in
    weight: float
    floor: bool = False  # chosen to meet a floor


def _priority_codes(world: World) -> set[str]:
    ind = world.county_indicators
    return set(ind.loc[ind["priority"].astype(bool), "county_code"].astype(str))


def _weights(towns: pd.DataFrame, sec: ScreeningSection, world: World) -> npt.NDArray[np.float64]:
    """Value of one child of each township: priority and mountain weights multiply."""
    priority = _priority_codes(world)
    codes = towns["county_code"].astype(str)
    w = np.ones(len(towns))
    w *= np.where(codes.isin(priority), sec.priority_weight, 1.0)
    w *= np.where(codes.isin(world.mountain_counties()), sec.mountain_weight, 1.0)
    return w


def _max_per_day(reach_s: npt.NDArray[np.int64], sec: ScreeningSection, work_s: int):
    """Most children one visit-day can screen after the drive in (``< 1``: out of reach)."""
    return (work_s - reach_s - sec.setup_min * 60) // per_child_s(sec)


def split_parts(children: int, max_per_day: int) -> list[int]:
    """Split ``children`` into full visit-days of ``max_per_day`` and one remainder day.

    Full days keep every visit-day of a large township as productive as a day at a township of
    ``max_per_day`` children (equal halves would each leave room unused and lose to smaller
    townships); the remainder is a short day the team can share with a neighbour.
    """
    if children <= 0 or max_per_day < 1:
        return []
    full, rest = divmod(children, max_per_day)
    return [max_per_day] * full + ([rest] if rest else [])


def preselect(
    parts: list[Part],
    towns: pd.DataFrame,
    sec: ScreeningSection,
    capacity: int,
    priority_codes: Collection[str] = (),
    *,
    min_children: int = 0,
) -> list[Part]:
    """The visit-days offered to the solver.

    First, in every city, the most valuable visit-days (children times weight per second on site
    and driving in) until they hold the city's floor (``min_share_by_city``, plus
    ``min_share_priority`` in priority counties); then the most valuable of the rest until the
    offer holds ``PRESELECT_FACTOR`` times ``capacity`` children, and at least ``min_children``
    children and ``PRESELECT_MIN`` visit-days.
    """
    ranked = sorted(parts, key=lambda p: (-p.value, p.key))
    chosen: dict[str, Part] = {}
    city = towns["city"].astype(str).to_numpy()
    children = towns["children_8_14"].to_numpy()
    groups: list[tuple[npt.NDArray[np.bool_], float]] = [
        (city == c, sec.min_share_by_city) for c in sorted(set(city))
    ]
    if sec.min_share_priority > 0 and priority_codes:
        county = towns["county_code"].astype(str).to_numpy()
        pri = np.isin(county, sorted(priority_codes))
        groups += [(county == c, sec.min_share_priority) for c in sorted(set(county[pri]))]
    for mask, share in groups:
        need = share * float(children[mask].sum())
        got = sum(p.children for p in chosen.values() if mask[p.row])
        for p in ranked:
            if got >= need:
                break
            if mask[p.row] and p.key not in chosen:
                chosen[p.key] = replace(p, floor=True)
                got += p.children
    total = sum(p.children for p in chosen.values())
    for p in ranked:
        enough = max(PRESELECT_FACTOR * capacity, min_children)
        if total >= enough and len(chosen) >= PRESELECT_MIN:
            break
        if p.key not in chosen:
            chosen[p.key] = p
            total += p.children
    return sorted(chosen.values(), key=lambda p: (p.row, p.key))


@dataclass
class Plan:
    """Everything :func:`run` needs to solve and to write the tables."""

    problem: RoutingProblem
    towns: pd.DataFrame  # every township with children
    parts: list[Part]  # offered, in the order of the problem's sites
    part_of_stop: list[Part]
    bases: list[Base]  # per team
    base_nodes: list[int]  # per team
    lonlat: npt.NDArray[np.float64]  # per node
    node_row: list[int]  # township row of each node (-1 for bases)
    unreachable: dict[int, str]  # township row -> reason
    dates: CampaignDates
    capacity: int  # children the teams could screen with no driving
    all_parts: list[Part]  # every reachable visit-day (for the bound)
    reach_s: npt.NDArray[np.int64]  # shortest drive into each township
    priority_codes: set[str]
    counties: gpd.GeoDataFrame
    # Gathering points (``screening.gather_km``); without it every township is its own host.
    host_of: npt.NDArray[np.int64]  # township row -> row of the township whose hospital serves it
    gathered: npt.NDArray[np.int64]  # children screened at each township's hospital
    host_km: npt.NDArray[np.float64]  # road km from each township to its host

    @property
    def gathering(self) -> bool:
        """True when some township's children are screened at another township's hospital."""
        return bool((self.host_of != np.arange(len(self.host_of))).any())


def _travel(
    scenario: Scenario, world: World, bases: list[Base], towns: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    """Road minutes and km between distinct bases and every township, node lon/lat, and the
    source of the minutes (road model, or ``data.travel_matrix`` for the pairs it has)."""
    from lnplan.geo.travel import (
        RoadModel,
        distance_matrix_km,
        layer_lonlat,
        read_travel_matrix,
        travel_time_matrix_min,
    )

    lonlat = np.vstack([[[b.lon, b.lat] for b in bases], layer_lonlat(towns, "townships")])
    mountain_codes = world.mountain_counties()
    mountain = np.array(
        [b.county_code in mountain_codes for b in bases]
        + [str(c) in mountain_codes for c in towns["county_code"]]
    )
    model = RoadModel.from_scenario(scenario.travel)
    minutes = travel_time_matrix_min(
        lonlat, lonlat, model=model, a_mountain=mountain, b_mountain=mountain
    )
    detour = np.where(mountain, model.mountain_detour_factor, model.plain_detour_factor)
    road_km = distance_matrix_km(lonlat, lonlat) * (detour[:, None] + detour[None, :]) / 2.0
    source = "road model"
    matrix = scenario.data.travel_matrix
    if matrix is not None:
        ids = [b.facility_id for b in bases] + [str(c) for c in towns["code"]]
        known = _matrix_ids(matrix)
        extra = sorted(known - set(ids))
        full = read_travel_matrix(
            matrix.path,
            origin_ids=ids + extra,
            destination_ids=ids + extra,
            origin_column=matrix.origin_column,
            destination_column=matrix.destination_column,
            value_column=matrix.value_column,
        ).tocoo()
        n = len(ids)
        keep = (full.row < n) & (full.col < n)
        minutes[full.row[keep], full.col[keep]] = full.data[keep]
        source = f"data.travel_matrix for {int(keep.sum())} pairs, road model for the rest"
    return minutes, road_km, lonlat, source


def _matrix_ids(matrix: MatrixSource) -> set[str]:
    """Every origin and destination id in the user matrix (to read it with ids of other runs)."""
    cols = [matrix.origin_column, matrix.destination_column]
    path = Path(matrix.path)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, usecols=cols, dtype=str)
        else:
            frame = pd.read_parquet(path, columns=cols)
    except (ValueError, OSError):
        return set()  # read_travel_matrix names the problem
    return set(frame[cols[0]].astype(str).str.strip()) | set(frame[cols[1]].astype(str).str.strip())


def build_plan(
    scenario: Scenario, world: World, *, n_teams: int | None = None, min_offer: int = 0
) -> Plan:
    """The routing problem of the scenario, with everything needed to report it.

    Townships out of reach in one working day are left out (listed with the reason); large
    townships are split into full visit-days and a remainder; the most valuable visit-days are
    offered (:func:`preselect`); each visit's drop penalty is its children times their weight.
    """
    from lnplan.optimize.routing import ScreeningSite, build_screening_problem

    sec = scenario.screening
    assert sec is not None
    if n_teams is not None:
        sec = sec.model_copy(update={"n_teams": n_teams})
    if sec.start_date is None:
        raise InputError(
            "screening.start_date: give the campaign's first day (e.g. 2023-09-04); every "
            "table is dated from it"
        )
    dates = CampaignDates.from_start(sec.start_date, sec.horizon_days, sec.blocked_dates)
    towns = world.townships[world.townships["children_8_14"] > 0].reset_index(drop=True)
    if towns.empty:
        raise InputError("world.townships: no township has children awaiting screening")
    _check_township_codes(sec, world)
    bases = team_bases(sec, world)
    distinct = list(dict.fromkeys(bases))
    nb = len(distinct)
    minutes, road_km, lonlat, _ = _travel(scenario, world, distinct, towns)
    tt = np.rint(minutes * 60).astype(np.int64)
    cal = _calendar(sec)
    work = cal.work_per_day_s
    n = len(towns)
    town_nodes = np.arange(nb, nb + n)
    children = towns["children_8_14"].to_numpy().astype(np.int64)
    town_km = road_km[np.ix_(town_nodes, town_nodes)]
    host_of = gather_hosts(town_km, children, towns["code"].astype(str).tolist(), sec.gather_km)
    gathered = np.bincount(host_of, weights=children, minlength=n).astype(np.int64)
    # The drive into a township: from the nearest place a team can sleep (a base, or another
    # township on multi-day trips; the round trip from the nearest base on one-day trips).
    if sec.max_trip_days > 1:
        into = tt[:, town_nodes].copy()
        into[town_nodes, np.arange(n)] = np.iinfo(np.int64).max
        into[nb + np.flatnonzero(gathered == 0)] = np.iinfo(np.int64).max  # never visited
        reach = into.min(axis=0)
    else:
        reach = (tt[:nb, town_nodes] + tt[town_nodes, :nb].T).min(axis=0)
    max_day = _max_per_day(reach, sec, work)
    unreachable = {
        int(i): (
            f"车程过远：最近的驶入车程需 {reach[i] / 3600:.1f} 小时，{work / 3600:.1f} 小时的"
            f"工作日扣除 {sec.setup_min} 分钟准备后不足以筛查 1 名儿童"
        )
        for i in np.flatnonzero((max_day < 1) & (gathered > 0))
    }
    weight = _weights(towns, sec, world)
    if sec.gather_km is not None:  # a host's children: the mean weight of those it gathers
        mean = np.bincount(host_of, weights=children * weight, minlength=n)
        weight = np.where(gathered > 0, mean / np.maximum(gathered, 1), weight)
    parts: list[Part] = []
    for i in range(n):
        if i in unreachable or gathered[i] == 0:
            continue
        sizes = split_parts(int(gathered[i]), int(max_day[i]))
        for j, c in enumerate(sizes):
            value = c * weight[i] / (service_s(sec, c) + (int(reach[i]) if j == 0 else 0))
            parts.append(Part(f"{towns['code'].iloc[i]}#{j + 1}", i, c, value, float(weight[i])))
    capacity = sec.n_teams * sec.horizon_days * children_per_team_day(sec)
    offered = preselect(parts, towns, sec, capacity, _priority_codes(world), min_children=min_offer)
    if sec.max_trip_days > 1:
        offered = _fit_offer(offered, tt, nb, sec, work, towns, unreachable)
    for m in np.flatnonzero(host_of != np.arange(n)).tolist():
        h = int(host_of[m])
        if h in unreachable:  # the children of a host out of reach are not screened
            where = f"在{towns['county'].iloc[h]}{towns['name'].iloc[h]}集中筛查；"
            unreachable[m] = where + unreachable[h]
    rows = sorted({p.row for p in offered})
    node_of_row = {r: nb + k for k, r in enumerate(rows)}
    keep = list(range(nb)) + [nb + r for r in rows]
    labels = [f"{towns['county'].iloc[r]}{towns['name'].iloc[r]}" for r in rows]
    sites = [
        ScreeningSite(node=node_of_row[p.row], children=p.children, name=p.key) for p in offered
    ]
    problem = build_screening_problem(
        tt[np.ix_(keep, keep)],
        road_km[np.ix_(keep, keep)],
        sites,
        [distinct.index(b) for b in bases],
        calendar=cal,
        setup_s=sec.setup_min * 60,
        per_child_s=per_child_s(sec),
        team_names=[f"{k + 1}队" for k in range(sec.n_teams)],
        node_names=[b.name for b in distinct] + labels,
        balance_weight=sec.balance_weight,
    )
    by_key = {p.key: p for p in offered}
    part_of_stop = [by_key[s.site] for s in problem.stops]
    # Value: children x weight; a floor on the share of a city or priority county is the
    # programme's to check (the drop penalty makes a floor's children worth more).
    stops = tuple(
        replace(
            s,
            drop_penalty=round((s.drop_penalty or 0) * p.weight * (FLOOR_BOOST if p.floor else 1)),
        )
        for s, p in zip(problem.stops, part_of_stop, strict=True)
    )
    problem = replace(problem, stops=stops)
    problem = _team_days_and_hours(
        problem, sec, dates, [str(towns["code"].iloc[p.row]) for p in part_of_stop]
    )
    return Plan(
        problem=problem,
        towns=towns,
        parts=offered,
        part_of_stop=part_of_stop,
        bases=bases,
        base_nodes=[distinct.index(b) for b in bases],
        lonlat=lonlat[keep],
        node_row=[-1] * nb + rows,
        unreachable=unreachable,
        dates=dates,
        capacity=capacity,
        all_parts=parts,
        reach_s=reach,
        priority_codes=_priority_codes(world),
        counties=world.counties,
        host_of=host_of,
        gathered=gathered,
        host_km=town_km[host_of, np.arange(n)],
    )


def gather_hosts(
    km: npt.NDArray[np.float64],
    children: npt.NDArray[np.int64],
    codes: list[str],
    gather_km: float | None,
) -> npt.NDArray[np.int64]:
    """The township whose hospital serves each township (itself without ``gather_km``).

    Greedy set cover by children: repeatedly, the township not yet served whose hospital has the
    most children of townships not yet served within ``gather_km`` road km (its own included)
    hosts all of them; ties go to the lowest township code. Every township is served at exactly
    one hospital, its own or its host's, at most ``gather_km`` away. ``km`` is the symmetric
    road-km matrix between the townships.
    """
    n = len(children)
    if gather_km is None:
        return np.arange(n, dtype=np.int64)
    within = np.asarray(km) <= gather_km
    np.fill_diagonal(within, True)
    c = np.asarray(children, dtype=np.int64)
    gain = within.astype(np.int64) @ c
    rank = np.argsort(np.argsort(np.asarray(codes), kind="stable"))  # tie-break: lowest code
    host_of = np.full(n, -1, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    while open_.any():
        cand = np.where(open_, gain, -1)
        ties = np.flatnonzero(cand == cand.max())
        h = int(ties[np.argmin(rank[ties])])
        members = np.flatnonzero(within[h] & open_)
        host_of[members] = h
        open_[members] = False
        gain -= within[:, members].astype(np.int64) @ c[members]
    return host_of


def _check_township_codes(sec: ScreeningSection, world: World) -> None:
    """Every township code of ``visiting_hours_by_township`` is a township of the world."""
    known = set(world.townships["code"].astype(str))
    for code in sec.visiting_hours_by_township:
        if code not in known:
            near = difflib.get_close_matches(code, sorted(known), n=3, cutoff=0.6)
            raise InputError(
                f"screening.visiting_hours_by_township: township code {code!r} is not a "
                f"township of the data (give the township codes of the data"
                + (f"; closest: {', '.join(near)})" if near else ")")
            )


def _team_days_and_hours(
    problem: RoutingProblem, sec: ScreeningSection, dates: CampaignDates, codes: list[str]
) -> RoutingProblem:
    """The teams' blocked days and the stops' visiting hours, from the scenario.

    Team ``k`` (numbered from 1) does not work on its ``team_blocked_dates`` that are working
    days of the campaign (the others are no working day anyway). A visit to a township starts
    inside its visiting hours (``visiting_hours_by_township``, else ``visiting_hours``), on any
    working day: one window per day and hours, on the model's clock (seconds since day 0, 00:00).
    ``codes`` are the township codes of the problem's stops.
    """
    day_of = {d: k for k, d in enumerate(dates.dates)}
    teams = tuple(
        replace(
            team,
            blocked_days=tuple(
                sorted(day_of[d] for d in sec.team_blocked_dates.get(k + 1, []) if d in day_of)
            ),
        )
        for k, team in enumerate(problem.teams)
    )
    if not sec.visiting_hours and not sec.visiting_hours_by_township:
        return replace(problem, teams=teams)
    day_s = problem.calendar.day_length_s
    stops = []
    for stop, code in zip(problem.stops, codes, strict=True):
        hours = sec.hours_of(code)
        windows = tuple(
            (d * day_s + a.hour * 3600 + a.minute * 60, d * day_s + b.hour * 3600 + b.minute * 60)
            for d in range(len(dates.dates))
            for a, b in hours
        )
        stops.append(replace(stop, time_windows_s=windows))
    return replace(problem, teams=teams, stops=tuple(stops))


def _fit_offer(
    offered: list[Part],
    tt: npt.NDArray[np.int64],
    nb: int,
    sec: ScreeningSection,
    work: int,
    towns: pd.DataFrame,
    unreachable: dict[int, str],
) -> list[Part]:
    """Re-split (or leave out) offered townships whose nearest offered neighbour is farther than
    their nearest township: the routing model measures the drive in among the places offered."""
    big = np.iinfo(np.int64).max
    while True:
        rows = sorted({p.row for p in offered})
        places = np.r_[np.arange(nb), nb + np.asarray(rows, dtype=np.int64)]
        into = tt[np.ix_(places, nb + np.asarray(rows, dtype=np.int64))].copy()
        into[nb + np.arange(len(rows)), np.arange(len(rows))] = big
        drive = into.min(axis=0)
        reach = dict(zip(rows, drive.tolist(), strict=True))
        most = dict(zip(rows, _max_per_day(drive, sec, work).tolist(), strict=True))
        changed = {r for r in rows if any(p.children > most[r] for p in offered if p.row == r)}
        if not changed:
            return offered
        kept = [p for p in offered if p.row not in changed]
        for r in sorted(changed):
            mine = [p for p in offered if p.row == r]
            if most[r] < 1:
                unreachable[r] = (
                    f"车程过远：在纳入方案的乡镇中，最近的驶入车程需 {reach[r] / 3600:.1f} 小时，"
                    f"工作日扣除 {sec.setup_min} 分钟准备后不足以筛查 1 名儿童"
                )
                continue
            for j, c in enumerate(split_parts(sum(p.children for p in mine), most[r])):
                kept.append(replace(mine[0], key=f"{towns['code'].iloc[r]}#{j + 1}", children=c))
        offered = sorted(kept, key=lambda p: (p.row, p.key))


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
        fixed_trip_blocks=sec.trip_blocks == "fixed",
        rest_days=sec.rest_days,
    )


def _clock(t_s: int) -> str:
    """``HH:MM`` of a moment (seconds since working day 0, 00:00)."""
    tod = t_s % 86400
    return f"{tod // 3600:02d}:{tod % 3600 // 60:02d}"


SCHEDULE_COLUMNS = [
    "team", "trip", "date", "order", "township_code", "township", "county", "city", "visit",
    "arrive", "start", "end", "depart_date", "depart", "children_screened",
]  # fmt: skip
TRIP_COLUMNS = [
    "team", "trip", "base", "leave_date", "leave", "return_date", "return", "children_screened",
    "km_driven",
]  # fmt: skip
TEAM_DAY_COLUMNS = [
    "team", "trip", "date", "stops", "children_screened", "km_driven", "hours_driven", "overnight",
]  # fmt: skip


def tables(plan: Plan, result: RoutingResult) -> dict[str, pd.DataFrame]:
    """Schedule, trips, team-day, team and unscreened tables of a routing result, with dates."""
    problem, towns, dates = plan.problem, plan.towns, plan.dates

    def date(t_s: int) -> str:
        return dates.text(t_s // 86400)

    # Number the visit-days of a township in the order they happen: (1/2) before (2/2).
    n_parts: dict[int, int] = {}
    for p in plan.parts:
        n_parts[p.row] = n_parts.get(p.row, 0) + 1
    visits = sorted((v.start_s, v.stop) for t in result.trips for v in t.visits)
    seen_parts: dict[int, int] = {}
    part_no: dict[int, int] = {}
    for _, stop in visits:
        row = plan.part_of_stop[stop].row
        seen_parts[row] = seen_parts.get(row, 0) + 1
        part_no[stop] = seen_parts[row]

    def label(node: int) -> str:
        return problem.node_name(node)

    schedule, days, trips, teams = [], [], [], []
    trip_no: dict[int, int] = {}
    screened = np.zeros(len(towns), dtype=np.int64)
    for trip in result.trips:
        trip_no[trip.team] = trip_no.get(trip.team, 0) + 1
        order = 0
        for day in trip.days:
            for v in day.visits:
                order += 1
                row = plan.part_of_stop[v.stop].row
                site = towns.iloc[row]
                screened[row] += v.demand
                k, n = part_no[v.stop], n_parts[row]
                schedule.append(
                    {
                        "team": trip.team_name,
                        "trip": trip_no[trip.team],
                        "date": date(v.start_s),
                        "order": order,
                        "township_code": str(site["code"]),
                        "township": site["name"],
                        "county": site["county"],
                        "city": site["city"],
                        "visit": label(v.node) + (f" ({k}/{n})" if n > 1 else ""),
                        "arrive": _clock(v.arrival_s),
                        "start": _clock(v.start_s),
                        "end": _clock(v.end_s),
                        "depart_date": date(v.departure_s),
                        "depart": _clock(v.departure_s),
                        "children_screened": v.demand,
                    }
                )
            days.append(
                {
                    "team": trip.team_name,
                    "trip": trip_no[trip.team],
                    "date": dates.text(day.day),
                    "stops": len(day.visits),
                    "children_screened": day.children,
                    "km_driven": round(day.driving_km, 1),
                    "hours_driven": round(day.driving_h, 2),
                    "overnight": day.overnight_name,
                }
            )
        trips.append(
            {
                "team": trip.team_name,
                "trip": trip_no[trip.team],
                "base": label(trip.base_node),
                "leave_date": date(trip.depart_s),
                "leave": _clock(trip.depart_s),
                "return_date": date(trip.return_s),
                "return": _clock(trip.return_s),
                "children_screened": trip.demand,
                "km_driven": round(trip.distance_km, 1),
            }
        )
    for k, team in enumerate(problem.teams):
        own = [t for t in result.trips if t.team == k]
        teams.append(
            {
                "team": team.name,
                "base": label(team.base),
                "trips": len(own),
                "days_away": sum(len(t.days) for t in own),
                "townships_visited": len({v.node for t in own for v in t.visits}),
                "children_screened": sum(t.demand for t in own),
                "km_driven": round(sum(t.distance_km for t in own), 1),
                "hours_driven": round(sum(t.travel_time_s for t in own) / 3600, 2),
            }
        )
    offered_rows = {p.row for p in plan.parts}
    late = _hours_too_late(plan)
    at_host = screened
    screened = _share_out(plan, at_host)
    left = towns["children_8_14"].to_numpy() - screened
    reasons = []
    for i in range(len(towns)):
        h = int(plan.host_of[i])
        where = "" if h == i else f"在{towns['county'].iloc[h]}{towns['name'].iloc[h]}集中筛查；"
        if i in plan.unreachable:
            reasons.append(plan.unreachable[i])
        elif h in late and not screened[i]:
            reasons.append(
                where + "接待时间过晚：在乡镇卫生院接待时间内开始的筛查无法在当天工作结束前完成"
            )
        elif h not in offered_rows:
            reasons.append(where + "未纳入方案：其他乡镇每个工作日可筛查更多儿童")
        elif screened[i]:
            reasons.append(where + "部分筛查：活动工作日已用完")
        else:
            reasons.append(where + "未安排：活动工作日已用完")
    unscreened = pd.DataFrame(
        {
            "township_code": towns["code"].astype(str),
            "township": towns["name"],
            "county": towns["county"],
            "city": towns["city"],
            "children_left": left.astype(int),
            "reason": reasons,
        }
    )
    unscreened = unscreened[unscreened["children_left"] > 0].sort_values(
        ["children_left", "township_code"], ascending=[False, True]
    )
    out = {
        "schedule": pd.DataFrame(schedule, columns=SCHEDULE_COLUMNS),
        "trips": pd.DataFrame(trips, columns=TRIP_COLUMNS),
        "team_days": pd.DataFrame(days, columns=TEAM_DAY_COLUMNS),
        "teams": pd.DataFrame(teams),
        "unscreened": unscreened.reset_index(drop=True),
        **coverage_tables(plan, screened),
    }
    if plan.gathering:
        out["gathering"] = gathering_table(plan, screened)
    return out


def _hours_too_late(plan: Plan) -> set[int]:
    """Township rows none of whose visits can start in visiting hours and end by the day's end."""
    from lnplan.optimize.routing.calendar import allowed_start_intervals

    problem = plan.problem
    fits: dict[int, bool] = {}
    for k, stop in enumerate(problem.stops):
        row = plan.part_of_stop[k].row
        ok = not stop.time_windows_s or bool(allowed_start_intervals(problem.calendar, stop))
        fits[row] = fits.get(row, False) or ok
    return {row for row, ok in fits.items() if not ok}


def _share_out(plan: Plan, at_host: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Children screened per township, from the children screened at each hospital.

    A host's visits screen its own children first, then those of the townships it gathers,
    nearest first (ties: lowest code), each township up to the children awaiting there.
    """
    if not plan.gathering:
        return at_host
    towns = plan.towns
    awaiting = towns["children_8_14"].to_numpy().astype(np.int64)
    codes = towns["code"].astype(str).to_numpy()
    out = np.zeros(len(towns), dtype=np.int64)
    for h in np.flatnonzero(at_host > 0):
        members = np.flatnonzero(plan.host_of == h)
        order = sorted(members, key=lambda m: (m != h, plan.host_km[m], codes[m]))
        left = int(at_host[h])
        for m in order:
            out[m] = min(left, awaiting[m])
            left -= int(out[m])
    return out


GATHERING_COLUMNS = [
    "host_code", "host", "township_code", "township", "county", "city", "km_to_host",
    "children_awaiting", "children_screened",
]  # fmt: skip


def gathering_table(plan: Plan, screened: npt.NDArray[np.int64]) -> pd.DataFrame:
    """Every township served at a gathering point with others: the host, the road km to it and
    the children awaiting and screened (hosts that gather no other township are not listed)."""
    towns = plan.towns
    n = len(towns)
    size = np.bincount(plan.host_of, minlength=n)
    rows = []
    for i in np.flatnonzero(size[plan.host_of] > 1):
        h = int(plan.host_of[i])
        rows.append(
            {
                "host_code": str(towns["code"].iloc[h]),
                "host": f"{towns['county'].iloc[h]}{towns['name'].iloc[h]}",
                "township_code": str(towns["code"].iloc[i]),
                "township": towns["name"].iloc[i],
                "county": towns["county"].iloc[i],
                "city": towns["city"].iloc[i],
                "km_to_host": round(float(plan.host_km[i]), 1),
                "children_awaiting": int(towns["children_8_14"].iloc[i]),
                "children_screened": int(screened[i]),
            }
        )
    table = pd.DataFrame(rows, columns=GATHERING_COLUMNS)
    return table.sort_values(["host_code", "km_to_host", "township_code"]).reset_index(drop=True)


def coverage_tables(plan: Plan, screened: npt.NDArray[np.int64]) -> dict[str, pd.DataFrame]:
    """Children awaiting and screened per city and per county (with priority and terrain)."""
    towns = plan.towns.assign(children_screened=screened)
    by_county = (
        towns.groupby(["city", "county", "county_code"], sort=True)
        .agg(
            children_awaiting=("children_8_14", "sum"),
            children_screened=("children_screened", "sum"),
            terrain=("terrain", "first"),
        )
        .reset_index()
    )
    by_county.insert(3, "priority", by_county["county_code"].astype(str).isin(plan.priority_codes))
    by_county["share_screened"] = (
        by_county["children_screened"] / by_county["children_awaiting"]
    ).round(4)
    by_city = (
        towns.groupby("city", sort=True)
        .agg(
            children_awaiting=("children_8_14", "sum"),
            children_screened=("children_screened", "sum"),
        )
        .reset_index()
    )
    by_city["share_screened"] = (by_city["children_screened"] / by_city["children_awaiting"]).round(
        4
    )
    return {"coverage_by_city": by_city, "coverage_by_county": by_county}


def layers(
    result: RoutingResult,
    plan: Plan,
    tabs: dict[str, pd.DataFrame],
    *,
    min_count: int = MIN_HOUSEHOLDS,
) -> dict[str, gpd.GeoDataFrame]:
    """Trip lines and screened / unscreened township points (aggregates only).

    Township counts of children from 1 to ``min_count - 1`` are blanked in these shareable
    layers (the tables for the teams keep them).
    """
    lonlat, towns = plan.lonlat, plan.towns
    lines = []
    trip_no: dict[int, int] = {}
    for trip in result.trips:
        trip_no[trip.team] = trip_no.get(trip.team, 0) + 1
        nodes = [trip.base_node, *[v.node for v in trip.visits], trip.base_node]
        lines.append(
            {
                "team": trip.team_name,
                "trip": trip_no[trip.team],
                "first_date": plan.dates.text(trip.days[0].day),
                "last_date": plan.dates.text(trip.days[-1].day),
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
    points = gpd.GeoDataFrame(towns).to_crs("EPSG:4326")
    screened_layer = gpd.GeoDataFrame()
    if not sched.empty:
        per = sched.groupby("township_code").agg(
            children_screened=("children_screened", "sum"),
            team=("team", "first"),
            first_date=("date", "min"),
        )
        if "gathering" in tabs:  # each township with its own children, at its host's visit
            per = _gathered_points(per, tabs["gathering"])
        hit = points[points["code"].astype(str).isin(per.index)]
        screened_layer = gpd.GeoDataFrame(
            {
                "township": hit["name"].to_numpy(),
                "county": hit["county"].to_numpy(),
                "children_screened": per.loc[
                    hit["code"].astype(str), "children_screened"
                ].to_numpy(),
                "team": per.loc[hit["code"].astype(str), "team"].to_numpy(),
                "first_date": per.loc[hit["code"].astype(str), "first_date"].to_numpy(),
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
    cov = tabs["coverage_by_county"].set_index("county_code")
    counties = plan.counties[plan.counties["code"].astype(str).isin(cov.index)]
    codes = counties["code"].astype(str)
    coverage = gpd.GeoDataFrame(
        {
            "city": counties["city"].to_numpy(),
            "county": counties["name"].to_numpy(),
            "children_awaiting": cov.loc[codes, "children_awaiting"].to_numpy(),
            "children_screened": cov.loc[codes, "children_screened"].to_numpy(),
            "share_screened": cov.loc[codes, "share_screened"].to_numpy(),
        },
        geometry=counties.geometry.to_numpy(),
        crs=counties.crs,
    ).to_crs("EPSG:4326")
    coverage = suppress_small_counts(
        coverage, ["children_awaiting", "children_screened"], minimum=min_count
    )
    # Drawn in this order: counties, the many unscreened townships, the routes on top.
    out = {"coverage": coverage, "unscreened": unscreened_layer}
    if not screened_layer.empty:
        out["screened"] = suppress_small_counts(
            screened_layer, ["children_screened"], minimum=min_count
        )
    out["routes"] = routes
    return out


def _gathered_points(per: pd.DataFrame, gathering: pd.DataFrame) -> pd.DataFrame:
    """Per-township screened children, team and first date when townships gather at hosts."""
    g = gathering[gathering["children_screened"] > 0]
    g = g[g["host_code"].isin(per.index)]
    rows = pd.DataFrame(
        {
            "children_screened": g["children_screened"].to_numpy(),
            "team": per.loc[g["host_code"], "team"].to_numpy(),
            "first_date": per.loc[g["host_code"], "first_date"].to_numpy(),
        },
        index=pd.Index(g["township_code"].astype(str), name="township_code"),
    )
    alone = per[~per.index.isin(gathering["host_code"])]
    return pd.concat([alone, rows])


def upper_bound(plan: Plan, sec: ScreeningSection, *, n_teams: int, days: int) -> tuple[int, str]:
    """An upper bound on the children ``n_teams`` teams can screen in ``days`` working days.

    The team-days are ``n_teams × days``, less the teams' blocked days when they are the plan's
    own teams and days. The smaller of two: capacity (every team-day screens a full day after
    one set-up), and a fractional knapsack over the visit-days (each costs its set-up and
    screening time, the first of a township also the shortest drive into it) filling all teams'
    working time. Both ignore the rest of the driving, so no plan screens more. Returns the
    bound and what gives it.
    """
    team_days = n_teams * days
    if n_teams == len(plan.problem.teams) and days == plan.problem.calendar.horizon_days:
        team_days -= sum(len(t.blocked_days) for t in plan.problem.teams)  # team_blocked_dates
    capacity = team_days * children_per_team_day(sec)
    work = plan.problem.calendar.work_per_day_s
    budget = float(team_days * work)
    items = sorted(
        ((p.children, service_s(sec, p.children) + plan_reach(plan, p)) for p in plan.all_parts),
        key=lambda it: -it[0] / it[1],
    )
    total = 0.0
    for c, cost in items:
        if cost <= budget:
            total += c
            budget -= cost
        else:
            total += c * budget / cost
            break
    relaxed = int(np.floor(total + 1e-9))
    reachable = int(sum(p.children for p in plan.all_parts))
    best = min((capacity, "capacity"), (relaxed, "relaxation"), (reachable, "reachable children"))
    return best


def plan_reach(plan: Plan, part: Part) -> int:
    """The shortest drive into the part's township when it is its first visit-day, else 0."""
    return plan.reach_s[part.row] if part.key.endswith("#1") else 0


def _floors(plan: Plan, sec: ScreeningSection) -> list[tuple[str, str, int, int]]:
    """The floors: (kind, place, children needed, reachable children)."""
    towns = plan.towns
    reachable = towns["children_8_14"].to_numpy().copy()
    for i in plan.unreachable:
        reachable[i] = 0
    out = []
    if sec.min_share_by_city > 0:
        for city, idx in towns.groupby("city").indices.items():
            need = math.ceil(sec.min_share_by_city * towns["children_8_14"].iloc[idx].sum() - 1e-9)
            out.append(("city", str(city), need, int(reachable[idx].sum())))
    if sec.min_share_priority > 0:
        pri = towns["county_code"].astype(str).isin(plan.priority_codes).to_numpy()
        for county, idx in towns[pri].groupby("county").indices.items():
            rows = np.flatnonzero(pri)[idx]
            need = math.ceil(
                sec.min_share_priority * towns["children_8_14"].iloc[rows].sum() - 1e-9
            )
            out.append(("priority county", str(county), need, int(reachable[rows].sum())))
    return out


def check_floors_possible(plan: Plan, sec: ScreeningSection) -> list[tuple[str, str, int, int]]:
    """Raise :class:`InfeasibleError` when the data prove the floors cannot all be met."""
    floors = _floors(plan, sec)
    short = [f for f in floors if f[2] > f[3]]
    if short:
        kind, place, need, have = short[0]
        raise InfeasibleError(
            f"screening floors cannot be met: {kind} {place} needs {need} children screened but "
            f"only {have} live in townships a team can reach in a working day "
            f"({len(short)} floor(s) short); lower min_share_by_city / min_share_priority"
        )
    if floors:
        need_city = sum(f[2] for f in floors if f[0] == "city")
        need_pri = sum(f[2] for f in floors if f[0] != "city")
        need = max(need_city, need_pri)
        bound, source = upper_bound(plan, sec, n_teams=sec.n_teams, days=sec.horizon_days)
        if need > bound:
            raise InfeasibleError(
                f"screening floors cannot all be met: they need at least {need} children "
                f"screened, and {sec.n_teams} teams in {sec.horizon_days} working days can "
                f"screen at most {bound} ({source}); add teams or days, or lower the floors"
            )
    return floors


def floors_table(
    floors: list[tuple[str, str, int, int]], tabs: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Each floor with the children it needs, the children screened and whether it is met."""
    city = tabs["coverage_by_city"].set_index("city")["children_screened"]
    county = tabs["coverage_by_county"].groupby("county")["children_screened"].sum()
    rows = []
    for kind, place, need, have in floors:
        got = int((city if kind == "city" else county).get(place, 0))
        rows.append(
            {
                "floor": kind,
                "place": place,
                "children_needed": need,
                "children_reachable": have,
                "children_screened": got,
                "met": got >= need,
            }
        )
    return pd.DataFrame(rows)


def size_campaign(
    scenario: Scenario, world: World, params: SolveParams
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The fewest teams that screen ``target_share`` of the children by ``deadline``.

    A lower bound from :func:`upper_bound` (the fewest teams whose bound reaches the target),
    then plans with more teams, one at a time (doubling the step, then halving back) until a
    plan reaches the target or ``max_teams`` is tried. Returns the tries and the answer with its
    binding reason: ``capacity`` (the bound's team count suffices: screening time binds),
    ``driving`` (more teams than the bound: the time lost to driving binds), ``days left`` (the
    bound proves that not even ``max_teams`` teams reach the target in the days left) or
    ``search limit`` (the bound allows it, but no plan found within the search's limit did; the
    search stops adding teams once more teams screen no more).
    """
    from lnplan.optimize.routing import solve_routing

    sec = scenario.screening
    assert sec is not None and sec.start_date and sec.deadline and sec.target_share
    days = working_days_until(sec.start_date, sec.deadline, sec.blocked_dates)
    if days < 1:
        raise InputError(
            f"screening.deadline: no working day from {sec.start_date} to {sec.deadline}"
        )
    sized = scenario.model_copy(
        update={
            "screening": sec.model_copy(
                update={"horizon_days": days, "max_trip_days": min(sec.max_trip_days, days)}
            )
        }
    )
    s2 = sized.screening
    assert s2 is not None
    base_plan = build_plan(sized, world, n_teams=1)
    awaiting = int(base_plan.towns["children_8_14"].sum())
    target = math.ceil(sec.target_share * awaiting - 1e-9)
    lower = next(
        (
            n
            for n in range(1, sec.max_teams + 1)
            if upper_bound(base_plan, s2, n_teams=n, days=days)[0] >= target
        ),
        None,
    )
    info: dict[str, object] = {
        "target_share": sec.target_share,
        "deadline": sec.deadline.isoformat(),
        "working_days_left": days,
        "children_target": target,
        "teams_lower_bound": lower,
    }
    tries: list[dict[str, object]] = []
    if lower is None:
        info.update(teams_needed=None, binding="days left")
        return pd.DataFrame(tries), info

    found: dict[int, int] = {}

    def screened_with(n: int) -> int:
        if n not in found:
            plan = build_plan(sized, world, n_teams=n, min_offer=math.ceil(SIZING_OFFER * target))
            result = solve_routing(plan.problem, params)
            found[n] = int(result.demand_served)
            tries.append(
                {
                    "teams": n,
                    "children_screened": found[n],
                    "children_target": target,
                    "reached": found[n] >= target,
                    "children_upper_bound": upper_bound(plan, s2, n_teams=n, days=days)[0],
                }
            )
        return found[n]

    lo, hi, step = lower - 1, None, 1  # lo: known short (or below the bound), hi: known enough
    n, best = lower, -1
    while n <= sec.max_teams:
        got = screened_with(n)
        if got >= target:
            hi = n
            break
        if got <= best:
            break  # more teams screen no more within the search's limit: stop adding
        best, lo, n, step = got, n, min(n + step, sec.max_teams + 1), step * 2
    if hi is None:
        most = max(found.values())
        info.update(
            teams_needed=None,
            binding="search limit",
            note=(
                f"no plan with up to {max(found)} teams reached {target} children (at most "
                f"{most}); the bound allows it from {lower} teams, so the search, not the days "
                "left, fell short: raise time_limit_s or max_iterations"
            ),
        )
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if screened_with(mid) >= target:
                hi = mid
            else:
                lo = mid
        info.update(teams_needed=hi, binding="capacity" if hi == lower else "driving")
    table = pd.DataFrame(tries).sort_values("teams").reset_index(drop=True)
    return table, info


def _campaign_summary(
    plan: Plan, sec: ScreeningSection, tabs: dict[str, pd.DataFrame]
) -> dict[str, object]:
    """Blocked team-days, visiting hours and gathering points in the summary (when set)."""
    out: dict[str, object] = {}
    blocked = sum(len(t.blocked_days) for t in plan.problem.teams)
    if sec.team_blocked_dates:
        out["team_days_blocked"] = blocked
    if sec.visiting_hours or sec.visiting_hours_by_township:
        own = "，部分乡镇按各自的接待时间" if sec.visiting_hours_by_township else ""
        out["visiting_hours"] = ("、".join(sec.visiting_hours) or "各乡镇按各自的接待时间") + (
            own if sec.visiting_hours else ""
        )
        out["townships_own_visiting_hours"] = len(sec.visiting_hours_by_township)
    if sec.gather_km is None:
        return out
    g = tabs.get("gathering", pd.DataFrame(columns=GATHERING_COLUMNS))
    # Screened at another township's hospital: the townships and the hospitals that served them.
    brought = g[(g["host_code"] != g["township_code"]) & (g["children_screened"] > 0)]
    visited = set(tabs["schedule"]["township_code"].astype(str))
    served = len(visited - set(g["host_code"])) + int((g["children_screened"] > 0).sum())
    return out | {
        "gather_km": sec.gather_km,
        "gathering_points": int(brought["host_code"].nunique()),
        "townships_gathered": len(brought),
        "townships_served": served,
    }


def run(
    scenario: Scenario,
    world: World,
    out_dir: Path,
    *,
    hold: Callable[[Plan], Plan] | None = None,
) -> ProgrammeOutput:
    """Plan the screening tours of the scenario on the world (see the module docstring).

    ``hold`` changes the plan's routing problem before it is solved (:mod:`lnplan.stability`
    holds baseline townships to their team and trip with it).
    """
    from lnplan.optimize.result import outcome_record
    from lnplan.optimize.routing import SolveParams, solve_routing
    from lnplan.programs import ProgrammeOutput
    from lnplan.programs.screening_check import PlanCheckError, check_plan

    sec = scenario.screening
    if sec is None:
        raise InputError("the scenario has no [screening] section")
    plan = build_plan(scenario, world)
    if hold is not None:
        plan = hold(plan)
    floors = check_floors_possible(plan, sec)
    logger.info(
        "screening: %d townships offered (%d visits), %d teams from %s",
        len({p.row for p in plan.parts}), len(plan.problem.stops), sec.n_teams,
        ", ".join(dict.fromkeys(b.name for b in plan.bases)),
    )  # fmt: skip
    params = SolveParams(
        time_limit_s=sec.time_limit_s, seed=scenario.seed, max_iterations=sec.max_iterations
    )
    result = solve_routing(plan.problem, params)
    tabs = tables(plan, result)
    if floors:
        tabs["floors"] = floors_table(floors, tabs)
    towns = plan.towns
    awaiting = int(towns["children_8_14"].sum())
    screened = int(result.demand_served)
    bound, bound_source = upper_bound(plan, sec, n_teams=sec.n_teams, days=sec.horizon_days)
    need_s = sum(
        service_s(sec, c)
        for t in plan.gathered
        for c in split_parts(int(t), children_per_team_day(sec))
    )
    work = plan.problem.calendar.work_per_day_s
    sched = tabs["schedule"]
    by_county = tabs["coverage_by_county"]
    summary: dict[str, object] = {
        "engine": result.engine,
        "status": result.status,
        "bases": ", ".join(dict.fromkeys(b.name for b in plan.bases)),
        "teams": sec.n_teams,
        "examiners_per_team": sec.examiners_per_team,
        "children_per_team_day": children_per_team_day(sec),
        "first_date": plan.dates.text(0),
        "last_date": plan.dates.text(len(plan.dates.dates) - 1),
        "working_days": sec.horizon_days,
        "team_days_available": sec.n_teams * sec.horizon_days
        - sum(len(t.blocked_days) for t in plan.problem.teams),
        "team_days_used": len(tabs["team_days"]),
        "team_days_needed": math.ceil(need_s / work),
        "children_awaiting": awaiting,
        "children_screened": screened,
        "children_left": awaiting - screened,
        "share_screened": round(screened / max(awaiting, 1), 4),
        "children_upper_bound": bound,
        "upper_bound_from": bound_source,
        "gap_children": round((bound - screened) / max(bound, 1), 4),
        "children_priority_counties": int(
            by_county.loc[
                by_county["county_code"].isin(plan.priority_codes), "children_screened"
            ].sum()
        ),
        "children_mountain_counties": int(
            by_county.loc[by_county["terrain"] == "mountain", "children_screened"].sum()
        ),
        "cities_visited": int((tabs["coverage_by_city"]["children_screened"] > 0).sum()),
        "townships_visited": int(sched["township_code"].nunique()) if not sched.empty else 0,
        "townships_offered": len({p.row for p in plan.parts}),
        "townships_out_of_reach": len(plan.unreachable),
        **_campaign_summary(plan, sec, tabs),
        "trips": result.n_routes,
        # the routing model's value of the children screened: children x weight (see step 6)
        "weighted_children_screened": sum(
            plan.problem.stops[v.stop].drop_penalty or 0 for t in result.trips for v in t.visits
        ),
        "km_driven": round(result.distance_km, 1),
        "hours_driven": round(result.travel_time_s / 3600, 1),
        "runtime_s": round(result.runtime_s, 1),
        "search_limit": (
            f"work limit: {sec.max_iterations} solutions (repeatable)"
            if sec.max_iterations
            else f"time limit: {sec.time_limit_s:g} s (plans may differ between machines)"
        ),
    }
    warnings = list(getattr(result, "warnings", ()) or ())
    if warnings or getattr(result, "time_limit_hit", False):
        summary["search_warning"] = "; ".join(warnings) or "search cut short by the time limit"
    if floors:
        summary["floors_met"] = bool(tabs["floors"]["met"].all())
    if sec.target_share is not None:
        tabs["sizing"], info = size_campaign(scenario, world, params)
        summary.update({f"sizing_{k}": v for k, v in info.items()})
    problems = check_plan(scenario, world, tabs, summary)
    if problems:
        raise PlanCheckError(
            "the screening plan failed the independent check:\n  " + "\n  ".join(problems[:20])
        )
    summary["solution_checked"] = True
    if world.label:
        summary["data"] = world.label
    return ProgrammeOutput(
        name=NAME,
        tables=tabs,
        layers=layers(result, plan, tabs, min_count=scenario.maps.min_cell_households),
        summary=summary,
        models={"tours": outcome_record(result)},
    )
