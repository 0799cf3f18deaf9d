"""Report charts: well-formed, self-contained SVG with escaped text, text alternatives that
carry the figures, a labelled target, and ids that never clash between two charts."""

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from fractions import Fraction

import pytest
from markupsafe import Markup

from lms.reports.charts import TrendLabels, bar_list, progress_chart, trend_chart

NS = "{http://www.w3.org/2000/svg}"
NASTY = '<script>alert(1)</script> & "x"'
MONDAY = date(2025, 3, 3)
WEEKS = [(MONDAY + timedelta(weeks=n), ratio) for n, ratio in enumerate([0.1, 0.25, 0.3, 0.45])]
VI = TrendLabels(
    title="Tiến độ theo tuần", summary="Từ %(first)s (%(first_date)s) đến %(last)s "
    "(%(last_date)s); mục tiêu %(target)s.", single="%(last)s (%(last_date)s); mục tiêu "
    "%(target)s.", target="mục tiêu %(target)s", forecast="dự báo %(date)s",
    forecast_summary="Dự báo đạt mục tiêu ngày %(date)s.", empty="Chưa có dữ liệu")


def parse(svg):
    assert isinstance(svg, Markup)
    return ET.fromstring(str(svg))


def texts(root, css_class=None):
    return [el.text for el in root.iter(f"{NS}text")
            if css_class is None or el.get("class") == css_class]


def alternative(root):
    """The chart's accessible name: what aria-labelledby points to, in order."""
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    return " ".join(by_id[ref].text for ref in root.get("aria-labelledby").split())


def every_chart(prefix="c", label="Sở Nội vụ"):
    return [
        progress_chart(0.72, 0.8, label, id_prefix=prefix),
        trend_chart(WEEKS, 0.8, (MONDAY + timedelta(weeks=10), 0.8), id_prefix=prefix,
                    labels=TrendLabels(title=label)),
        trend_chart([], 0.8, id_prefix=prefix, labels=TrendLabels(title=label)),
        trend_chart(WEEKS[:1], 0.8, id_prefix=prefix, labels=TrendLabels(title=label)),
        bar_list([(label, 0.5), ("Phòng Nội vụ", 0.9)], 0.8, id_prefix=prefix, title=label),
        bar_list([], 0.8, id_prefix=prefix, title=label),
    ]


@pytest.mark.parametrize("index", range(6))
def test_every_chart_is_a_self_contained_accessible_image(index):
    root = parse(every_chart()[index])
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox").startswith("0 0 ")
    assert root.get("width") is None
    assert root.get("height") is None
    assert [child.tag for child in root[:2]] == [f"{NS}title", f"{NS}desc"]
    assert root.get("aria-labelledby") == "c-title c-desc"
    assert [root[0].get("id"), root[1].get("id")] == ["c-title", "c-desc"]
    for element in root.iter():
        assert element.tag not in (f"{NS}script", f"{NS}foreignObject", f"{NS}image")
        for name in element.attrib:
            assert not name.lower().startswith("on")
            assert name not in ("style", "href", "{http://www.w3.org/1999/xlink}href")


@pytest.mark.parametrize("index", range(6))
def test_text_is_escaped(index):
    svg = str(every_chart(label=NASTY)[index])
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    root = ET.fromstring(svg)
    assert root.find(f"{NS}title").text == NASTY


def test_labels_and_templates_are_escaped_too():
    svg = progress_chart(0.5, 0.8, "x", id_prefix="p", target_label=NASTY + " %(target)s")
    root = parse(svg)
    assert texts(root, "chart-target-label") == [NASTY + " 80%"]
    svg = trend_chart(WEEKS, 0.8, (MONDAY + timedelta(weeks=8), 0.8), id_prefix="t",
                      labels=TrendLabels(title=NASTY, forecast=NASTY, empty=NASTY))
    assert "<script" not in str(svg)
    assert NASTY in texts(parse(svg), "chart-forecast-label")


def test_characters_xml_cannot_carry_are_dropped():
    root = parse(progress_chart(0.5, 0.8, "Sở\x00 Nội\x0b vụ\ufffe", id_prefix="p"))
    assert root.find(f"{NS}title").text == "Sở Nội vụ"


def test_ids_never_clash_between_two_charts_of_a_page():
    page = [progress_chart(0.72, 0.8, "x", id_prefix="unit-7-bar"),
            trend_chart(WEEKS, 0.8, id_prefix="unit-7-trend")]
    roots = [parse(svg) for svg in page]
    ids = [el.get("id") for root in roots for el in root.iter() if el.get("id")]
    assert ids == ["unit-7-bar-title", "unit-7-bar-desc", "unit-7-trend-title",
                   "unit-7-trend-desc"]
    for root in roots:  # each chart is named by its own title and desc
        own = {el.get("id") for el in root.iter() if el.get("id")}
        assert set(root.get("aria-labelledby").split()) == own


@pytest.mark.parametrize("prefix", ["", "1abc", "a b", 'a"b', "a<b", None])
def test_an_id_prefix_that_is_not_a_plain_name_is_refused(prefix):
    with pytest.raises(ValueError, match="id_prefix"):
        progress_chart(0.5, 0.8, "x", id_prefix=prefix)


def test_progress_chart_writes_the_figures_and_the_target():
    root = parse(progress_chart(0.72, 0.8, "Sở Nội vụ", id_prefix="p",
                                target_label="mục tiêu %(target)s"))
    assert alternative(root) == "Sở Nội vụ 72%; mục tiêu 80%"
    assert texts(root) == ["mục tiêu 80%", "72%"]
    target = root.find(f"{NS}line[@class='chart-target']")
    assert target.get("stroke-dasharray")
    assert target.get("x1") == target.get("x2") == "240"
    fill = root.find(f"{NS}rect[@class='chart-fill']")
    assert fill.get("width") == "216"  # 72% of 300


@pytest.mark.parametrize(("ratio", "shown", "width"), [
    (0, "0%", "0"), (1, "100%", "300"), (0.29, "29%", "87"), (0.799, "79%", "239.7"),
    (Fraction(4, 5), "80%", "240"), (Fraction(2, 3), "66%", "200"), (1.2, "120%", "300"),
    (-0.1, "-10%", "0"),
])
def test_percentages_are_rounded_down_and_bars_stay_in_their_track(ratio, shown, width):
    root = parse(progress_chart(ratio, 0.8, "x", id_prefix="p"))
    assert texts(root, "chart-value") == [shown]
    assert root.find(f"{NS}rect[@class='chart-fill']").get("width") == width


def test_a_broken_translation_shows_as_written():
    root = parse(progress_chart(0.5, 0.8, "x", id_prefix="p", target_label="mục tiêu %(tagret)s"))
    assert texts(root, "chart-target-label") == ["mục tiêu %(tagret)s"]


def test_trend_chart_summarises_in_words_and_draws_every_week():
    forecast_day = MONDAY + timedelta(weeks=10)
    root = parse(trend_chart(WEEKS, 0.8, (forecast_day, 0.8), id_prefix="t", labels=VI))
    assert alternative(root) == ("Tiến độ theo tuần Từ 10% (03/03) đến 45% (24/03); mục tiêu "
                                 "80%. Dự báo đạt mục tiêu ngày 12/05.")
    line = root.find(f"{NS}polyline[@class='chart-line']")
    assert len(line.get("points").split()) == 4
    assert len(root.findall(f"{NS}circle[@class='chart-point']")) == 3
    assert root.find(f"{NS}rect[@class='chart-point chart-latest']") is not None
    assert texts(root, "chart-value") == ["45%"]
    assert "mục tiêu 80%" in texts(root, "chart-target-label")
    assert root.find(f"{NS}line[@class='chart-target']").get("stroke-dasharray")
    projection = root.find(f"{NS}line[@class='chart-projection']")
    assert projection.get("stroke-dasharray") == "1 4"
    assert root.find(f"{NS}polygon[@class='chart-forecast']") is not None
    assert texts(root, "chart-forecast-label") == ["dự báo 12/05"]
    assert {"03/03", "24/03", "12/05"} <= set(texts(root, "chart-axis"))
    assert {"0%", "50%", "100%"} <= set(texts(root, "chart-axis"))


def test_trend_chart_uses_real_dates_on_the_time_axis():
    points = [(MONDAY, 0.1), (MONDAY + timedelta(weeks=1), 0.2),
              (MONDAY + timedelta(weeks=4), 0.5)]
    root = parse(trend_chart(points, 0.8, id_prefix="t"))
    xs = [float(pair.split(",")[0]) for pair in
          root.find(f"{NS}polyline").get("points").split()]
    assert xs[1] - xs[0] == pytest.approx((xs[2] - xs[0]) / 4, abs=0.1)


def test_trend_chart_without_forecast_has_no_projection():
    root = parse(trend_chart(WEEKS, 0.8, id_prefix="t"))
    assert root.find(f"{NS}line[@class='chart-projection']") is None
    assert "reached" not in root.find(f"{NS}desc").text


def test_long_trends_label_a_few_dates_without_overlap():
    points = [(MONDAY + timedelta(weeks=n), n / 60) for n in range(40)]
    root = parse(trend_chart(points, 0.8, id_prefix="t"))
    ticks = sorted(float(el.get("x")) for el in root.iter(f"{NS}text")
                   if el.get("class") == "chart-axis" and "/" in el.text)
    assert 3 <= len(ticks) <= 8
    assert all(b - a >= 40 for a, b in zip(ticks, ticks[1:], strict=False))


def test_an_empty_trend_says_there_is_no_data_yet():
    root = parse(trend_chart([], 0.8, id_prefix="t", labels=VI))
    assert alternative(root) == "Tiến độ theo tuần Chưa có dữ liệu"
    assert texts(root, "chart-empty") == ["Chưa có dữ liệu"]
    assert root.find(f"{NS}polyline") is None
    assert root.find(f"{NS}line[@class='chart-target']") is not None


def test_a_one_point_trend_shows_the_point_and_says_more_is_needed():
    root = parse(trend_chart(WEEKS[:1], 0.8, id_prefix="t", labels=VI))
    assert alternative(root) == "Tiến độ theo tuần 10% (03/03); mục tiêu 80%."
    assert texts(root, "chart-empty") == ["Chưa có dữ liệu"]
    assert root.find(f"{NS}polyline") is None
    assert root.find(f"{NS}rect[@class='chart-point chart-latest']").get("x") == "249"
    assert texts(root, "chart-value") == ["10%"]


def test_a_one_point_trend_can_still_show_its_forecast():
    root = parse(trend_chart(WEEKS[:1], 0.8, (MONDAY + timedelta(weeks=5), 0.8),
                             id_prefix="t"))
    assert root.find(f"{NS}line[@class='chart-projection']") is not None
    assert "07/04" in root.find(f"{NS}desc").text


def test_bar_list_keeps_the_given_order_and_writes_each_value():
    items = [("Phòng Tư pháp", 0.9), ("Phòng Nội vụ", Fraction(1, 3)), ("UBND xã An Bình", 0)]
    root = parse(bar_list(items, 0.8, id_prefix="b", title="Đơn vị trực thuộc",
                          target_label="mục tiêu %(target)s"))
    assert texts(root, "chart-name") == ["Phòng Tư pháp", "Phòng Nội vụ", "UBND xã An Bình"]
    assert texts(root, "chart-value") == ["90%", "33%", "0%"]
    assert alternative(root) == ("Đơn vị trực thuộc Phòng Tư pháp: 90%; Phòng Nội vụ: 33%; "
                                 "UBND xã An Bình: 0%; mục tiêu 80%.")
    assert len(root.findall(f"{NS}rect[@class='chart-fill']")) == 3
    assert len(root.findall(f"{NS}line[@class='chart-target']")) == 1


def test_bar_list_shortens_long_names_and_keeps_them_whole_in_a_tooltip():
    name = "Trung tâm Phục vụ hành chính công " * 3
    root = parse(bar_list([(name, 0.5)], 0.8, id_prefix="b", title="x"))
    caption = root.find(f"{NS}text[@class='chart-name']")
    assert caption.text.endswith("…")
    assert len(caption.text) == 64
    assert caption.find(f"{NS}title").text == name


def test_an_empty_bar_list_says_so():
    root = parse(bar_list([], 0.8, id_prefix="b", title="x", empty="Không có đơn vị"))
    assert texts(root, "chart-empty") == ["Không có đơn vị"]
    assert alternative(root) == "x Không có đơn vị; target 80%."
