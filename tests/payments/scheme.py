"""Run an example contract through the real stack: import, facts, run_period, statement --json."""

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from contracts.definition import load_document, periods
from contracts.models import Contract
from contracts.services import import_contract
from payments.models import PaymentRun
from payments.services import run_period
from pbr.models import Organisation, OrganisationKind

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


class DbRunner:
    def __init__(self, example, facts):
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
        run, posted = run_period(self.contract, period_id, facts=self.facts)
        return posted

    def run_all(self, until=None):
        for period_id in self.periods:
            self.run(period_id)
            if period_id == until:
                break
        return self

    def statement(self, period_id):
        out = StringIO()
        call_command("statement", self.contract.reference, period_id, "--json", stdout=out)
        return json.loads(out.getvalue())

    def paid_in(self, period_id):
        return Decimal(self.statement(period_id)["total"])

    def paid_in_year(self, fy):
        defn = self.contract.current_version().definition()
        ids = [p.id for p in periods(defn) if p.financial_year == fy]
        runs = PaymentRun.objects.filter(contract=self.contract, period_id__in=ids)
        return sum((Decimal(r.payable_total()) for r in runs), Decimal("0.00"))


def contract(reference):
    return Contract.objects.get(reference=reference)
