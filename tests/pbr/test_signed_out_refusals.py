"""Every permission function refuses a visitor who is not signed in (or whose account is
inactive) with the sign-in reason, before it looks at anything else: views sit behind
login_required, but services and the API call these functions directly."""

import inspect

import pytest
from django.contrib.auth.models import AnonymousUser

import contracts.permissions
import outcomes.permissions
import outcomes.verification.permissions
import payments.permissions
import pbr.dashboards.permissions
import pbr.permissions
from pbr.permissions import Decision

MODULES = [pbr.permissions, contracts.permissions, outcomes.permissions,
           outcomes.verification.permissions, payments.permissions, pbr.dashboards.permissions]


class Anything:
    """Stands in for any object argument: a refusal must not need to look at it."""

    def __getattr__(self, name):
        raise AssertionError(f"looked at .{name} before checking the user is signed in")


def permission_functions():
    for module in MODULES:
        for name, fn in vars(module).items():
            if name.startswith("can_") and inspect.isfunction(fn) and fn.__module__ == module.__name__:
                yield pytest.param(fn, id=f"{module.__name__}.{name}")


@pytest.mark.parametrize("fn", list(permission_functions()))
@pytest.mark.django_db
def test_signed_out_is_refused_with_the_sign_in_reason(fn, world_a):
    params = list(inspect.signature(fn).parameters.values())[1:]
    args = [Anything() for p in params
            if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    inactive = next(iter(world_a.users.values()))
    inactive.is_active = False
    for user in (AnonymousUser(), inactive):
        decision = fn(user, *args)
        assert isinstance(decision, Decision) and not decision, fn
        assert "sign in" in decision.reason, (fn, decision.reason)


def test_there_are_functions_to_check():
    assert len(list(permission_functions())) >= 30
