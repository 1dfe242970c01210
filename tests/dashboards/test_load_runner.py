"""The load test runner's verdict (bench/dashboards_load.py): a page over the p95 limit, any
failed request or a page never answered is a miss; it never touches the payments benchmark's
database."""

import pytest

from bench import dashboards_load


def row(name, p95, failures=0, requests=100):
    return {"Name": name, "Request Count": str(requests), "Failure Count": str(failures),
            "Median Response Time": "40", "95%": str(p95), "99%": "90",
            "Max Response Time": "120.5"}


def test_every_measured_page_within_the_limit_passes():
    rows = [row(name, 250) for name in dashboards_load.MEASURED]
    rows += [row("sign in", 9000), row("Aggregated", 9000)]  # not measured
    table, missed = dashboards_load.summarise(rows, 300, sorted(dashboards_load.PAGES))
    assert missed == []
    assert {e["page"] for e in table if e["measured"]} == set(dashboards_load.MEASURED)


def test_a_slow_page_a_failure_or_a_page_never_answered_is_a_miss():
    rows = [row("commissioner dashboard", 310), row("contract dashboard", 100, failures=1),
            row("equity view", 100)]
    _table, missed = dashboards_load.summarise(rows, 300, ["Commissioner", "Provider"])
    assert missed == ["commissioner dashboard: p95 310.0 ms > 300 ms",
                      "contract dashboard: 1 failed requests",
                      "provider claim list (filtered): no requests were made"]


def test_it_refuses_the_payments_benchmark_database():
    with pytest.raises(SystemExit):
        dashboards_load.main(["--db", "pbr_bench_national"])
