"""Django's password rules with messages written the GOV.UK way: say what is wrong and what to
do, in the second person (AUTH_PASSWORD_VALIDATORS in pbr/settings/base.py)."""

from django.contrib.auth import password_validation as django_rules
from django.core.exceptions import ValidationError


class LengthValidator(django_rules.MinimumLengthValidator):
    def get_error_message(self):
        return f"Your password must be {self.min_length} characters or more"

    def get_help_text(self):
        return f"Your password must be {self.min_length} characters or more."


class CommonValidator(django_rules.CommonPasswordValidator):
    def get_error_message(self):
        return ("Your password is too easy to guess because many people use it. "
                "Choose a different password")

    def get_help_text(self):
        return "It cannot be a password that many people use."


class NumericValidator(django_rules.NumericPasswordValidator):
    def get_error_message(self):
        return "Your password must include letters or symbols, not only numbers"

    def get_help_text(self):
        return "It cannot be only numbers."


class SimilarityValidator(django_rules.UserAttributeSimilarityValidator):
    def validate(self, password, user=None):
        try:
            super().validate(password, user)
        except ValidationError as error:
            attribute = (error.params or {}).get("verbose_name", "personal details")
            raise ValidationError(
                f"Your password is too like your {attribute}. Choose a password that is "
                "different from your name, username and email address",
                code=error.code) from error

    def get_help_text(self):
        return "It cannot be like your name, username or email address."


