"""Who may do what with returns, claims and evidence. Each returns a Decision (allowed, reason).

Visibility is the models' for_user() scope; these decide actions on objects already in scope.
"""

from contracts.models import PartyRole
from contracts.permissions import manages_contract
from pbr.permissions import ALLOW, Decision, signed_in


def delivers(organisation_id, contract):
    """Whether the organisation is the prime provider or a subcontractor on the contract."""
    return contract.parties.filter(organisation_id=organisation_id,
                                   role__in=(PartyRole.PRIME, PartyRole.SUBCONTRACTOR)).exists()


def can_submit_returns(user, contract=None):
    if (denied := signed_in(user)) is not None:
        return denied
    if not user.is_provider:
        return Decision(False, "Only providers submit returns.")
    if contract is not None and not delivers(user.organisation_id, contract):
        return Decision(False, f"Your organisation does not deliver {contract.reference}.")
    return ALLOW


def can_edit_return(user, return_record):
    if not (decision := can_submit_returns(user)):
        return decision
    if return_record.provider_id != user.organisation_id:
        return Decision(False, "You can only change your own organisation's returns.")
    if not return_record.is_editable:
        return Decision(False, "This return has been submitted. Amend it to make changes; the "
                               "submitted version is kept.")
    return ALLOW


def can_amend_return(user, return_record):
    if not (decision := can_submit_returns(user)):
        return decision
    if return_record.provider_id != user.organisation_id:
        return Decision(False, "You can only amend your own organisation's returns.")
    if return_record.status == "locked":
        return Decision(False, "The period has closed and this return is locked.")
    if return_record.is_editable:
        return Decision(False, "This return is still a draft; change it directly.")
    if hasattr(return_record, "superseded_by"):
        return Decision(False, "A newer version of this return exists; amend that one.")
    return ALLOW


def can_upload_evidence(user):
    if (denied := signed_in(user)) is not None:
        return denied
    if not user.is_provider:
        return Decision(False, "Only providers upload evidence.")
    return ALLOW


def can_change_participant(user, participant):
    """Record a leave date or change the payment group: the provider who enrolled them."""
    if (denied := signed_in(user)) is not None:
        return denied
    if not user.is_provider:
        return Decision(False, "Only the provider who enrolled a participant can change their "
                               "record.")
    if participant.provider_id != user.organisation_id:
        return Decision(False, "You can only change your own organisation's participants.")
    return ALLOW


def can_upload_datasets(user, contract):
    """External figures (baselines, comparison cohorts) come from the commissioner who manages
    the contract, never from the provider whose payment they decide."""
    if (denied := signed_in(user)) is not None:
        return denied
    if manages_contract(user, contract):
        return ALLOW
    return Decision(False, f"Only the commissioner who manages {contract.reference} can upload "
                           "its external datasets.")
