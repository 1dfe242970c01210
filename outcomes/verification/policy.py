"""The verification policy in force for a contract, with the defaults when none is set."""

from .models import VerificationPolicy


def get_policy(contract):
    """The contract's policy, or None: without one, claims that pass the automatic checks are
    paid without human review (the behaviour before verification existed)."""
    # Read afresh, not from the contract's cached relation: a sample must record the policy as
    # stored at the moment it is drawn.
    return VerificationPolicy.objects.filter(contract=contract).first()


def policy_values(contract):
    """The policy's settings as strings (the sample snapshot), or the model's defaults."""
    policy = get_policy(contract)
    return (policy or VerificationPolicy(contract=contract)).snapshot()
