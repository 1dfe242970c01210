"""axe-core (WCAG 2.2 A and AA) on the main pages the journey (test_journey.py) does not show:
sign-in, dashboards, claim and participant lists, the designer's sections, forecasts, the audit
log, samples, and each role's home. The data is made directly (these pages are read, not acted
on); each role signs in through the sign-in page. No serious or critical violation is allowed."""

import pytest
from django.urls import reverse

from tests.e2e.axe import describe, violations
from tests.e2e.helpers import sign_in, sign_out

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def programme(db):
    """C3 published for Pathway (a subcontractor linked, Clearview auditing) with a submitted
    return, a verify-all sample drawn, Jan 2012 run and approved and dashboards worked out; a
    copy of C3 as a draft, for the designer's editable sections."""
    from contracts.definition import load_document
    from contracts.services import import_contract
    from outcomes.models import Claim, Participant
    from outcomes.verification.models import Sample
    from outcomes.verification.services import draw_sample, save_policy
    from payments.services import approve_run, run_period
    from pbr.dashboards.refresh import refresh_contract
    from pbr.demo import seed_people
    from pbr.models import AuditEvent, User
    from tests.dashboards.conftest import caseload, submitted_return
    from tests.outcomes.conftest import EXAMPLES

    orgs, _users = seed_people()
    users = {u.username: u for u in User.objects.all()}
    document = load_document(EXAMPLES / "c3-work-programme.yaml")
    contract = import_contract(document, commissioner=orgs["northshire-council"],
                               links={"PRIME": orgs["pathway-housing"],
                                      "T1-NORTH": orgs["step-up-charity"]},
                               auditor=orgs["clearview-assurance"], publish=True)
    draft = import_contract({**document, "reference": "C3-DRAFT"},
                            commissioner=orgs["northshire-council"],
                            links={"PRIME": orgs["pathway-housing"]})
    ret = submitted_return(contract, orgs["pathway-housing"])
    caseload(ret, "JSA_18_24", 12, 8, 4, {"T1-NORTH": 6, "T1-SOUTH": 6})
    run, _lines = run_period(contract, "Jan 2012")
    approve_run(run, actor=users["commissioner"])
    save_policy(contract, actor=users["commissioner"], values={"mode": "verify_all"})
    later = submitted_return(contract, orgs["pathway-housing"], "Feb 2012")
    caseload(later, "ESA_EXIB", 3, 2, 1, prefix="LATER")
    draw_sample(contract, actor=users["auditor"], seed=7)
    refresh_contract(contract, with_forecast=True)
    return {
        "contract": contract, "draft": draft, "run": run, "return": ret,
        "claim": Claim.objects.filter(return_record=ret).order_by("pk").first(),
        "sampled": Claim.objects.filter(status="sampled").order_by("pk").first(),
        "participant": Participant.objects.order_by("pk").first(),
        "sample": Sample.objects.get(), "event": AuditEvent.objects.order_by("pk").first(),
        "pathway": orgs["pathway-housing"],
    }


def pages_for(role, data):
    c, draft = data["contract"].pk, data["draft"].pk
    if role == "commissioner":
        from contracts.designer.forms import SECTIONS
        from contracts.designer.views import section_url_name

        return [
            reverse("home_commissioner"), reverse("contract_list"),
            reverse("contract_detail", args=[c]), reverse("contract_vary", args=[c]),
            reverse("contract_simulate", args=[c]),
            reverse("designer_new"), reverse("designer_overview", args=[draft]),
            *[reverse(section_url_name(s.slug), args=[draft]) for s in SECTIONS],
            reverse("contract_detail", args=[draft]),
            reverse("dashboard_programme"), reverse("dashboard_contract", args=[c]),
            reverse("dashboard_contract_equity", args=[c]), reverse("dashboard_equity"),
            reverse("contract_runs", args=[c]), reverse("run_statement", args=[data["run"].pk]),
            reverse("contract_liability", args=[c]), reverse("forecast_list"),
            reverse("subcontractor_ledger", args=[c]),
            reverse("verification_queue"), reverse("verification_samples"),
            reverse("verification_sample", args=[data["sample"].pk]),
            reverse("verification_policy", args=[c]), reverse("verification_check", args=[c]),
            reverse("dataset_list"), reverse("audit_event_list"),
            reverse("audit_event_detail", args=[data["event"].pk]), reverse("job_list"),
        ]
    if role == "provider-manager":
        return [
            reverse("home_provider"), reverse("dashboard_provider"), reverse("return_list"),
            reverse("return_start"), reverse("return_detail", args=[data["return"].pk]),
            reverse("claim_list"), reverse("claim_detail", args=[data["claim"].pk]),
            reverse("participant_list"),
            reverse("participant_detail", args=[data["participant"].pk]),
            reverse("evidence_list"), reverse("verification_provider"),
            reverse("contract_income_forecast", args=[c]), reverse("api_token_list"),
            reverse("organisation_detail", args=[data["pathway"].pk]),
        ]
    if role == "auditor":
        return [reverse("home_auditor"), reverse("verification_queue"),
                reverse("verification_claim", args=[data["sampled"].pk]),
                reverse("verification_draw", args=[c])]
    if role == "admin":
        return [reverse("home_site_admin"), reverse("organisation_list")]
    raise ValueError(role)


def test_main_pages_have_no_serious_accessibility_violations(live_server, page, programme):
    problems, errors, too_wide = [], [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def check(path):
        response = page.goto(f"{live_server.url}{path}")
        assert response.ok, f"{path} answered {response.status}"
        found = violations(page)
        if found:
            problems.append(f"{path}:\n{describe(found)}")
        # Nothing pushes the page sideways: a wide table scrolls in its own region.
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            too_wide.append(path)

    for path in (reverse("login"), reverse("password_reset")):
        check(path)
    # A dashboard table is in a scrolling region named by its caption, which the keyboard can
    # reach (axe: scrollable-region-focusable once the table is wider than the page).
    sign_in(page, live_server, "commissioner")
    page.goto(f"{live_server.url}{reverse('dashboard_programme')}")
    region = page.locator("#section-contracts .pbr-table-scroll")
    assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
    assert page.locator(f"#{region.get_attribute('aria-labelledby')}").inner_text() == \
        page.locator("#contracts caption").inner_text()
    page.wait_for_selector("#liability[data-chart-drawn]", state="attached")
    assert page.locator("#section-liability > figure.pbr-chart").count() == 1  # above the region
    sign_out(page)
    for role in ("commissioner", "provider-manager", "auditor", "admin"):
        sign_in(page, live_server, role)
        for path in pages_for(role, programme):
            check(path)
        sign_out(page)
    assert too_wide == [], "pages wider than the window"
    assert not problems, ("Accessibility (axe-core, WCAG 2.2 AA): serious or critical "
                          "violations on " + "\n\n".join(problems))
    assert errors == []
