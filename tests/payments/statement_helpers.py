"""Builders shared by the statement, PDF, subcontractor and forecast tests."""

import io
import re
from pathlib import Path

from contracts.definition import load_document, periods
from contracts.services import import_contract
from payments.services import run_period

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def pdf_text(content):
    """All the text of a PDF, whitespace collapsed (a wrapped sentence reads as one)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def squash(text):
    return re.sub(r"\s+", " ", text)


class Scheme:
    """An example contract managed by `world`'s commissioner and delivered by `world`'s
    provider, run period by period on engine facts given by the test."""

    def __init__(self, world, example, facts, *, change=None, reference=None):
        document = load_document(EXAMPLES / example)
        if reference:
            document["reference"] = reference
        if change:
            change(document)
        self.contract = import_contract(document, commissioner=world.commissioning_body,
                                        links={document["prime_provider"]["code"]:
                                               world.provider},
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


def runner_for(world, example, facts):
    return Scheme(world, example, facts)


def import_variant(world, example, change, *, reference):
    """Import a changed copy of an example (e.g. other funders), managed by `world`."""
    return Scheme(world, example, None, change=change, reference=reference).contract
