"""The target forecast, table by table: met, on track, late, no progress, regressing, and the
edges (exactly on the deadline, missing weeks, exact fractions, the ten-year horizon)."""

from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest

from lms.reports.forecast import Forecast, forecast

MONDAY = date(2025, 3, 3)


def week(n, days=0):
    """The Monday `n` weeks after the first snapshot, plus `days`."""
    return MONDAY + timedelta(weeks=n, days=days)


def weekly(*ratios):
    """Snapshots one week apart, the first on MONDAY."""
    return [(week(n), ratio) for n, ratio in enumerate(ratios)]


def slow(days):
    """The ratio a week after 0.6 on a line that reaches 0.8 `days` days after that."""
    return Fraction(3, 5) + Fraction(1, 5) * 7 / (7 + days)


STEADY = weekly(0.5, 0.6, 0.7)  # 10 points a week, 0.8 reached on week(3)


@pytest.mark.parametrize(("points", "target", "deadline", "expected"), [
    # no data, one snapshot, a flat line: nothing to project
    ([], 0.8, None, Forecast("no_progress")),
    (weekly(0.5), 0.8, week(10), Forecast("no_progress", None, 0.0, None)),
    (weekly(0.5, 0.5, 0.5), 0.8, week(10), Forecast("no_progress", None, 0.0, None)),
    # a slight fall is still within noise; a clear one is regressing
    (weekly(0.6, 0.599, 0.598), 0.8, None, Forecast("no_progress", None, -0.001, None)),
    (weekly(0.6, 0.55, 0.5), 0.8, week(10), Forecast("regressing", None, -0.05, None)),
    (weekly(0.6, 0.595), 0.8, None, Forecast("regressing", None, -0.005, None)),
    # met: the latest ratio reaches the target (>=), dated from the run it belongs to
    (weekly(0.7, 0.8), 0.8, week(10), Forecast("met", week(1), 0.1, 0)),
    (weekly(0.8, 0.85, 0.7, 0.8, 0.9), 0.8, None, Forecast("met", week(3), 0.015, 0)),
    (weekly(0.9), 0.8, None, Forecast("met", week(0), 0.0, 0)),
    (weekly(0.9, 0.85), 0.8, None, Forecast("met", week(0), -0.05, 0)),
    (weekly(0.3, 1.0), 1.0, None, Forecast("met", week(1), 0.7, 0)),
    # steady progress: exactly on the deadline is on track, one day later is late
    (STEADY, 0.8, week(3), Forecast("on_track", week(3), 0.1, 1)),
    (STEADY, 0.8, week(3, days=-1), Forecast("late", week(3), 0.1, 1)),
    (STEADY, 0.8, None, Forecast("on_track", week(3), 0.1, 1)),
    (STEADY, 0.8, week(1), Forecast("late", week(3), 0.1, 1)),  # deadline already past
    # the day is rounded up: 0.05 left at 0.1 a week is 3.5 days, so 4
    (weekly(0.55, 0.65, 0.75), 0.8, week(2, days=4), Forecast("on_track", week(2, 4), 0.1, 1)),
    (weekly(0.55, 0.65, 0.75), 0.8, week(2, days=3), Forecast("late", week(2, 4), 0.1, 1)),
    # missing weeks: real dates, not positions (positions would say 0.2 a week)
    ([(week(0), 0.1), (week(1), 0.2), (week(4), 0.5)], 0.8, week(7),
     Forecast("on_track", week(7), 0.1, 3)),
    # exact fractions, as trained / active gives them
    ([(week(0), Fraction(1, 3)), (week(1), Fraction(1, 2)), (week(2), Fraction(2, 3))],
     Fraction(5, 6), week(3), Forecast("on_track", week(3), 1 / 6, 1)),
    (weekly(Fraction(3, 5), Fraction(4, 5)), 0.8, None, Forecast("met", week(1), 0.2, 0)),
    (weekly(0.6, Fraction(799, 1000)), 0.8, None, Forecast("on_track", week(1, 1), 0.199, 1)),
    # so slow the target is more than ten years away: no forecast
    (weekly(0.1, 0.1001), 0.8, None, Forecast("no_progress", None, 0.0001, None)),
    # ten years to the day (3653 days) is still a forecast, a day more is not
    (weekly(0.6, slow(3653)), 0.8, None,
     Forecast("on_track", week(1, days=3653), 1.4 / 3660, 522)),
    (weekly(0.6, slow(3654)), 0.8, None, Forecast("no_progress", None, 1.4 / 3661, None)),
])
def test_forecast(points, target, deadline, expected):
    result = forecast(points, target, deadline)
    assert result.status == expected.status
    assert result.date == expected.date
    assert result.pace_per_week == pytest.approx(expected.pace_per_week)
    assert result.weeks_left == expected.weeks_left


def test_pace_uses_only_the_last_eight_snapshots():
    # four flat weeks, then eight weeks at 5 points a week: the flat start is forgotten
    points = weekly(0.1, 0.1, 0.1, 0.1, *(0.1 + 0.05 * n for n in range(1, 9)))
    result = forecast(points, 0.8)
    assert result.pace_per_week == pytest.approx(0.05)
    assert result.date == week(11) + timedelta(weeks=6)


def test_one_noisy_week_only_bends_the_pace():
    ratios = [0.1 + 0.05 * n for n in range(8)]
    ratios[4] -= 0.1  # a bad import, fixed the next week
    result = forecast(weekly(*ratios), 0.8)
    assert result.status == "on_track"
    assert result.pace_per_week == pytest.approx(0.05, abs=0.005)
    # projected from the (correct) latest ratio 0.45: 0.35 to go at ~5 points a week
    assert week(7) + timedelta(weeks=6) <= result.date <= week(7) + timedelta(weeks=8)


def test_weeks_left_count_from_today():
    result = forecast(STEADY, 0.8, today=week(2, days=3))
    assert (result.date, result.weeks_left) == (week(3), 1)
    assert forecast(STEADY, 0.8, today=week(2, days=6)).weeks_left == 1
    assert forecast(STEADY, 0.8, today=week(5)).weeks_left == 0  # stale snapshots


def test_horizon_counts_from_today():
    points = weekly(0.6, slow(3600))
    assert forecast(points, 0.8).status == "on_track"
    assert forecast(points, 0.8, today=week(1, days=-60)).status == "no_progress"


def test_snapshots_are_ordered_by_date_and_the_last_of_a_day_counts():
    shuffled = [STEADY[2], STEADY[0], (week(1), 0.2), STEADY[1]]
    assert forecast(shuffled, 0.8) == forecast(STEADY, 0.8)


def test_snapshots_all_on_one_day_make_no_pace():
    assert forecast([(MONDAY, 0.5), (MONDAY, 0.6)], 0.8) == Forecast("no_progress")


def test_datetimes_are_read_as_their_day():
    points = [(datetime(2025, 3, 3 + 7 * n, 23, 59), ratio) for n, ratio in enumerate([.5, .6, .7])]
    result = forecast(points, 0.8, deadline=datetime(2025, 3, 24, 0, 0))
    assert (result.status, result.date) == ("on_track", week(3))


def test_a_float_target_is_read_as_its_decimal():
    # 0.8 as a float is a hair above 4/5; read exactly it would never be met by 4 of 5 staff
    assert forecast(weekly(Fraction(4, 5)), 0.8).status == "met"
    assert forecast(weekly(4 / 5), Fraction(4, 5)).status == "met"
    assert forecast(weekly(0.7999999999999999), 0.8).status == "no_progress"


@pytest.mark.parametrize("target", [0, -0.1, 1.01, 80])
def test_a_target_outside_zero_to_one_is_refused(target):
    with pytest.raises(ValueError, match="target"):
        forecast(STEADY, target)


def test_forecast_is_frozen():
    with pytest.raises(AttributeError):
        forecast(STEADY, 0.8).status = "met"
