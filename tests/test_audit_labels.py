"""Every audit action the code records has a human label on the audit log page."""

import re
from pathlib import Path

from lms.audit.labels import ACTION_LABELS

LMS = Path(__file__).resolve().parents[1] / "lms"
RECORDED = re.compile(r"""record_event\(\s*["']([a-z_]+)["']""")


def test_every_recorded_action_has_a_label():
    recorded = {
        action
        for source in LMS.rglob("*.py")
        for action in RECORDED.findall(source.read_text(encoding="utf-8"))
    }
    assert {"login", "programme_assigned", "content_synced"} <= recorded
    assert sorted(recorded - ACTION_LABELS.keys()) == []
