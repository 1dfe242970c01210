from django import forms

from pbr.forms import GovukDateInput
from pbr.models import Organisation, OrganisationKind


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Contract definition file", required=False,
        help_text="A YAML or JSON file in the contract definition format (version 1), up to 1 MB.",
    )
    text = forms.CharField(label="Or paste the definition", required=False, widget=forms.Textarea)
    # The definition format names funders and providers, not who verifies: the audit body is
    # chosen here (as with the command's --auditor and the API's ?auditor=).
    auditor = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=OrganisationKind.AUDIT_BODY, is_active=True)
        .order_by("name"),
        label="Audit body (optional)", required=False, empty_label="None: we verify claims ourselves",
        help_text="The audit body whose auditors verify this contract's claims.",
        error_messages={"invalid_choice": "Choose an audit body from the list."},
    )

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste a definition.")
        return data


class VaryForm(ImportForm):
    auditor = None  # a variation changes the terms, not the parties
    reason = forms.CharField(label="Reason for the variation", widget=forms.Textarea,
                             error_messages={"required": "Enter the reason for the variation."})
    effective_from = forms.DateField(label="Takes effect from", widget=GovukDateInput,
                                     error_messages={"required": "Enter the date the variation takes "
                                                                 "effect.",
                                                     "invalid": "Enter a real date."})
