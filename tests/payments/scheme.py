"""Run an example contract through the whole stack, the way people and systems use it.

import_contract (examples/contracts/) -> participants and returns through the outcomes app's
real ways in (the service, the upload page with a CSV/XLSX file, the REST API with a token) ->
verification decisions -> payments.services.run_period with no facts argument, so every fact
comes from outcomes.services.facts_for -> statement_json, the statement every format shows.
"""

import copy
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from contracts.definition import load_document, periods
from contracts.services import import_contract
from outcomes import services as returns
from outcomes.models import Claim, Return
from outcomes.validation import CLAIM_COLUMNS, EVENT_COLUMNS, INDICATOR_COLUMNS
from outcomes.verification import services as checks
from payments.models import PaymentRun
from payments.services import run_period, statement_json
from pbr.models import Role
from pbr.services import issue_api_token

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
COLUMNS = {"claims": CLAIM_COLUMNS, "indicators": INDICATOR_COLUMNS, "events": EVENT_COLUMNS}


@pytest.fixture(autouse=True)
def private_evidence_root(settings, tmp_path):
    """Evidence stored by a scheme test lives in the test's own folder (as in tests/outcomes);
    autouse in every test module that imports it."""
    storages = copy.deepcopy(settings.STORAGES)
    storages["evidence"]["OPTIONS"]["location"] = str(tmp_path / "evidence")
    settings.STORAGES = storages
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return tmp_path / "evidence"


def table(kind, rows, fmt="csv"):
    """A returns file of one kind, with the columns of the template download."""
    names = [c.name for c in COLUMNS[kind]]
    if fmt == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(names)
        for row in rows:
            sheet.append([row.get(n) for n in names])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(n, "") for n in names])
    return buffer.getvalue().encode()


class Scheme:
    """verification: None (claims that pass the automatic checks are paid), "verify_all" (the
    auditor reviews and verifies every claim) or "accept" (a 0% sample: each claim is accepted
    without review). The policy is the commissioner's, set through the verification service."""

    def __init__(self, world, example, verification=None):
        self.world = world
        self.provider_user = world.users[Role.PROVIDER_MANAGER]
        self.commissioner = world.users[Role.COMMISSIONER]
        self.auditor = world.users[Role.AUDITOR]
        document = load_document(EXAMPLES / example)
        self.contract = import_contract(
            document, commissioner=world.commissioning_body,
            links={document["prime_provider"]["code"]: world.provider},
            auditor=world.audit_body, publish=True)
        self.calendar = periods(self.contract.current_version().definition())
        self.periods = [p.id for p in self.calendar]
        self._browser = None
        self._api = None
        self._seed = 0
        if verification == "verify_all":
            self.set_policy(mode="verify_all")
        elif verification == "accept":
            self.set_policy(sample_pct=Decimal(0), check_new_providers=False,
                            check_outliers=False, check_duplicates=False)

    # --- verification (outcomes/verification/) ----------------------------------------------

    def set_policy(self, **values):
        checks.save_policy(self.contract, actor=self.commissioner, values=values)

    def verify_waiting(self):
        """The auditor draws a sample of the claims waiting under the contract's policy and
        verifies each claim selected; the rest are accepted without review by the draw."""
        if not checks.waiting_to_be_sampled(self.contract).exists():
            return None
        self._seed += 1
        sample = checks.draw_sample(self.contract, actor=self.auditor, seed=self._seed)
        for item in sample.items.select_related("claim"):
            checks.start_review(item.claim, actor=self.auditor)
            checks.verify_claim(item.claim, actor=self.auditor, note="Evidence seen.")
        return sample

    def finding_after_payment(self, claim, note):
        """A verified claim found wrong after it was paid (outcomes.verification)."""
        return checks.record_finding(claim, actor=self.auditor, reason_code="not_achieved",
                                     note=note)

    def period_of(self, day):
        return next(p.id for p in self.calendar if p.start <= day <= p.end)

    # --- the ways in ------------------------------------------------------------------------

    @property
    def browser(self):
        """The provider's browser session on the returns pages."""
        if self._browser is None:
            self._browser = Client()
            self._browser.force_login(self.provider_user)
        return self._browser

    def api(self, method, path, **data):
        """The provider's own system, with an API token its manager issued."""
        if self._api is None:
            _token, key = issue_api_token(actor=self.provider_user,
                                          organisation=self.world.provider, name="case system")
            self._api = {"HTTP_AUTHORIZATION": f"Token {key}"}
        client = Client()
        if "file" in data:
            response = getattr(client, method)(f"/api/v1/{path}", data, **self._api)
        else:
            response = getattr(client, method)(f"/api/v1/{path}", data,
                                               content_type="application/json", **self._api)
        assert response.status_code in (200, 201), (path, response.json())
        return response.json()

    def submit(self, period_id, *, via="service", fmt="csv", **kinds):
        """One return for the period holding claims / indicators / events rows, submitted."""
        kinds = {kind: rows for kind, rows in kinds.items() if rows}
        if via == "api":
            sent = Return.objects.filter(contract=self.contract, period_id=period_id) \
                .order_by("-version").first()
            if sent is None:
                ret = self.api("post", "returns/", contract=self.contract.reference,
                               period_id=period_id)
            else:  # a return already submitted for the period is amended: a new version
                ret = self.api("post", f"returns/{sent.pk}/amend/",
                               reason="Outcomes achieved since the return was sent")
            for kind, rows in kinds.items():
                saved = self.api("post", f"returns/{ret['id']}/{kind}/", rows=rows)
                assert saved == {"saved": len(rows)}
            self.api("post", f"returns/{ret['id']}/submit/")
            return Return.objects.get(pk=ret["id"])
        ret = returns.start_return(self.contract, period_id, actor=self.provider_user)
        if via == "upload":
            for kind, rows in kinds.items():
                upload = SimpleUploadedFile(f"{kind}.{fmt}", table(kind, rows, fmt))
                response = self.browser.post(f"/returns/{ret.pk}/upload/", {"file": upload})
                assert response.status_code == 302, response.content.decode()[:3000]
            response = self.browser.post(f"/returns/{ret.pk}/submit/")
            assert response.status_code == 302
            return Return.objects.get(pk=ret.pk)
        for kind, rows in kinds.items():
            returns.add_rows(ret, list(enumerate(rows, start=2)), actor=self.provider_user,
                             kind=kind, source="form")
        return returns.submit_return(ret, actor=self.provider_user)

    def send(self, period_id, **kwargs):
        """Submit, then verify what came in, as the auditor would before the period's run."""
        ret = self.submit(period_id, **kwargs)
        self.verify_waiting()
        return ret

    def upload_evidence(self, name, content, evidence_type):
        stored = self.api("post", "evidence/", file=SimpleUploadedFile(name, content),
                          evidence_type=evidence_type)
        return f"E{stored['id']}"

    def claims(self, **filters):
        return Claim.objects.filter(return_record__contract=self.contract, **filters)

    # --- runs and statements -------------------------------------------------------------------

    def run(self, period_id):
        _run, posted = run_period(self.contract, period_id)
        return posted

    def run_all(self, until=None):
        for period_id in self.periods:
            self.run(period_id)
            if period_id == until:
                break
        return self

    def statement(self, period_id):
        return statement_json(PaymentRun.objects.get(contract=self.contract,
                                                     period_id=period_id))

    def lines(self, period_ids=None):
        return [line for period_id in (period_ids or self.computed())
                for line in self.statement(period_id)["lines"]]

    def computed(self):
        return list(PaymentRun.objects.filter(contract=self.contract)
                    .order_by("period_index").values_list("period_id", flat=True))

    def paid_in(self, period_id):
        return Decimal(self.statement(period_id)["total"])

    def paid_in_year(self, fy):
        ids = [p.id for p in self.calendar if p.financial_year == fy]
        return sum((self.paid_in(p) for p in ids if p in self.computed()), Decimal("0.00"))


class DbRunner:
    """For tests of the run machinery itself (workers, approval, statement pages), not of the
    figures: imports an example for a fixed council and provider and runs periods with facts
    passed in directly (None: whatever facts_for finds, i.e. nothing)."""

    def __init__(self, example, facts):
        from pbr.models import Organisation, OrganisationKind

        commissioner, _ = Organisation.objects.get_or_create(
            slug="scheme-council", defaults={"name": "Scheme Council",
                                             "kind": OrganisationKind.COMMISSIONING_BODY})
        provider, _ = Organisation.objects.get_or_create(
            slug="scheme-provider", defaults={"name": "Scheme Provider",
                                              "kind": OrganisationKind.PROVIDER})
        document = load_document(EXAMPLES / example)
        self.contract = import_contract(document, commissioner=commissioner,
                                        links={document["prime_provider"]["code"]: provider},
                                        publish=True)
        self.facts = facts
        self.periods = [p.id for p in periods(self.contract.current_version().definition())]

    def run(self, period_id):
        _run, posted = run_period(self.contract, period_id, facts=self.facts)
        return posted

    def run_all(self, until=None):
        for period_id in self.periods:
            self.run(period_id)
            if period_id == until:
                break
        return self

    def statement(self, period_id):
        return statement_json(PaymentRun.objects.get(contract=self.contract,
                                                     period_id=period_id))

    def paid_in(self, period_id):
        return Decimal(self.statement(period_id)["total"])
