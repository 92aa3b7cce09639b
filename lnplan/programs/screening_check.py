"""Independent check of a screening plan: the scenario's settings against the tables as written.

:func:`check_plan` shares no code with the scheduler, the routing model or the programme's
calendar (it calls the holiday package and the travel model itself): from the scenario's
``screening`` settings, the world's places and the output tables (``schedule``, ``trips``,
``team_days``, ``unscreened``, ``coverage_by_city``) it re-derives

- every date: a working day in China's official calendar (``chinese_calendar``), not a blocked
  date, on or after ``start_date`` and within the first ``horizon_days`` working days;
- every visit's times: inside the working day, not starting in the lunch break, and lasting
  ``setup_min + children × min_per_child ÷ examiners_per_team`` minutes of working time (lunch
  pauses it);
- every drive, from the team's base or the previous township: the travel model's minutes
  (great-circle km × detour ÷ speed by terrain, or ``data.travel_matrix`` where it has the pair),
  inside one working day, starting after the previous visit ended;
- the return to base, the trip length (at most ``max_trip_days`` working days), trips of a team
  that do not overlap, each team at its base of the scenario;
- the km and hours driven and the overnight place of every team-day;
- per team: no trip, visit or team-day on one of its ``team_blocked_dates`` (a trip's days from
  leaving to return include none of them); per township: every visit starts inside its
  visiting hours (``visiting_hours_by_township``, else ``visiting_hours``);
- gathering points (``gather_km``): every township of the ``gathering`` table is served at one
  host at most ``gather_km`` road km away (recomputed here), is not visited itself, and the
  children of a host's visits are those the table counts for its townships;
- the children: never more screened in a township than await there, and the totals of the
  schedule, the summary, ``unscreened`` and ``coverage_by_city`` agree.

Times in the tables are whole minutes (``HH:MM``, cut), so times agree within one minute.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lnplan.errors import LnplanError

if TYPE_CHECKING:
    from lnplan.scenario import Scenario
    from lnplan.world import World

__all__ = ["PlanCheckError", "check_plan"]

#: Tables show whole minutes (cut): two readings differ from the true span by under a minute.
TOL_MIN = 1.0 + 1e-6


class PlanCheckError(LnplanError):
    """A screening plan breaks a rule of the scenario (a bug in the planner, not in the data)."""


def _minutes(text: str) -> float:
    hh, mm = str(text).split(":")[:2]
    return int(hh) * 60 + int(mm[:2])


def _day_rules(sec: Any) -> tuple[float, float, float, float]:
    """Day start, day end, lunch start and lunch end in minutes after midnight."""
    start = sec.day_start.hour * 60 + sec.day_start.minute
    end = sec.day_end.hour * 60 + sec.day_end.minute
    lunch = float(sec.lunch_min)
    lunch_at = 12 * 60.0
    if lunch and not (start < lunch_at and lunch_at + lunch < end):
        lunch_at = (start + end - lunch) / 2.0
    return float(start), float(end), lunch_at, lunch_at + lunch


def _working_minutes(a: float, b: float, lunch: tuple[float, float]) -> float:
    """Working minutes between two moments of one day (the lunch break does not count)."""
    lo, hi = lunch
    return (b - a) - max(0.0, min(b, hi) - max(a, lo))


def _is_workday(day: dt.date) -> bool:
    import chinese_calendar

    return bool(chinese_calendar.is_workday(day))


class _Places:
    """Coordinates, terrain and labels of the bases and townships, and the travel model."""

    def __init__(self, scenario: Scenario, world: World) -> None:
        from lnplan.geo.travel import RoadModel

        towns = world.townships.to_crs("EPSG:4326")
        fac = world.facilities.to_crs("EPSG:4326")
        mountain = world.mountain_counties()
        self.model = RoadModel.from_scenario(scenario.travel)
        self.where: dict[str, tuple[float, float, bool]] = {}
        self.ids: dict[str, str] = {}
        self.label: dict[str, str] = {}
        for code, county, name, cc, g in zip(
            towns["code"].astype(str),
            towns["county"],
            towns["name"],
            towns["county_code"].astype(str),
            towns.geometry,
            strict=True,
        ):
            self.where[code] = (g.x, g.y, cc in mountain)
            self.ids[code] = code
            self.label[code] = f"{county}{name}"
        for fid, name, cc, g in zip(
            fac["facility_id"].astype(str),
            fac["name"],
            fac["county_code"].astype(str),
            fac.geometry,
            strict=True,
        ):
            key = f"base:{name}"
            self.where.setdefault(key, (g.x, g.y, cc in mountain))
            self.ids.setdefault(key, fid)
            self.label.setdefault(key, str(name))
        self.matrix: dict[tuple[str, str], float] = {}
        m = scenario.data.travel_matrix
        if m is not None:
            path = str(m.path)
            frame = (
                pd.read_csv(path, dtype=str)
                if path.lower().endswith(".csv")
                else pd.read_parquet(path).astype(str)
            )
            for o, d, v in zip(
                frame[m.origin_column].str.strip(),
                frame[m.destination_column].str.strip(),
                frame[m.value_column],
                strict=True,
            ):
                self.matrix[(o, d)] = float(v)

    def _km_terrain(self, a: str, b: str) -> tuple[float, float, float]:
        lon1, lat1, m1 = self.where[a]
        lon2, lat2, m2 = self.where[b]
        p1, p2 = math.radians(lat1), math.radians(lat2)
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
        )
        km = 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))
        mod = self.model
        det = [mod.mountain_detour_factor if m else mod.plain_detour_factor for m in (m1, m2)]
        rate = [
            (mod.mountain_detour_factor / mod.mountain_speed_kph)
            if m
            else (mod.plain_detour_factor / mod.plain_speed_kph)
            for m in (m1, m2)
        ]
        return km * (det[0] + det[1]) / 2, km * 60 * (rate[0] + rate[1]) / 2, km

    def minutes(self, a: str, b: str) -> float:
        """Road minutes from place ``a`` to place ``b``."""
        key = (self.ids[a], self.ids[b])
        if key in self.matrix:
            return self.matrix[key]
        return self._km_terrain(a, b)[1]

    def road_km(self, a: str, b: str) -> float:
        """Road km from ``a`` to ``b`` (great-circle km times the mean detour of the ends)."""
        return self._km_terrain(a, b)[0]


def check_plan(
    scenario: Scenario,
    world: World,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any],
) -> list[str]:
    """Every rule of the scenario the plan's tables break (empty: the plan keeps them all)."""
    from lnplan.programs.screening_routes import find_base

    sec = scenario.screening
    if sec is None:
        return ["the scenario has no [screening] section"]
    bad: list[str] = []
    places = _Places(scenario, world)
    start, end, lunch_at, lunch_end = _day_rules(sec)
    lunch = (lunch_at, lunch_end)
    blocked = set(sec.blocked_dates)
    sched = tables["schedule"]
    trips = tables["trips"]
    days = tables["team_days"]

    # Working days of the campaign, counted here from the holiday package.
    campaign: list[dt.date] = []
    if sec.start_date is None:
        return ["screening.start_date is not set"]
    day = sec.start_date
    while len(campaign) < sec.horizon_days and (day - sec.start_date).days < 3 * 366:
        if day not in blocked and _is_workday(day):
            campaign.append(day)
        day += dt.timedelta(days=1)
    index = {d.isoformat(): k for k, d in enumerate(campaign)}

    def working_day(text: str, where: str) -> int | None:
        k = index.get(str(text))
        if k is None:
            bad.append(
                f"{where}: {text} is not one of the campaign's {sec.horizon_days} working days"
            )
        return k

    def in_day(t: float, where: str) -> None:
        if not start - 1e-9 <= t <= end + 1e-9:
            bad.append(f"{where}: {t // 60:02.0f}:{t % 60:02.0f} is outside the working day")

    # Each team's base, from the scenario.
    base_places = sec.bases or [sec.base]
    team_base = {
        f"{k + 1}队": f"base:{find_base(base_places[k % len(base_places)], world).name}"
        for k in range(sec.n_teams)
    }
    per_child = sec.min_per_child / sec.examiners_per_team
    awaiting = world.townships.set_index(world.townships["code"].astype(str))["children_8_14"]

    legs_by_day: dict[tuple[str, str], list[tuple[float, float]]] = {}
    reached: dict[tuple[str, int], list[tuple[str, float, str]]] = {}
    spans: dict[str, list[tuple[int, float, int, float]]] = {}
    for (team, trip_no), rows in sched.groupby(["team", "trip"], sort=False):
        where = f"team {team}, trip {trip_no}"
        if team not in team_base:
            bad.append(f"{where}: no such team in the scenario ({sec.n_teams} teams)")
            continue
        t = trips[(trips["team"] == team) & (trips["trip"] == trip_no)]
        if len(t) != 1:
            bad.append(f"{where}: {len(t)} rows in the trips table")
            continue
        trip = t.iloc[0]
        base = team_base[team]
        if str(trip["base"]) != places.label[base]:
            bad.append(
                f"{where}: leaves from {trip['base']}, the team's base is {places.label[base]}"
            )
        rows = rows.assign(_k=rows["date"].map(index)).sort_values(["date", "order"])
        here = base
        free_day = working_day(trip["leave_date"], f"{where} leaves")
        free_at = _minutes(trip["leave"])
        first_day = free_day
        for _, v in rows.iterrows():
            label = f"{where}, {v['date']} {v['visit']}"
            code = str(v["township_code"])
            if code not in places.where:
                bad.append(f"{label}: unknown township {code}")
                continue
            k = working_day(v["date"], label)
            dk = working_day(v["depart_date"], f"{label} departure")
            arrive, begin, finish = _minutes(v["arrive"]), _minutes(v["start"]), _minutes(v["end"])
            for x in (arrive, begin, finish):
                in_day(x, label)
            if sec.lunch_min and lunch_at <= begin < lunch_end:
                bad.append(f"{label}: starts in the lunch break")
            if begin < arrive:
                bad.append(f"{label}: starts before the team arrives")
            need = sec.setup_min + int(v["children_screened"]) * per_child
            took = _working_minutes(begin, finish, lunch)
            if abs(took - need) > TOL_MIN:
                bad.append(
                    f"{label}: the visit lasts {took:.0f} working min; {v['children_screened']} "
                    f"children need {need:.1f} min (set-up {sec.setup_min} + "
                    f"{per_child:.2f} min a child)"
                )
            # The drive in: same working day, after the team is free, as long as the model says.
            drive = places.minutes(here, code)
            if k is not None and free_day is not None:
                # The team leaves the previous place (or its base) at its departure time.
                if free_day != k:
                    bad.append(
                        f"{label}: the drive in leaves on working day {free_day} and arrives on "
                        f"{k}: a drive lies in one working day (no night driving)"
                    )
                elif abs(_working_minutes(free_at, arrive, lunch) - drive) > TOL_MIN:
                    bad.append(
                        f"{label}: the drive in takes "
                        f"{_working_minutes(free_at, arrive, lunch):.0f} working min in the "
                        f"tables, the travel model says {drive:.0f}"
                    )
                in_day(free_at, f"{label} drive in")
                legs_by_day.setdefault((team, v["date"]), []).append(
                    (places.road_km(here, code), drive)
                )
                reached.setdefault((team, k), []).append((v["date"], arrive, code))
            here = code
            free_day, free_at = dk, _minutes(v["depart"])
            if dk is not None and k is not None and (dk, free_at) < (k, finish - TOL_MIN):
                bad.append(f"{label}: departs before the visit ends")
        # The drive home.
        back_day = working_day(trip["return_date"], f"{where} returns")
        back = _minutes(trip["return"])
        drive = places.minutes(here, base)
        if back_day is not None and free_day is not None:
            if back_day != free_day:
                bad.append(f"{where}: the drive home does not lie in one working day")
            elif abs(_working_minutes(free_at, back, lunch) - drive) > TOL_MIN:
                bad.append(
                    f"{where}: the drive home takes {_working_minutes(free_at, back, lunch):.0f} "
                    f"working min in the tables, the travel model says {drive:.0f}"
                )
            in_day(back, f"{where} return")
            legs_by_day.setdefault((team, trip["return_date"]), []).append(
                (places.road_km(here, base), drive)
            )
            reached.setdefault((team, back_day), []).append((trip["return_date"], back, base))
            if first_day is not None:
                if back_day - first_day + 1 > sec.max_trip_days:
                    bad.append(
                        f"{where}: lasts {back_day - first_day + 1} working days, more than "
                        f"max_trip_days {sec.max_trip_days}"
                    )
                spans.setdefault(team, []).append(
                    (first_day, _minutes(trip["leave"]), back_day, back)
                )
    for team, span in spans.items():
        span.sort()
        for a, b in itertools.pairwise(span):
            if (b[0], b[1]) < (a[2], a[3]):
                bad.append(f"team {team}: a trip leaves before the previous one is back")

    # Team-days: children, km and hours driven, overnight place.
    for _, d in days.iterrows():
        where = f"team {d['team']}, {d['date']}"
        mine = sched[(sched["team"] == d["team"]) & (sched["date"] == d["date"])]
        if int(mine["children_screened"].sum()) != int(d["children_screened"]):
            bad.append(
                f"{where}: team-day says {d['children_screened']} children, the schedule "
                f"{mine['children_screened'].sum()}"
            )
        legs = legs_by_day.get((d["team"], d["date"]), [])
        km = sum(x for x, _ in legs)
        if abs(km - float(d["km_driven"])) > 0.05 + 0.01 * len(legs):
            bad.append(
                f"{where}: {d['km_driven']} km driven in the table, the travel model gives {km:.1f}"
            )
        hours = sum(y for _, y in legs) / 60
        if abs(hours - float(d["hours_driven"])) > 0.006 + 0.001 * len(legs):
            bad.append(
                f"{where}: {d['hours_driven']} h driven in the table, the model gives {hours:.2f}"
            )
        k = index.get(str(d["date"]))
        if k is None:
            bad.append(f"{where}: not a working day of the campaign")
            continue
        trip = trips[(trips["team"] == d["team"]) & (trips["trip"] == d["trip"])]
        if trip.empty:
            continue
        here = team_base.get(str(d["team"]), "")
        first = index.get(str(trip.iloc[0]["leave_date"]), k)
        for kk in range(first, k + 1):
            for _, _, place in sorted(reached.get((str(d["team"]), kk), []), key=lambda r: r[1]):
                here = place
        if here and places.label.get(here) != d["overnight"]:
            bad.append(
                f"{where}: overnight at {d['overnight']}, the plan ends the day at "
                f"{places.label.get(here)}"
            )

    bad += _team_dates_and_hours(sec, sched, trips, days)

    # Children.
    per = sched.groupby(sched["township_code"].astype(str))["children_screened"].sum()
    if sec.gather_km is not None:
        per = _gathered(sec, places, tables, per, bad)
    over = [(c, int(n), int(awaiting.get(c, 0))) for c, n in per.items() if n > awaiting.get(c, 0)]
    for c, n_, a_ in over[:5]:
        bad.append(f"township {c}: {n_} children screened, {a_} await")
    total = int(sched["children_screened"].sum()) if not sched.empty else 0
    if total != int(summary.get("children_screened", -1)):
        bad.append(
            f"summary says {summary.get('children_screened')} children, the schedule {total}"
        )
    left = tables["unscreened"].set_index(tables["unscreened"]["township_code"].astype(str))
    want = awaiting[awaiting > 0] - per.reindex(awaiting[awaiting > 0].index, fill_value=0)
    want = want[want > 0]
    if set(want.index) != set(left.index) or not np.array_equal(
        want.sort_index().to_numpy(), left["children_left"].sort_index().to_numpy()
    ):
        bad.append("unscreened: children left per township do not match awaiting minus screened")
    cities = tables["coverage_by_city"]
    if int(cities["children_screened"].sum()) != total:
        bad.append("coverage_by_city: the cities' children screened do not add up to the schedule")
    return bad


def _date(text: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return None


def _team_dates_and_hours(
    sec: Any, sched: pd.DataFrame, trips: pd.DataFrame, days: pd.DataFrame
) -> list[str]:
    """Teams away or at work on their blocked dates; visits starting outside visiting hours."""
    bad: list[str] = []
    off = {f"{k}队": set(v) for k, v in sec.team_blocked_dates.items() if v}
    for _, t in trips.iterrows():
        mine = off.get(str(t["team"]))
        leave, back = _date(t["leave_date"]), _date(t["return_date"])
        if not mine or leave is None or back is None:
            continue
        hit = sorted(d for d in mine if leave <= d <= back)
        if hit:
            bad.append(
                f"team {t['team']}, trip {t['trip']}: away from {leave} to {back}, but the team "
                f"does not work on {hit[0]} (team_blocked_dates)"
            )
    for name, table in (("schedule", sched), ("team_days", days)):
        for _, r in table.iterrows():
            when = _date(r["date"])
            if when is not None and when in off.get(str(r["team"]), ()):
                bad.append(
                    f"{name}: team {r['team']} works on {when}, one of its team_blocked_dates"
                )
    own = sec.visiting_hours_by_township
    if not sec.visiting_hours and not own:
        return bad
    for _, v in sched.iterrows():
        texts = own.get(str(v["township_code"]), sec.visiting_hours)
        spans = []
        for text in texts:
            a, b = str(text).split("-")
            spans.append((_minutes(a.strip()), _minutes(b.strip())))
        begin = _minutes(v["start"])
        if spans and not any(a <= begin <= b for a, b in spans):
            bad.append(
                f"team {v['team']}, {v['date']} {v['visit']}: starts at {v['start']}, outside "
                f"the township's visiting hours {', '.join(texts)}"
            )
    return bad


def _gathered(
    sec: Any,
    places: _Places,
    tables: Mapping[str, pd.DataFrame],
    at_visits: pd.Series,
    bad: list[str],
) -> pd.Series:
    """Children screened per township when townships gather at hosts (``gather_km``).

    ``at_visits`` are the children of the schedule per visited township; a host's children are
    handed to the townships the ``gathering`` table serves there. Broken rules go to ``bad``.
    """
    g = tables.get("gathering")
    if g is None or g.empty:
        return at_visits
    host = g["host_code"].astype(str)
    town = g["township_code"].astype(str)
    for code in sorted(set(town[town.duplicated()])):
        bad.append(f"gathering: township {code} is served at more than one place")
    for h, t, km_table in zip(host, town, g["km_to_host"], strict=True):
        if h not in places.where or t not in places.where:
            bad.append(f"gathering: unknown township {h if h not in places.where else t}")
            continue
        km = places.road_km(t, h)
        if km > sec.gather_km + 0.05:
            bad.append(
                f"gathering: township {t} is served at {h}, {km:.1f} road km away, farther "
                f"than gather_km {sec.gather_km:g}"
            )
        if abs(km - float(km_table)) > 0.06:
            bad.append(f"gathering: township {t}: {km_table} km to {h} in the table, {km:.1f} here")
        if t != h and t in at_visits.index:
            bad.append(f"gathering: township {t} is served at {h} but is also visited itself")
    counted = g.groupby(host)["children_screened"].sum()
    for h in sorted(set(host)):
        seen = int(at_visits.get(h, 0))
        if seen != int(counted[h]):
            bad.append(
                f"gathering: the visits at {h} screen {seen} children, the townships served "
                f"there count {int(counted[h])}"
            )
    alone = at_visits[~at_visits.index.isin(set(host))]
    shared = g.groupby(town)["children_screened"].sum()
    return pd.concat([alone, shared]).groupby(level=0).sum()
