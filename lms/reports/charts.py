"""Server-drawn SVG charts for the reports: progress bar, weekly trend, sub-unit bars.

Pure functions returning `Markup`: no Flask, no gettext, no script. Every label is passed
in already translated; labels that carry a number are python-format templates with named
placeholders (`_("target %(target)s")`: gettext without arguments leaves them in) that the
chart fills, so the text and the drawing always show the same figures. All text is escaped
by ElementTree. Readable without colour: values are written out, the target is a dashed
line with its label, the projection is dotted, and markers differ by shape (circles for
snapshots, a square for the latest, a hollow diamond for the forecast). Styling is by
presentation attributes and classes (the CSP forbids `style=`), sizes by viewBox only.
Percentages are rounded down, so 79.6% never reads as a met 80% target.
"""

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from markupsafe import Markup

from lms.text import whole_percent

SVG_NS = "http://www.w3.org/2000/svg"
INK, MUTED, FILL, TRACK, GRID = "#1a1a1a", "#555555", "#1f5fa8", "#e6ebf2", "#d0d5dc"
_ID_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class TrendLabels:
    """Translated texts of a trend chart; placeholders are filled by the chart."""

    title: str = "Progress by week"
    summary: str = ("%(first)s on %(first_date)s, %(last)s on %(last_date)s; "
                    "target %(target)s.")
    single: str = "%(last)s on %(last_date)s; target %(target)s."
    target: str = "target %(target)s"
    forecast: str = "forecast %(date)s"
    forecast_summary: str = "At this pace the target is reached on %(date)s."
    empty: str = "Not enough data yet"


def progress_chart(ratio, target, label, *, id_prefix, target_label="target %(target)s"):
    """A horizontal bar: the filled share, a dashed target marker with its label, the
    percentage written out; `label` is the chart's title."""
    percent, target_text = _percent(ratio), _fill(target_label, target=_percent(target))
    svg = _svg(id_prefix, 360, 56, "progress", label, f"{percent}; {target_text}")
    width, target_x = 300, 300 * _clamp(target)
    _add(svg, "rect", {"class": "chart-track", "x": 0, "y": 22, "width": width, "height": 18,
                       "fill": TRACK, "stroke": INK})
    _add(svg, "rect", {"class": "chart-fill", "x": 0, "y": 22, "width": width * _clamp(ratio),
                       "height": 18, "fill": FILL})
    _add(svg, "line", {"class": "chart-target", "x1": target_x, "x2": target_x, "y1": 16,
                       "y2": 46, "stroke": INK, "stroke-width": 2, "stroke-dasharray": "4 3"})
    _text(svg, target_x, 12, target_text, "chart-target-label", _anchor(target_x, width))
    _text(svg, 308, 36, percent, "chart-value", font_size=14, weight="bold")
    return _markup(svg)


def trend_chart(points, target, forecast_point=None, *, id_prefix, labels=TrendLabels()):
    """Weekly ratios as a line over time (dates dd/mm), the target as a dashed line, and an
    optional dotted projection to `forecast_point`, (date, ratio)."""
    points = [(day, ratio) for day, ratio in points]
    target_text = _fill(labels.target, target=_percent(target))
    svg = _svg(id_prefix, 480, 240, "trend", labels.title, _trend_summary(
        points, target, forecast_point, labels))
    left, right, top, bottom = 44, 464, 20, 204
    days = [day for day, _ in points] + ([forecast_point[0]] if forecast_point else [])
    start = min(days, default=None)
    span = max(1, (max(days) - start).days) if days else 1

    def x(day):
        if len(days) == 1:
            return (left + right) / 2
        return left + (right - left) * (day - start).days / span

    def y(ratio):
        return bottom - (bottom - top) * _clamp(ratio)

    for share in (0, 0.5, 1):
        _add(svg, "line", {"class": "chart-grid", "x1": left, "x2": right, "y1": y(share),
                           "y2": y(share), "stroke": INK if share == 0 else GRID})
        _text(svg, left - 6, y(share) + 4, _percent(share), "chart-axis", "end")
    _add(svg, "line", {"class": "chart-target", "x1": left, "x2": right, "y1": y(target),
                       "y2": y(target), "stroke": INK, "stroke-width": 2,
                       "stroke-dasharray": "6 4"})
    _text(svg, left + 4, y(target) - 6, target_text, "chart-target-label")
    if not points:
        _text(svg, (left + right) / 2, y(0.25) + 5, labels.empty, "chart-empty",
              "middle", font_size=14)
    elif len(points) == 1:  # the lone point sits in the middle: keep clear of it
        _text(svg, left + 8, bottom - 8, labels.empty, "chart-empty", font_size=14)
    if len(points) > 1:
        _add(svg, "polyline", {"class": "chart-line", "fill": "none", "stroke": FILL,
                               "stroke-width": 2, "points": " ".join(
                                   f"{_num(x(day))},{_num(y(ratio))}" for day, ratio in points)})
    if points and forecast_point:
        (last_day, last), (day, ratio) = points[-1], forecast_point
        _add(svg, "line", {"class": "chart-projection", "x1": x(last_day), "y1": y(last),
                           "x2": x(day), "y2": y(ratio), "stroke": INK, "stroke-width": 2,
                           "stroke-dasharray": "1 4", "stroke-linecap": "round"})
        cx, cy = x(day), y(ratio)
        _add(svg, "polygon", {"class": "chart-forecast", "fill": "#ffffff", "stroke": INK,
                              "stroke-width": 2, "points": " ".join(_num(v) for v in (
                                  cx, cy - 6, cx + 6, cy, cx, cy + 6, cx - 6, cy))})
        _text(svg, cx, cy - 10, _fill(labels.forecast, date=_day(day)), "chart-forecast-label",
              _anchor(cx, right))
    for day, ratio in points[:-1]:
        dot = _add(svg, "circle", {"class": "chart-point", "cx": x(day), "cy": y(ratio), "r": 4,
                                   "fill": FILL, "stroke": "#ffffff"})
        _add(dot, "title").text = f"{_day(day)}: {_percent(ratio)}"
    if points:  # the latest snapshot: a square, its value written out
        day, ratio = points[-1]
        square = _add(svg, "rect", {"class": "chart-point chart-latest", "x": x(day) - 5,
                                    "y": y(ratio) - 5, "width": 10, "height": 10, "fill": FILL,
                                    "stroke": "#ffffff"})
        _add(square, "title").text = f"{_day(day)}: {_percent(ratio)}"
        _text(svg, x(day), y(ratio) - 10, _percent(ratio), "chart-value", "middle",
              weight="bold")
    placed = []
    for day in _date_ticks(points, forecast_point):
        if all(abs(x(day) - other) >= 40 for other in placed):
            placed.append(x(day))
            _text(svg, x(day), bottom + 18, _day(day), "chart-axis", "middle")
    return _markup(svg)


def bar_list(items, target, *, id_prefix, title, target_label="target %(target)s",
             empty="No sub-units"):
    """One horizontal bar per (name, ratio), in the order given, each with its value written
    out, and the target as a dashed line across them all."""
    items = [(_clean(name), ratio) for name, ratio in items]
    target_text = _fill(target_label, target=_percent(target))
    lines = [f"{name}: {_percent(ratio)}" for name, ratio in items] or [_clean(empty)]
    height = 36 + 38 * max(1, len(items))
    svg = _svg(id_prefix, 480, height, "bars", title, "; ".join([*lines, target_text]) + ".")
    width, target_x = 420, 420 * _clamp(target)
    _add(svg, "line", {"class": "chart-target", "x1": target_x, "x2": target_x, "y1": 18,
                       "y2": height - 4, "stroke": INK, "stroke-width": 2,
                       "stroke-dasharray": "4 3"})
    _text(svg, target_x, 12, target_text, "chart-target-label", _anchor(target_x, width))
    if not items:
        _text(svg, 0, 50, empty, "chart-empty")
    for row, (name, ratio) in enumerate(items):
        top = 36 + 38 * row
        short = name if len(name) <= 64 else name[:63] + "…"
        caption = _text(svg, 0, top + 2, short, "chart-name")
        if short != name:
            _add(caption, "title").text = name
        _add(svg, "rect", {"class": "chart-track", "x": 0, "y": top + 8, "width": width,
                           "height": 14, "fill": TRACK, "stroke": INK})
        _add(svg, "rect", {"class": "chart-fill", "x": 0, "y": top + 8,
                           "width": width * _clamp(ratio), "height": 14, "fill": FILL})
        _text(svg, width + 8, top + 20, _percent(ratio), "chart-value", weight="bold")
    return _markup(svg)


def _trend_summary(points, target, forecast_point, labels):
    if not points:
        return labels.empty
    (first_day, first), (last_day, last) = points[0], points[-1]
    values = {"first": _percent(first), "first_date": _day(first_day), "last": _percent(last),
              "last_date": _day(last_day), "target": _percent(target)}
    text = _fill(labels.summary if len(points) > 1 else labels.single, **values)
    if forecast_point:
        text += " " + _fill(labels.forecast_summary, date=_day(forecast_point[0]))
    return text


def _date_ticks(points, forecast_point):
    """Dates worth a label, most important first: ends, forecast, then about six between."""
    days = [day for day, _ in points]
    ticks = days[:1] + days[-1:] + ([forecast_point[0]] if forecast_point else [])
    step = max(1, math.ceil(len(days) / 6))
    return ticks + days[step:-1:step]


def _svg(id_prefix, width, height, kind, title, desc):
    if not isinstance(id_prefix, str) or not _ID_PREFIX.match(id_prefix):
        raise ValueError(f"id_prefix must be a letter then letters, digits, _ or -: {id_prefix!r}")
    svg = ET.Element("svg", {
        "xmlns": SVG_NS, "viewBox": f"0 0 {width} {height}", "class": f"chart chart-{kind}",
        "role": "img", "aria-labelledby": f"{id_prefix}-title {id_prefix}-desc",
        "font-size": "12", "fill": INK})
    ET.SubElement(svg, "title", {"id": f"{id_prefix}-title"}).text = _clean(title)
    ET.SubElement(svg, "desc", {"id": f"{id_prefix}-desc"}).text = _clean(desc)
    return svg


def _add(parent, tag, attributes=None):
    return ET.SubElement(parent, tag, {key: _num(value) if isinstance(value, float | int) else
                                       value for key, value in (attributes or {}).items()})


def _text(parent, x, y, content, css_class, anchor="start", font_size=None, weight=None):
    attributes = {"class": css_class, "x": x, "y": y, "text-anchor": anchor}
    if font_size:
        attributes["font-size"] = font_size
    if weight:
        attributes["font-weight"] = weight
    element = _add(parent, "text", attributes)
    element.text = _clean(content)
    return element


def _markup(svg):
    # ElementTree escapes every text and attribute value; tags and names are ours.
    return Markup(ET.tostring(svg, encoding="unicode"))  # noqa: S704


def _fill(template, **values):
    """A translated template with its placeholders filled; a broken translation shows as
    written rather than breaking the page."""
    try:
        return str(template) % values
    except (KeyError, ValueError, TypeError):
        return str(template)


def _percent(ratio):
    return f"{whole_percent(ratio)}%"


def _clamp(ratio):
    return min(1.0, max(0.0, float(ratio)))


def _anchor(x, width):
    return "end" if x > width / 2 else "start"


def _day(day):
    return f"{day:%d/%m}"


def _num(value):
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _clean(text):
    return _NOT_XML.sub("", str(text))
