"""Builders shared by the statement, PDF, subcontractor and forecast tests."""

import io
import re

from contracts.definition import load_document
from contracts.services import import_contract
from tests.payments.scheme import EXAMPLES, DbRunner


def pdf_text(content):
    """All the text of a PDF, whitespace collapsed (a wrapped sentence reads as one)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def squash(text):
    return re.sub(r"\s+", " ", text)


def runner_for(world, example, facts):
    """An example contract managed by `world`'s commissioner, delivered by `world`'s provider."""
    runner = DbRunner(example, facts)
    runner.contract.commissioner = world.commissioning_body
    runner.contract.save()
    prime = runner.contract.parties.get(role="prime")
    prime.organisation = world.provider
    prime.save()
    return runner


def import_variant(world, example, change, *, reference):
    """Import a changed copy of an example (e.g. other funders), managed by `world`."""
    document = load_document(EXAMPLES / example)
    document["reference"] = reference
    change(document)
    return import_contract(document, commissioner=world.commissioning_body,
                           links={document["prime_provider"]["code"]: world.provider},
                           publish=True)
