"""Contract state changes: import, publish, vary. Each is atomic and audited."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from pbr import audit
from pbr.models import Organisation, OrganisationKind

from . import definition as fmt
from .models import (
    Contract,
    ContractParty,
    ContractStatus,
    PartyRole,
    TermsImmutableError,
    TermsStatus,
    TermsVersion,
)
from .permissions import can_design_contracts, can_publish_terms, can_vary_contract


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    code: str

    def __str__(self):
        return f"{self.path or '(document)'}: {self.message} [{self.code}]"


class ContractError(Exception):
    """Carries every problem found; nothing has been saved when it is raised."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def check_document(document):
    """Validate a definition document; return (definition, canonical document) or raise."""
    if not isinstance(document, dict):
        raise ContractError([Problem("", "The file must contain one contract definition object.",
                                     "not-an-object")])
    try:
        defn = fmt.parse(document)
    except fmt.DefinitionError as exc:
        raise ContractError([Problem(e.path, e.message, e.code) for e in exc.errors]) from exc
    return defn, fmt.to_dict(defn)


def _find_organisation(name, code, kind):
    qs = Organisation.objects.filter(kind=kind, is_active=True)
    if code:
        match = qs.filter(slug__iexact=code).first()
        if match:
            return match
    return qs.filter(name__iexact=name).first() if name else None


def _parties(defn, links):
    """Party rows for a definition; `links` maps a party code or name to an Organisation."""
    links = links or {}

    def link(name, code, kind):
        return links.get(code) or links.get(name) or _find_organisation(name, code, kind)

    rows = [ContractParty(role=PartyRole.FUNDER, name=f.name, share_pct=f.share_pct,
                          organisation=link(f.name, "", OrganisationKind.COMMISSIONING_BODY))
            for f in defn.funders]
    prime = defn.prime_provider
    rows.append(ContractParty(role=PartyRole.PRIME, name=prime.name, code=prime.code,
                              organisation=link(prime.name, prime.code, OrganisationKind.PROVIDER)))
    for sub in defn.subcontractors:
        rows.append(ContractParty(role=PartyRole.SUBCONTRACTOR, name=sub.name or sub.code,
                                  code=sub.code,
                                  organisation=link(sub.name, sub.code, OrganisationKind.PROVIDER)))
    return rows


@transaction.atomic
def import_contract(document, *, actor=None, commissioner=None, links=None, auditor=None,
                    publish=False, reason="Imported"):
    """Create a contract and its first terms version from a definition document.

    All or nothing: any problem raises ContractError listing every problem, and nothing is saved.
    """
    if actor is not None:
        decision = can_design_contracts(actor)
        if not decision:
            raise ContractError([Problem("", decision.reason, "permission")])
        commissioner = commissioner or actor.organisation
    if commissioner is None or commissioner.kind != OrganisationKind.COMMISSIONING_BODY:
        raise ContractError([Problem("", "Name the commissioning body that will manage this contract.",
                                     "commissioner-required")])
    defn, canonical = check_document(document)
    if Contract.objects.filter(reference=defn.reference).exists():
        raise ContractError([Problem("reference", f"A contract with reference {defn.reference} already "
                                     "exists. Vary it instead, or use another reference.",
                                     "reference-exists")])
    contract = Contract.objects.create(
        reference=defn.reference, title=defn.title, commissioner=commissioner,
        start=defn.start, end=defn.end, annual_value=defn.annual_value,
        maximum_value=defn.maximum_value,
    )
    for party in _parties(defn, links):
        party.contract = contract
        party.save()
    if auditor is not None:
        ContractParty.objects.create(contract=contract, role=PartyRole.AUDITOR, name=auditor.name,
                                     organisation=auditor)
    version = TermsVersion.objects.create(
        contract=contract, number=1, effective_from=defn.start, document=canonical,
        format_version=canonical.get("format_version", fmt.FORMAT_VERSION), reason=reason,
        created_by=actor,
    )
    audit.record("contract.imported", actor=actor, obj=contract, organisation=commissioner,
                 after={"reference": contract.reference, "version": 1,
                        "sha256": version.document_sha256}, reason=reason,
                 actor_label="" if actor else "import_contract")
    if publish:
        publish_terms(version, actor=actor, approver=actor)
        contract.refresh_from_db()
    return contract


@transaction.atomic
def publish_terms(version, *, actor=None, approver=None):
    version = TermsVersion.objects.select_for_update().select_related("contract").get(pk=version.pk)
    if actor is not None:
        decision = can_publish_terms(actor, version)
        if not decision:
            raise ContractError([Problem("", decision.reason, "permission")])
    if version.status == TermsStatus.PUBLISHED:
        raise ContractError([Problem("", "This version is already published.", "already-published")])
    # A draft saved from the designer may be incomplete: it is published only once every problem
    # the importer would report is fixed, so nothing half-valid is ever published.
    problems = []
    try:
        check_document(version.document)
    except ContractError as exc:
        problems.extend(exc.problems)
    unlinked = [p for p in version.contract.parties.all()
                if p.role == PartyRole.PRIME and p.organisation_id is None]
    if unlinked:
        problems.append(Problem("prime_provider", f"Link {unlinked[0].name} to a provider "
                                "organisation on this service before publishing.",
                                "party-unlinked"))
    if problems:
        raise ContractError(problems)
    version.status = TermsStatus.PUBLISHED
    version.published_at = timezone.now()
    version.approved_by = approver or actor
    version.save()
    contract = version.contract
    before = contract.status
    if contract.status == ContractStatus.DRAFT:
        contract.status = ContractStatus.PUBLISHED
        contract.save(update_fields=["status"])
    audit.record("terms.published", actor=actor, obj=version, organisation=contract.commissioner,
                 before={"status": "draft", "contract_status": before},
                 after={"status": "published", "contract_status": contract.status},
                 actor_label="" if actor else "system")
    return version


@transaction.atomic
def vary_contract(contract, document, *, actor, reason, effective_from, approver=None):
    """Publish a new terms version from `effective_from`; earlier versions stay as they were."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    problems = []
    if actor is not None:
        decision = can_vary_contract(actor, contract)
        if not decision:
            raise ContractError([Problem("", decision.reason, "permission")])
    if not reason or not reason.strip():
        problems.append(Problem("reason", "Enter the reason for the variation.", "reason-required"))
    latest = contract.published_versions().last()
    if latest is None:
        problems.append(Problem("", "Publish the contract before varying it; edit the draft instead.",
                                "not-published"))
    elif effective_from is None or effective_from <= latest.effective_from:
        problems.append(Problem("effective_from", "A variation must take effect after the version it "
                                f"replaces (v{latest.number}, from {latest.effective_from:%d %B %Y}).",
                                "effective-date-order"))
    try:
        defn, canonical = check_document(document)
    except ContractError as exc:
        problems.extend(exc.problems)
        defn = None
    if defn is not None and defn.reference != contract.reference:
        problems.append(Problem("reference", f"The variation is for {defn.reference}, not "
                                f"{contract.reference}.", "reference-mismatch"))
    if defn is not None and effective_from is not None and not (defn.start <= effective_from <= defn.end):
        problems.append(Problem("effective_from", "The effective date must fall within the contract "
                                "term.", "effective-date-range"))
    if problems:
        raise ContractError(problems)
    number = contract.versions.count() + 1
    version = TermsVersion.objects.create(
        contract=contract, number=number, effective_from=effective_from, document=canonical,
        format_version=canonical.get("format_version", fmt.FORMAT_VERSION), reason=reason.strip(),
        created_by=actor, supersedes=latest,
    )
    version = publish_terms(version, actor=None, approver=approver or actor)
    contract.title = defn.title
    contract.end = defn.end
    contract.annual_value = defn.annual_value
    contract.maximum_value = defn.maximum_value
    contract.save(update_fields=["title", "end", "annual_value", "maximum_value"])
    audit.record("contract.varied", actor=actor, obj=contract, organisation=contract.commissioner,
                 before={"version": latest.number, "sha256": latest.document_sha256},
                 after={"version": number, "sha256": version.document_sha256,
                        "effective_from": effective_from.isoformat()},
                 reason=reason.strip())
    return version


def export_document(contract, number=None):
    version = contract.versions.get(number=number) if number else contract.current_version()
    return version.document


__all__ = ["ContractError", "Problem", "TermsImmutableError", "check_document", "export_document",
           "import_contract", "publish_terms", "vary_contract"]
