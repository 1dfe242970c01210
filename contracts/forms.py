from django import forms

from pbr.forms import GovukDateInput


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Contract definition file", required=False,
        help_text="A YAML or JSON file in the contract definition format (version 1), up to 1 MB.",
    )
    text = forms.CharField(label="Or paste the definition", required=False, widget=forms.Textarea)

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste a definition.")
        return data


class VaryForm(ImportForm):
    reason = forms.CharField(label="Reason for the variation", widget=forms.Textarea,
                             error_messages={"required": "Enter the reason for the variation."})
    effective_from = forms.DateField(label="Takes effect from", widget=GovukDateInput,
                                     error_messages={"required": "Enter the date the variation takes "
                                                                 "effect.",
                                                     "invalid": "Enter a real date."})
