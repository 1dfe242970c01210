from django import forms

from contracts.models import Contract

from .models import ClaimStatus, ReturnStatus
from .validation import CLAIM_COLUMNS, EVENT_COLUMNS


class ClaimForm(forms.Form):
    """Every column of a claims file as a text field: the shared validator does the checking, so
    the form gives exactly the answers an upload or the API would."""

    LABELS = {
        "participant_ref": "Participant reference", "ni_number": "National Insurance number",
        "date_of_birth": "Date of birth", "segment": "Payment group", "start_date":
        "Date they joined the programme", "outcome": "Outcome code", "achieved":
        "Date achieved", "started": "Start of the spell (if the outcome has a sustainment window)",
        "step_from": "Step from", "step_to": "Step to", "grade": "Grade", "criteria_met":
        "Criteria met", "criteria_total": "Criteria assessed", "value": "Units",
        "subcontractor": "Subcontractor code", "evidence": "Evidence file numbers",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for column in CLAIM_COLUMNS:
            self.fields[column.name] = forms.CharField(
                label=self.LABELS.get(column.name, column.name), required=False,
                help_text=column.doc, max_length=300)

    def row(self):
        return {name: self.cleaned_data.get(name, "") for name in self.fields}


class EventForm(forms.Form):
    """The columns of an events file as text fields, checked by the shared validator."""

    LABELS = {"participant_ref": "Participant reference", "event": "Event",
              "occurred": "Date it happened"}

    def __init__(self, *args, event_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        for column in EVENT_COLUMNS:
            help_text = column.doc
            if column.name == "event":
                help_text = ("This contract records: " + ", ".join(event_types) + "."
                             if event_types else "This contract's terms record no events.")
            elif column.name == "occurred":
                help_text = "For example 2014-03-31 or 31/03/2014. " + column.doc
            self.fields[column.name] = forms.CharField(
                label=self.LABELS[column.name], required=False, help_text=help_text,
                max_length=300)

    def row(self):
        return {name: self.cleaned_data.get(name, "") for name in self.fields}


class DatasetUploadForm(forms.Form):
    file = forms.FileField(label="Dataset file (CSV or Excel .xlsx)",
                           error_messages={"required": "Choose a CSV or Excel file to upload."})


class UploadForm(forms.Form):
    file = forms.FileField(label="Return file (CSV or Excel .xlsx)",
                           error_messages={"required": "Choose a CSV or Excel file to upload."})


class EvidenceForm(forms.Form):
    file = forms.FileField(label="Evidence file",
                           help_text="PDF, PNG, JPEG, DOCX, XLSX, CSV or TXT.",
                           error_messages={"required": "Choose a file to upload."})
    evidence_type = forms.CharField(
        label="Evidence type", required=False, max_length=64,
        help_text="The evidence type the contract asks for, for example off_benefit_check.")


class AttachEvidenceForm(forms.Form):
    evidence = forms.IntegerField(label="Evidence file number", min_value=1,
                                  error_messages={"required": "Enter the evidence file number."})


class StartReturnForm(forms.Form):
    contract = forms.ModelChoiceField(queryset=Contract.objects.none(), label="Contract",
                                      error_messages={"required": "Choose a contract."})
    period_id = forms.CharField(label="Period", max_length=32,
                                help_text="As shown on statements, for example ‘Jun 2013’ or "
                                          "‘Q1 2011-12’.",
                                error_messages={"required": "Enter the period."})

    def __init__(self, *args, contracts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if contracts is not None:
            self.fields["contract"].queryset = contracts


class AmendForm(forms.Form):
    reason = forms.CharField(label="Why are you amending this return?", max_length=2000,
                             error_messages={"required": "Enter the reason for the amendment."})


class ReturnFilterForm(forms.Form):
    contract = forms.CharField(required=False, label="Contract reference")
    period = forms.CharField(required=False, label="Period")
    status = forms.ChoiceField(required=False, label="Status",
                               choices=[("", "Any")] + list(ReturnStatus.choices))


class DateInput(forms.DateInput):
    input_type = "date"


YES_NO = [("", "Any"), ("active", "Still on the programme"), ("left", "Left the programme")]


class ClaimFilterForm(forms.Form):
    contract = forms.ModelChoiceField(queryset=Contract.objects.none(), required=False,
                                      to_field_name="reference", label="Contract",
                                      empty_label="Any contract")
    period = forms.CharField(required=False, label="Period", max_length=32)
    outcome = forms.CharField(required=False, label="Outcome code", max_length=64)
    status = forms.ChoiceField(required=False, label="Status",
                               choices=[("", "Any status")] + list(ClaimStatus.choices))
    participant = forms.CharField(required=False, label="Participant reference", max_length=64)
    all_versions = forms.BooleanField(required=False,
                                      label="Include versions replaced by an amendment")

    def __init__(self, *args, contracts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if contracts is not None:
            self.fields["contract"].queryset = contracts


class ParticipantFilterForm(forms.Form):
    contract = forms.ModelChoiceField(queryset=Contract.objects.none(), required=False,
                                      to_field_name="reference", label="Contract",
                                      empty_label="Any contract")
    segment = forms.CharField(required=False, label="Payment group", max_length=64)
    status = forms.ChoiceField(required=False, label="On the programme", choices=YES_NO)
    reference = forms.CharField(required=False, label="Participant reference", max_length=64)

    def __init__(self, *args, contracts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if contracts is not None:
            self.fields["contract"].queryset = contracts


class LeaveForm(forms.Form):
    leave_date = forms.DateField(
        label="Date they left", widget=DateInput,
        error_messages={"required": "Enter the date they left.",
                        "invalid": "Enter the date they left as a real date, for example "
                                   "2026-03-27."})
    leave_reason = forms.CharField(
        label="Why they left", max_length=200,
        help_text="For example: moved out of the area, entered work, withdrew consent.",
        error_messages={"required": "Enter why they left.",
                        "max_length": "Why they left must be 200 characters or fewer."})


class SegmentForm(forms.Form):
    segment = forms.ChoiceField(label="New payment group", choices=(),
                                error_messages={"required": "Choose a payment group.",
                                                "invalid_choice": "Choose one of the contract's "
                                                                  "payment groups."})
    reason = forms.CharField(label="Why is the payment group changing?", max_length=2000,
                             error_messages={"required": "Enter the reason for changing the "
                                                         "payment group."})

    def __init__(self, *args, segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", "Choose a payment group")] + [
            (code, code) for code in segments]
