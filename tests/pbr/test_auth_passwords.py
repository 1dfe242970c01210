"""Weak passwords are refused on the change-password and reset-link pages, with GOV.UK-style
messages that say what to do (pbr/auth_passwords.py, AUTH_PASSWORD_VALIDATORS)."""

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from pbr.models import Role

pytestmark = pytest.mark.django_db

OLD = "correct-horse-battery"  # tests/factories.py
STRONG = "plum-orchard-tuesday-41"

WEAK = [
    ("short-1", "Your password must be 12 characters or more"),
    ("password1234", "Your password is too easy to guess because many people use it. "
                     "Choose a different password"),
    ("830571946213", "Your password must include letters or symbols, not only numbers"),
]


@pytest.fixture
def user(world_a):
    person = world_a.users[Role.PROVIDER_USER]
    person.first_name, person.last_name = "Morwenna", "Trelawney"
    person.email = "morwenna.trelawney@example.org"
    person.save()
    return person


def change(client, new, again=None, old=OLD):
    return client.post("/account/password-change/", {
        "old_password": old, "new_password1": new, "new_password2": again or new})


def errors_on(response):
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page  # the GOV.UK error summary
    return page


@pytest.mark.parametrize(("password", "message"), WEAK)
def test_change_password_refuses_weak_passwords(client, user, password, message):
    client.force_login(user)
    page = errors_on(change(client, password))
    assert message in page
    assert 'href="#id_new_password2"' in page  # the summary links to the field
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_change_password_refuses_one_like_the_persons_name(client, user):
    client.force_login(user)
    page = errors_on(change(client, "trelawney-1234"))
    assert "Your password is too like your last name. Choose a password that is different " \
           "from your name, username and email address" in page


def test_change_password_other_messages(client, user):
    client.force_login(user)
    assert "Your current password is not correct. Enter it again" in errors_on(
        change(client, STRONG, old="not-my-password"))
    assert "The passwords do not match. Enter the same password twice" in errors_on(
        change(client, STRONG, again=STRONG + "x"))
    empty = errors_on(client.post("/account/password-change/", {}))
    for message in ("Enter your current password", "Enter a new password",
                    "Enter your new password again"):
        assert message in empty
    assert "Your password must be 12 characters or more. It cannot be a password" in empty


def test_change_password_accepts_a_strong_password(client, user):
    client.force_login(user)
    response = change(client, STRONG)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(STRONG)


def _reset_link(client, user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    response = client.get(f"/account/password-reset/{uid}/{token}/")
    assert response.status_code == 302  # Django swaps the token into the session
    return response["Location"]


@pytest.mark.parametrize(("password", "message"), WEAK)
def test_reset_link_refuses_weak_passwords(client, user, password, message):
    url = _reset_link(client, user)
    assert "Choose a new password" in client.get(url).content.decode()
    page = errors_on(client.post(url, {"new_password1": password, "new_password2": password}))
    assert message in page
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_reset_link_accepts_a_strong_password(client, user):
    url = _reset_link(client, user)
    response = client.post(url, {"new_password1": STRONG, "new_password2": STRONG})
    assert response.status_code == 302 and response["Location"] == "/account/password-reset/complete/"
    user.refresh_from_db()
    assert user.check_password(STRONG)
