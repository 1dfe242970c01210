"""The claim review page shows several forms at once (query, verify, reject, allocate; answer and
appeal; decide an appeal). Their fields must not share ids, each label must name its own field,
and each field must be described by its hint and error message (WCAG 1.3.1, 3.3.1, 4.1.2)."""

from collections import Counter
from html.parser import HTMLParser

import pytest

from outcomes.verification import services

from .conftest import make_claims, set_policy, submitted_return

CONTROLS = {"input", "select", "textarea"}


class Markup(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.ids, self.labels, self.controls, self.links = Counter(), [], {}, []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids[attrs["id"]] += 1
        if tag == "label" and attrs.get("for"):
            self.labels.append(attrs["for"])
        if tag in CONTROLS and attrs.get("id"):
            self.controls[attrs["id"]] = attrs
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])


def markup(response):
    assert response.status_code in (200, 400)
    return Markup(response.content.decode())


def assert_sound(page):
    duplicated = [i for i, n in page.ids.items() if n > 1]
    assert duplicated == [], f"ids used more than once: {duplicated}"
    assert page.labels and all(page.ids[target] == 1 for target in page.labels)


@pytest.fixture
def claim(c3, world_a, people):
    set_policy(c3, mode="verify_all")
    claims = make_claims(submitted_return(c3, world_a.provider), 1)
    services.draw_sample(c3, actor=people["auditor"], seed=1)
    services.start_review(claims[0], actor=people["auditor"])
    return claims[0]


@pytest.mark.django_db
def test_the_verifiers_forms_have_their_own_ids_and_describe_their_fields(client, claim, people):
    client.force_login(people["auditor"])
    page = markup(client.get(f"/verification/claims/{claim.pk}/"))
    assert_sound(page)
    # The verify note and the reject note are two fields, each with its own label and hint.
    assert {"note-note", "reject-note", "reject-reason_code", "query-text",
            "allocate-assignee"} <= set(page.controls)
    assert page.controls["reject-note"]["aria-describedby"] == "reject-note-hint"
    assert page.controls["note-note"]["aria-describedby"] == "note-note-hint"
    assert page.controls["query-text"]["aria-describedby"] == "query-text-hint"


@pytest.mark.django_db
def test_a_refused_rejection_links_its_error_to_the_field_that_describes_it(client, claim, people):
    client.force_login(people["auditor"])
    page = markup(client.post(f"/verification/claims/{claim.pk}/reject/", {"note": ""}))
    assert_sound(page)
    assert "reject-reason_code" in page.links
    assert page.controls["reject-reason_code"]["aria-describedby"].split() == [
        "reject-reason_code-error"]


@pytest.mark.django_db
def test_the_appeal_and_its_decision_have_their_own_ids(client, claim, people):
    services.reject_claim(claim, actor=people["auditor"], reason_code="not_eligible", note="")
    client.force_login(people["provider_manager"])
    page = markup(client.get(f"/verification/claims/{claim.pk}/"))
    assert_sound(page)
    assert {"appeal-grounds", "appeal-file", "appeal-evidence"} <= set(page.controls)
    assert page.controls["appeal-evidence"]["aria-describedby"] == "appeal-evidence-hint"

    services.appeal_claim(claim, actor=people["provider_manager"], grounds="Eligible.",
                          evidence=[])
    client.force_login(people["commissioner"])
    page = markup(client.post(f"/verification/claims/{claim.pk}/decide-appeal/", {"note": ""}))
    assert_sound(page)
    # A missing choice of radios links to the first radio, which the fieldset's error describes.
    assert "decision-upheld_0" in page.links and "decision-note" in page.links
    assert page.controls["decision-upheld_0"]["type"] == "radio"
