"""Accessibility scans with axe-core (npm, pinned in package-lock.json; `make install`).

axe is injected into the page under test as an inline script, which our CSP
(`script-src 'self'`) rightly blocks. So a scan needs a browser context opened with
`AXE_CONTEXT` (Playwright's `bypass_csp=True`): use it ONLY for the axe scans, never for a
test that walks the app, so that every other browser test still runs under the real CSP.
"""

import os
from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_CONTEXT = {"bypass_csp": True}  # only to inject axe itself: see the module docstring
SERIOUS = ("serious", "critical")

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html,
                              summary: n.failureSummary})),
  }));
}"""


def require_axe():
    """Skip (fail under CI) when `make install` has not fetched axe-core."""
    if not AXE_JS.exists():
        reason = f"{AXE_JS} is missing: run `make install` (needs npm) for the axe scans"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def scan(page, impacts=SERIOUS):
    """Run axe on the page as it is now; the violations whose impact is in `impacts`."""
    require_axe()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    return [v for v in page.evaluate(_RUN) if v["impact"] in impacts]


def describe(violations):
    """The violations as readable lines, for an assertion message."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {node['html'][:200]}")
            if node["summary"]:
                lines.extend(f"      {line}" for line in node["summary"].splitlines())
    return "\n".join(lines)
