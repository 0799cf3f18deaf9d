"""Shares shown as whole percents, rounded down as the reports promise (a unit at 79.9% must
not read 80%), without the float error that turned 29% into 28%."""

import pytest
from flask import render_template_string

from lms.text import whole_percent


@pytest.mark.parametrize(("ratio", "shown"), [
    (0.29, 29), (0.57, 57), (0.799, 79), (0.8, 80), (1 / 3, 33), (2 / 3, 66), (0, 0),
    (1, 100), (0.0001, 0),
])
def test_whole_percent(ratio, shown):
    assert whole_percent(ratio) == shown


def test_the_percent_filter_of_the_dashboards(app):
    with app.test_request_context():
        assert render_template_string("{{ 0.29|percent }}% {{ 0.57|percent }}%") == "29% 57%"
