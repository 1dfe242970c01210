"""World objects for the route walker (tests/pbr/test_route_permissions.py)."""

from pbr.models import Role


def _sample(world):
    from outcomes.models import ClaimStatus
    from outcomes.verification.services import draw_sample
    from tests.outcomes.conftest import c3_document, make_contract

    from .conftest import make_claims, set_policy, submitted_return

    contract = make_contract(world, c3_document(), reference=f"C3-{world.provider.slug}")
    set_policy(contract, mode="verify_all")
    make_claims(submitted_return(contract, world.provider), 1, status=ClaimStatus.PASSED)
    return draw_sample(contract, actor=None, seed=1)


def route_sample(world):
    """A sample on a contract world B audits; world A's auditor would otherwise see samples."""
    return _sample(world).pk, Role.AUDITOR


def route_sample_item(world):
    return _sample(world).items.get().pk, Role.AUDITOR
