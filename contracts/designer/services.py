"""Designer state changes: start a draft contract, save its draft terms. Each is atomic and audited.

The draft lives where an imported contract's does: an unpublished TermsVersion's document. It may
be incomplete; every save reports the problems found by the same validator the importer uses, and
``contracts.services.publish_terms`` refuses to publish while any remains.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from django.db import transaction

from pbr import audit
from pbr.models import Organisation, OrganisationKind, Role

from .. import definition as fmt
from ..models import (
    Contract,
    ContractParty,
    PartyRole,
    TermsStatus,
    TermsVersion,
)
from ..permissions import can_design_contracts, can_edit_terms
from ..services import ContractError, Problem

KEEP = object()  # save_draft: leave the prime provider's organisation link as it is
MAX_AMOUNT = Decimal(10) ** 12  # Contract.annual_value is a DecimalField(max_digits=14, places=2)


def problems_in(document) -> list[Problem]:
    """Every problem with a draft document, from the importer's own validator."""
    if not isinstance(document, dict):
        return [Problem("", "The terms must be one contract definition object.", "not-an-object")]
    return [Problem(e.path, e.message, e.code) for e in fmt.validate(document)]


def _canonical(document):
    """A valid draft is stored in canonical form, exactly as an import would store it."""
    try:
        return fmt.to_dict(fmt.parse(document))
    except fmt.DefinitionError:
        return document


def _date(value):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _amount(value):
    try:
        amount = fmt.to_decimal(value)
    except ValueError:
        return None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        return None
    return amount.quantize(Decimal("0.01"))


def _row_values(document) -> dict:
    """The Contract columns a draft document gives, where they are usable. The document is the
    authority; the columns are a mirror for lists and filters."""
    values = {}
    reference = document.get("reference")
    if isinstance(reference, str) and reference.strip():
        values["reference"] = reference.strip()
    title = document.get("title")
    if isinstance(title, str) and title.strip():
        values["title"] = title.strip()[:300]
    for name in ("start", "end"):
        if (day := _date(document.get(name))) is not None:
            values[name] = day
    if (amount := _amount(document.get("annual_value"))) is not None:
        values["annual_value"] = amount
    if document.get("maximum_value") in (None, ""):
        values["maximum_value"] = None
    elif (amount := _amount(document.get("maximum_value"))) is not None:
        values["maximum_value"] = amount
    return values


def _blocking(contract, document) -> list[Problem]:
    """What stops a draft being saved at all: it would clash with another contract's reference."""
    reference = document.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        return []
    reference = reference.strip()
    if len(reference) > 64:
        return [Problem("reference", "A contract reference can be at most 64 characters.",
                        "reference-length")]
    others = Contract.objects.filter(reference=reference)
    if contract is not None:
        others = others.exclude(pk=contract.pk)
    if others.exists():
        return [Problem("reference", f"A contract with reference {reference} already exists. "
                        "Use another reference.", "reference-exists")]
    return []


def _find_organisation(name, code, kind):
    qs = Organisation.objects.filter(kind=kind, is_active=True)
    if code and (match := qs.filter(slug__iexact=code).first()):
        return match
    return qs.filter(name__iexact=name).first() if name else None


def _share(value):
    try:
        share = fmt.to_decimal(value)
    except ValueError:
        return None
    if not share.is_finite() or not 0 <= share <= 100 or share != share.quantize(Decimal("0.0001")):
        return None
    return share


def _list_of_dicts(value):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value, limit):
    return value.strip()[:limit] if isinstance(value, str) else ""


def _sync_parties(contract, document, prime_organisation=KEEP):
    """Funder, prime and subcontractor rows from the draft; links made earlier are kept."""
    existing = {(p.role, p.code or p.name): p.organisation
                for p in contract.parties.exclude(role=PartyRole.AUDITOR)}
    if prime_organisation is KEEP:
        prime_organisation = next((p.organisation for p in contract.parties.all()
                                   if p.role == PartyRole.PRIME), None)
    rows, seen = [], set()

    def add(role, name, code="", share=None, organisation=None):
        if not name or (role, name) in seen:
            return
        seen.add((role, name))
        rows.append(ContractParty(contract=contract, role=role, name=name, code=code,
                                  share_pct=share, organisation=organisation))

    for funder in _list_of_dicts(document.get("funders")):
        name = _text(funder.get("name"), 200)
        add(PartyRole.FUNDER, name, share=_share(funder.get("share_pct")),
            organisation=existing.get((PartyRole.FUNDER, name))
            or _find_organisation(name, "", OrganisationKind.COMMISSIONING_BODY))
    prime = document.get("prime_provider") if isinstance(document.get("prime_provider"), dict) \
        else {}
    add(PartyRole.PRIME, _text(prime.get("name"), 200), code=_text(prime.get("code"), 64),
        organisation=prime_organisation)
    for sub in _list_of_dicts(document.get("subcontractors")):
        code = _text(sub.get("code"), 64)
        name = _text(sub.get("name"), 200) or code
        add(PartyRole.SUBCONTRACTOR, name, code=code,
            organisation=existing.get((PartyRole.SUBCONTRACTOR, code or name))
            or _find_organisation(name, code, OrganisationKind.PROVIDER))
    contract.parties.exclude(role=PartyRole.AUDITOR).delete()
    ContractParty.objects.bulk_create(rows)


def fill_prime(document, organisation):
    """A prime provider left unnamed takes the name (and code) of the organisation chosen."""
    document = copy.deepcopy(document)
    if organisation is None:
        return document
    prime = document.get("prime_provider")
    prime = dict(prime) if isinstance(prime, dict) else {}
    if not _text(prime.get("name"), 200):
        prime["name"] = organisation.name
        if not _text(prime.get("code"), 64):
            prime["code"] = organisation.slug
    document["prime_provider"] = prime
    return document


@transaction.atomic
def create_draft(document, *, actor, prime_organisation, commissioner=None):
    """Start a draft contract from the designer's first form. The start must be sound (the
    definition so far has no problems); later sections may be saved incomplete."""
    decision = can_design_contracts(actor)
    if not decision:
        raise ContractError([Problem("", decision.reason, "permission")])
    if actor.role == Role.COMMISSIONER:
        commissioner = actor.organisation
    problems = []
    if commissioner is None or commissioner.kind != OrganisationKind.COMMISSIONING_BODY:
        problems.append(Problem("_commissioner", "Choose the commissioning body that will manage "
                                "this contract.", "commissioner-required"))
    if prime_organisation is None or prime_organisation.kind != OrganisationKind.PROVIDER:
        problems.append(Problem("_prime_organisation", "Choose the prime provider's organisation "
                                "on this service.", "prime-organisation-required"))
    document = {**fill_prime(document, prime_organisation), "format_version": fmt.FORMAT_VERSION}
    problems += _blocking(None, document) + problems_in(document)
    if problems:
        raise ContractError(problems)
    defn = fmt.parse(document)
    canonical = fmt.to_dict(defn)
    contract = Contract.objects.create(
        reference=defn.reference, title=defn.title, commissioner=commissioner, start=defn.start,
        end=defn.end, annual_value=defn.annual_value, maximum_value=defn.maximum_value)
    _sync_parties(contract, canonical, prime_organisation)
    version = TermsVersion.objects.create(
        contract=contract, number=1, effective_from=defn.start, document=canonical,
        format_version=fmt.FORMAT_VERSION, reason="Designed in the browser", created_by=actor)
    audit.record("contract.designed", actor=actor, obj=contract, organisation=commissioner,
                 after={"reference": contract.reference, "version": 1,
                        "sha256": version.document_sha256})
    return contract


def draft_version(contract):
    """The version the designer edits: the contract's latest, while it is a draft."""
    version = contract.current_version()
    if version is None or version.status != TermsStatus.DRAFT:
        return None
    return version


@transaction.atomic
def save_draft(contract, document, *, actor, prime_organisation=KEEP):
    """Store the draft terms, however incomplete; return (version, problems still to fix).

    Raises ContractError (nothing saved) only when the draft cannot be stored at all: no
    permission, the terms are already published, or its reference belongs to another contract.
    """
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    decision = can_edit_terms(actor, contract)
    if not decision:
        raise ContractError([Problem("", decision.reason, "permission")])
    version = draft_version(contract)
    if version is None:
        raise ContractError([Problem("", "These terms are published and can no longer be "
                                     "edited. Vary the contract to change them.",
                                     "already-published")])
    if not isinstance(document, dict):
        raise ContractError(problems_in(document))
    document = {**document, "format_version": fmt.FORMAT_VERSION}
    if blocking := _blocking(contract, document):
        raise ContractError(blocking)
    document = _canonical(document)
    before = version.document_sha256
    values = _row_values(document)
    version.document = document
    version.format_version = fmt.FORMAT_VERSION
    if "start" in values:
        version.effective_from = values["start"]
    version.save()
    for name, value in values.items():
        setattr(contract, name, value)
    contract.save()
    _sync_parties(contract, document, prime_organisation)
    problems = problems_in(document)
    if version.document_sha256 != before or prime_organisation is not KEEP:
        audit.record("terms.draft_saved", actor=actor, obj=version,
                     organisation=contract.commissioner, before={"sha256": before},
                     after={"sha256": version.document_sha256, "problems": len(problems)})
    return version, problems


__all__ = ["KEEP", "create_draft", "draft_version", "fill_prime", "problems_in", "save_draft"]
