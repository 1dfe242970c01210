"""C2 Southend (payment-cases.md C2) through the whole stack: the provider's own system sends the
year's figures through the REST API with a token; the year-end statement shows, for each
indicator, the achieved value, the band and the formula."""

from decimal import Decimal

import pytest

from tests.payments.scheme import Scheme

pytestmark = pytest.mark.django_db


@pytest.fixture
def southend(world_a):
    scheme = Scheme(world_a, "c2-southend.yaml")
    # Tenancy sustainment is a rate: sent as tenancies sustained over tenancies supported.
    scheme.submit("Q4 2011-12", via="api", indicators=[
        {"indicator": "individuals_supported", "measure_period": "2011-12", "value": "122"},
        {"indicator": "tenancy_sustainment", "measure_period": "2011-12",
         "numerator": "199", "denominator": "200"}])  # 99.5%
    scheme.submit("Q4 2012-13", via="api", indicators=[
        {"indicator": "individuals_supported", "measure_period": "2012-13", "value": "89"},
        {"indicator": "tenancy_sustainment", "measure_period": "2012-13",
         "numerator": "77", "denominator": "80"}])  # 96.25%
    return scheme.run_all()


def test_year_one_pays_8960_and_10000_so_18960(southend):
    y1 = southend.statement("Q4 2011-12")
    assert y1["total"] == "18960.00"
    by_indicator = {ln["inputs"]["indicator"]: ln for ln in y1["lines"]}
    supported = by_indicator["individuals_supported"]
    assert supported["amount"] == "8960.00"
    assert supported["inputs"]["achieved"] == "122"
    assert supported["inputs"]["band"] == "between minimum and stretch"
    assert "89.6%" in supported["explanation"]
    sustained = by_indicator["tenancy_sustainment"]
    assert sustained["amount"] == "10000.00"
    assert sustained["inputs"]["achieved"] == "99.5"
    assert y1["by_funder"][0]["amount"] == "18960.00"
    assert southend.paid_in_year("2011-12") == Decimal("18960.00")
    # Nothing is paid before the year's figures are in.
    for quarter in ("Q1 2011-12", "Q2 2011-12", "Q3 2011-12"):
        assert southend.paid_in(quarter) == 0


def test_year_two_pays_0_and_9666_67(southend):
    y2 = southend.statement("Q4 2012-13")
    assert y2["total"] == "9666.67"
    by_indicator = {ln["inputs"]["indicator"]: ln for ln in y2["lines"]}
    assert by_indicator["individuals_supported"]["amount"] == "0.00"
    assert by_indicator["individuals_supported"]["inputs"]["achieved"] == "89"
    assert by_indicator["tenancy_sustainment"]["amount"] == "9666.67"
    assert "96.6667%" in by_indicator["tenancy_sustainment"]["explanation"]
    assert y2["by_funder"][0]["amount"] == "9666.67"
    assert southend.paid_in_year("2012-13") == Decimal("9666.67")


def test_every_line_states_its_formula_and_band(southend):
    for ln in southend.statement("Q4 2011-12")["lines"]:
        assert ln["inputs"]["band"] and ln["explanation"].endswith(".")
        assert "£10,000" in ln["explanation"]
