"""Accessibility checks in the browser tests: axe-core (npm, `node_modules/axe-core`) run on the
page as it is, against WCAG 2.2 level A and AA (the UK public sector standard).

    from tests.e2e.axe import assert_accessible
    assert_accessible(page)          # fails listing every serious or critical violation

axe is put into the page through the DevTools protocol (`page.evaluate`), which a page's
Content-Security-Policy does not govern, so the page keeps its real CSP while it is checked: no
`bypass_csp` context and no inline `<script>` the policy would (rightly) block.
"""

from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Every axe rule for WCAG 2.0, 2.1 and 2.2 success criteria at levels A and AA (axe has no
# 'wcag22a' rules: the new level A criteria of 2.2 are not machine-checkable).
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = ("serious", "critical")

RUN_AXE = """async (tags) => {
  const results = await window.axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "),
                              summary: n.failureSummary || ""})),
  }));
}"""


@cache
def axe_source():
    if not AXE_JS.exists():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `npm ci` (axe-core is a dev "
                                "dependency in package.json).")
    return AXE_JS.read_text(encoding="utf-8")


def violations(page, impacts=FAILING_IMPACTS):
    """The page's WCAG 2.2 A/AA violations of the given impacts, as plain dicts."""
    # After a click that navigates, the new document may still be loading: check all of it.
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found = page.evaluate(RUN_AXE, WCAG_AA_TAGS)
    return [v for v in found if v["impact"] in impacts]


def describe(found):
    lines = []
    for v in found:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}")
            for detail in node["summary"].splitlines():
                if detail.strip():
                    lines.append(f"        {detail.strip()}")
    return "\n".join(lines)


def assert_accessible(page, label=""):
    """Fail, naming the page, listing each serious or critical WCAG 2.2 AA violation with its
    rule, help text and the selector of every element at fault."""
    found = violations(page)
    if found:
        where = label or page.url
        raise AssertionError(f"Accessibility (axe-core, WCAG 2.2 AA): {len(found)} serious or "
                             f"critical violation(s) on {where}:\n{describe(found)}")
