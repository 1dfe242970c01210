import re

from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)

PASSWORD_HINT = ("Your password must be 12 characters or more. It cannot be a password that many "
                 "people use, only numbers, or like your name, username or email address.")


class GovukAuthenticationForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "Enter a correct username and password. Both are case-sensitive.",
        "inactive": "This account has been deactivated. Ask your organisation's manager.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].error_messages["required"] = "Enter your username"
        self.fields["password"].error_messages["required"] = "Enter your password"


class GovukPasswordResetForm(PasswordResetForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].error_messages["required"] = "Enter your email address"
        self.fields["email"].error_messages["invalid"] = (
            "Enter an email address in the correct format, like name@example.org")


class GovukSetPasswordForm(SetPasswordForm):
    """Choosing a new password (after a reset link): GOV.UK labels, hint and messages."""

    error_messages = {"password_mismatch": "The passwords do not match. Enter the same password "
                                           "twice"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        new1, new2 = self.fields["new_password1"], self.fields["new_password2"]
        new1.label, new1.help_text = "New password", PASSWORD_HINT
        new1.error_messages["required"] = "Enter a new password"
        new2.label, new2.help_text = "Confirm new password", ""
        new2.error_messages["required"] = "Enter your new password again"


class GovukPasswordChangeForm(GovukSetPasswordForm, PasswordChangeForm):
    error_messages = {
        **GovukSetPasswordForm.error_messages,
        "password_incorrect": "Your current password is not correct. Enter it again",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["old_password"].error_messages["required"] = "Enter your current password"


class CodeForm(forms.Form):
    """The 6-digit code from an authenticator app. Spaces and dashes are ignored, as people copy
    codes shown as "123 456"."""

    code = forms.CharField(
        label="Enter the 6-digit code from your authenticator app", max_length=20, required=True,
        error_messages={"required": "Enter the 6-digit code"})

    WRONG = "The code is not correct. Check your authenticator app and try again"

    def clean_code(self):
        code = re.sub(r"[\s-]", "", self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise forms.ValidationError("The code must be 6 numbers, like 123456")
        return code


class MfaResetForm(forms.Form):
    reason = forms.CharField(
        label="Why are you resetting two-factor authentication?", max_length=500,
        help_text="For example, they have a new phone. This is written in the audit log.",
        error_messages={"required": "Enter why you are resetting two-factor authentication"})
