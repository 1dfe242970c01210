"""The equity view on crafted caseloads: one segment parked, one supply chain creamed."""

import pytest

from pbr.dashboards.refresh import refresh_contract

from .conftest import caseload, submitted_return

pytestmark = pytest.mark.django_db


def _rows(html, table_id):
    import re

    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody", 1)[1]
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", body, re.S)
    return [re.sub(r"<[^>]+>", "|", r) for r in rows]


def test_a_parked_segment_is_flagged_and_the_rule_is_shown(client, contract, commissioner,
                                                           world_a):
    ret = submitted_return(contract, world_a.provider)
    # JSA 18-24: 100 people, 70 active, 40 with a job outcome. ESA: 100 people, 12 active,
    # 3 with a job outcome: 17% of the others' activity rate, 7.5% of their outcome rate.
    caseload(ret, "JSA_18_24", 100, 70, 40)
    caseload(ret, "ESA_EXIB", 100, 12, 3)
    snapshot = refresh_contract(contract, with_forecast=False)
    groups = {g["segment"]: g for g in snapshot.summary["equity"]["groups"]}
    assert (groups["JSA_18_24"]["participants"], groups["JSA_18_24"]["active"],
            groups["JSA_18_24"]["with_outcome"]) == (100, 70, 40)
    assert (groups["ESA_EXIB"]["active"], groups["ESA_EXIB"]["with_outcome"]) == (12, 3)

    client.force_login(commissioner)
    html = client.get(f"/dashboards/contracts/{contract.pk}/equity/").content.decode()
    assert "possible parking" in html and "less than 50% of the rate" in html  # the rule, in words
    segments = _rows(html, "segments")
    esa = next(r for r in segments if "ESA ex-incapacity benefit" in r)
    jsa = next(r for r in segments if "JSA claimants aged 18-24" in r)
    assert "12.0%" in esa and "3.0%" in esa and "Possible parking" in esa
    assert "70.0%" in jsa and "40.0%" in jsa and "No flag" in jsa
    flags = _rows(html, "equity_flags")
    assert len(flags) == 1
    assert "ESA ex-incapacity benefit" in flags[0] and "Possible parking" in flags[0]
    assert "Activity rate 12.0% against 70.0% in the other segments (17% of it)" in flags[0]
    assert "Outcome rate 3.0% against 40.0% in the other segments (8% of it)" in flags[0]

    # The programme-wide view flags the same segment, contract by contract.
    programme = client.get("/dashboards/equity/").content.decode()
    assert any("ESA ex-incapacity benefit" in r and contract.reference in r
               for r in _rows(programme, "equity_flags"))


def test_an_even_caseload_is_not_flagged(client, contract, commissioner, world_a):
    ret = submitted_return(contract, world_a.provider)
    caseload(ret, "JSA_18_24", 60, 40, 20)
    caseload(ret, "ESA_EXIB", 60, 36, 16)
    refresh_contract(contract, with_forecast=False)
    client.force_login(commissioner)
    html = client.get(f"/dashboards/contracts/{contract.pk}/equity/").content.decode()
    assert "Nothing is flagged" in html
    assert "Possible parking" not in html.split('id="flag-rules"')[1].split("</div>")[1]


def test_unequal_referral_flow_to_a_subcontractor_is_flagged(client, contract, commissioner,
                                                              world_a):
    ret = submitted_return(contract, world_a.provider)
    # T1-NORTH is sent 45 of 50 JSA participants but only 5 of 50 ESA: half of all referrals,
    # 10% of ESA's.
    caseload(ret, "JSA_18_24", 50, 30, 20, {"T1-NORTH": 45, "T1-SOUTH": 5})
    caseload(ret, "ESA_EXIB", 50, 30, 20, {"T1-NORTH": 5, "T1-SOUTH": 45})
    refresh_contract(contract, with_forecast=False)
    client.force_login(commissioner)
    html = client.get(f"/dashboards/contracts/{contract.pk}/equity/").content.decode()
    referrals = _rows(html, "referrals")
    north_esa = next(r for r in referrals if "Northern Employment Trust" in r and "ESA" in r)
    assert "10.0%" in north_esa and "50.0%" in north_esa and "Unequal referral flow" in north_esa
    flags = _rows(html, "equity_flags")
    assert any("Northern Employment Trust" in r and "Unequal referral flow" in r for r in flags)
    assert not any("Possible parking" in r for r in flags)
