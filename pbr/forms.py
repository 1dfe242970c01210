from django import forms


class GovukDateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=100, label="Action contains")
    object_type = forms.CharField(required=False, max_length=100, label="Object type contains")
    date_from = forms.DateField(required=False, label="From", widget=GovukDateInput)
    date_to = forms.DateField(required=False, label="To", widget=GovukDateInput)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The ‘to’ date must be the same as or after the ‘from’ date.")
        return data


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Token name",
        help_text="Say which system will use it, for example ‘Case management system (live)’.",
        error_messages={"required": "Enter a name for the token."},
    )
