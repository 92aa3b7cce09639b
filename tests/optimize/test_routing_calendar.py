"""Property tests of the routing calendar: the wall clock, the work clock and lunch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lnplan.optimize.routing import Calendar, Stop
from lnplan.optimize.routing.calendar import allowed_start_intervals

H = 3600


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    start = draw(st.integers(0, 10 * H))
    end = draw(st.integers(start + 2 * H, min(start + 14 * H, 24 * H)))
    lunch = draw(st.sampled_from([0, 1800, H]))
    lunch_start = draw(st.integers(start + 1, end - lunch - 1)) if lunch else start
    horizon = draw(st.integers(1, 6))
    work = end - start - lunch
    limits = tuple(draw(st.lists(st.integers(0, work), max_size=horizon)))
    return Calendar(
        horizon_days=horizon,
        trip_max_days=draw(st.integers(1, horizon)),
        day_start_s=start,
        day_end_s=end,
        lunch_start_s=lunch_start,
        lunch_s=lunch,
        day_limits_s=limits,
    )


@settings(max_examples=200, deadline=None)
@given(calendars(), st.data())
def test_work_clock_round_trips_and_is_monotone(cal: Calendar, data: st.DataObject) -> None:
    w = cal.work_per_day_s
    x = data.draw(st.integers(0, cal.horizon_days * w - 1))
    y = data.draw(st.integers(x, cal.horizon_days * w - 1))
    start = cal.wall_start(x)
    # a start is a working moment of the right day, never inside lunch or the night
    assert cal.work_of(start, up=True) == x
    assert cal.day_of(start) == x // w
    tod = start % cal.day_length_s
    assert cal.day_start_s <= tod < cal.day_end_s
    if cal.lunch_s:
        assert not cal.lunch_start_s <= tod < cal.lunch_start_s + cal.lunch_s
    assert cal.wall_start(y) >= start  # monotone
    # an end is the moment an activity of work time ending at x + 1 finishes, inside its day
    end = cal.wall_end(x + 1)
    assert cal.work_of(end - 1, up=False) <= x + 1 <= cal.work_of(end, up=True) + 1
    assert end > start


@settings(max_examples=200, deadline=None)
@given(calendars(), st.integers(0, 6 * H))
def test_allowed_starts_leave_room_for_the_service_in_the_day(cal: Calendar, service: int) -> None:
    intervals = allowed_start_intervals(cal, Stop(node=0, service_s=service))
    w = cal.work_per_day_s
    for a, b in intervals:
        day = a // w
        assert a <= b and a == day * w  # each day's starts begin at its opening
        assert b + service <= cal.day_work_end(day)  # the service ends by the day's limit
    days = {a // w for a, _ in intervals}
    assert days == {d for d in range(cal.horizon_days) if service <= cal.work_on_day_s(d)}


@settings(max_examples=100, deadline=None)
@given(calendars())
def test_trip_slots_cover_the_horizon(cal: Calendar) -> None:
    slots = cal.trip_slots()
    assert slots[0][0] == 0 and slots[-1][1] == cal.horizon_days - 1
    for first, last in slots:
        assert 0 <= last - first < cal.trip_max_days


@settings(max_examples=200, deadline=None)
@given(
    horizon=st.integers(1, 30),
    trip_max=st.integers(1, 6),
    rest=st.integers(0, 3),
    fixed=st.booleans(),
    data=st.data(),
)
def test_team_trip_windows_avoid_blocked_days_and_hold_every_other_day(
    horizon: int, trip_max: int, rest: int, fixed: bool, data: st.DataObject
) -> None:
    from lnplan.optimize.routing.calendar import team_trip_windows

    cal = Calendar(
        horizon_days=horizon,
        trip_max_days=min(trip_max, horizon),
        fixed_trip_blocks=fixed,
        rest_days=rest,
    )
    blocked = set(data.draw(st.lists(st.integers(0, horizon - 1), max_size=horizon)))
    windows = team_trip_windows(cal, blocked)
    covered = {d for a, b in windows for d in range(a, b + 1)}
    assert not covered & blocked  # no trip can include a blocked day
    assert covered == set(range(horizon)) - blocked  # every other day can be worked
    assert windows == sorted(windows)
    free = not fixed and horizon > 1 and cal.trip_max_days > 1
    if free and blocked:
        for a, b in set(windows):  # unused windows fit too: one-day trips with the rest between
            n = windows.count((a, b))
            assert n + (n - 1) * rest <= b - a + 1 < (n + 1) + n * rest  # and no more
