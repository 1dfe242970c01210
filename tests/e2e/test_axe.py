"""The accessibility helper itself: it finds and names serious violations, and it works on a page
whose Content-Security-Policy forbids inline scripts without weakening that policy."""

import pytest

from tests.e2e.axe import assert_accessible, violations

pytestmark = pytest.mark.e2e

STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"
PAGE = """<!DOCTYPE html><html lang="en"><head><title>Planted problems</title></head><body>
<main><h1>Planted problems</h1>
<img src="/chart.png">
<label>Unrelated label</label><input id="amount" name="amount" type="text">
<script>document.body.dataset.inline = "ran";</script>
</main></body></html>"""


def serve(page, html, csp=STRICT_CSP):
    page.route("http://pbr.test/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=html,
        headers={"Content-Security-Policy": csp}))
    page.goto("http://pbr.test/")


def test_serious_violations_are_listed_with_rule_help_and_selector(page):
    serve(page, PAGE)
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "the planted page")
    message = str(failure.value)
    assert "2 serious or critical violation(s) on the planted page" in message
    assert "[critical] image-alt: Images must have alternative text" in message
    assert "[critical] label: Form elements must have labels" in message
    assert "    img" in message and "    #amount" in message


def test_axe_runs_under_the_page_csp_and_the_csp_still_blocks_inline_scripts(page):
    serve(page, PAGE)
    found = violations(page)
    assert {v["id"] for v in found} == {"image-alt", "label"}
    # axe went in through DevTools; the page's own inline script was still refused.
    assert page.evaluate("document.body.dataset.inline") is None


def test_a_clean_page_passes(page):
    serve(page, """<!DOCTYPE html><html lang="en"><head><title>Fine</title></head><body>
    <main><h1>Fine</h1><label for="a">Amount</label><input id="a" type="text"></main>
    </body></html>""")
    assert_accessible(page)
    assert violations(page) == []
