"""The target forecast: a pure function from a unit's weekly snapshots to the date it should
reach its target ratio. No database, no Flask: reports and digests call it with plain values.

Rules (table-tested in tests/test_report_forecast.py):

- Ratios and the target are compared exactly: a float is read as its shortest decimal (0.8 is
  4/5), so a ratio of Fraction(4, 5) or 0.8 meets a target of 0.8.
- Snapshots are ordered by date; of two on the same day the last one given counts.
- "met": the latest ratio >= target. It wins over everything else, even with a single
  snapshot; `date` is the first snapshot of the latest unbroken run at or above the target
  (the day it has been met since), `weeks_left` is 0.
- The pace is the slope of a least-squares line over the last 8 snapshots (or fewer), with
  real dates on the x axis, so missing weeks do not distort it and one noisy week only bends
  it. Fewer than 2 snapshots, or all on one day, give a pace of 0.
- The projection starts from the latest ratio itself, not from the fitted line: a snapshot is
  an exact count, so a drop after new staff arrive is real work left, not noise. The date is
  latest snapshot + ceil((target - latest) / pace) days.
- "regressing": pace <= -0.005 a week (half a percentage point, about one trained person
  lost a week in a unit of 200). "no_progress": a pace between that and 0 included, fewer
  than 2 snapshots, or a forecast more than 10 years after `today`. Neither has a date.
- "on_track": forecast date on or before the deadline, or no deadline; "late": after it. A
  deadline alone never changes a no_progress or regressing verdict.
- `today` (default: the latest snapshot's date) is where `weeks_left` and the 10-year horizon
  are counted from; `weeks_left` is whole weeks rounded up, never negative.
"""

import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction

WINDOW = 8
REGRESSION = Fraction(5, 1000)  # per week
HORIZON_DAYS = 3653  # ten years, leap days included

MET, ON_TRACK, LATE, NO_PROGRESS, REGRESSING = (
    "met", "on_track", "late", "no_progress", "regressing")


@dataclass(frozen=True)
class Forecast:
    """The verdict, the forecast date (or the date met since), the pace in ratio points a
    week (0.05 is 5 percentage points) and the whole weeks left."""

    status: str
    date: dt.date | None = None
    pace_per_week: float = 0.0
    weeks_left: int | None = None


def forecast(points, target, deadline=None, today=None) -> Forecast:
    """Forecast when weekly (date, ratio) snapshots reach `target`; see the module rules."""
    target = _exact(target)
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], not {target}")
    series = sorted({_day(day): _exact(ratio) for day, ratio in points}.items())
    if not series:
        return Forecast(NO_PROGRESS)
    last_day, latest = series[-1]
    today = _day(today) if today is not None else last_day
    pace = _slope(series[-WINDOW:]) * 7
    if latest >= target:
        return Forecast(MET, _met_since(series, target), float(pace), 0)
    if pace <= -REGRESSION:
        return Forecast(REGRESSING, None, float(pace))
    if pace <= 0:
        return Forecast(NO_PROGRESS, None, float(pace))
    days = math.ceil((target - latest) / pace * 7)
    if (last_day - today).days + days > HORIZON_DAYS:
        return Forecast(NO_PROGRESS, None, float(pace))
    reached = last_day + dt.timedelta(days=days)
    on_time = deadline is None or reached <= _day(deadline)
    weeks_left = max(0, -(-(reached - today).days // 7))
    return Forecast(ON_TRACK if on_time else LATE, reached, float(pace), weeks_left)


def _slope(series):
    """Least-squares slope in ratio per day, exact."""
    if len(series) < 2:
        return Fraction(0)
    first = series[0][0]
    xs = [(day - first).days for day, _ in series]
    ys = [ratio for _, ratio in series]
    mean_x, mean_y = Fraction(sum(xs), len(xs)), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return Fraction(0)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx


def _met_since(series, target):
    since = series[-1][0]
    for day, ratio in reversed(series):
        if ratio < target:
            break
        since = day
    return since


def _exact(value):
    # The shortest decimal of a float: 0.8 is 4/5, not 0.8000000000000000444.
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _day(value):
    return value.date() if isinstance(value, dt.datetime) else value
