"""Forms for the verification pages. Error messages follow GOV.UK style ("Enter …", "Choose …")."""

from django import forms

from contracts.models import Contract, PartyRole
from pbr.models import Organisation, Role, User

from ..models import ClaimStatus
from .models import RejectionReason, VerificationPolicy
from .permissions import OPEN_STATUSES

REASON_CHOICES = [("", "Choose a reason"), *RejectionReason.choices]


def _text(label, *, required=True, help_text="", message="", rows=3):
    return forms.CharField(label=label, required=required, help_text=help_text, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": rows}),
                           error_messages={"required": message or f"Enter {label.lower()}."})


class QueueFilterForm(forms.Form):
    contract = forms.ChoiceField(label="Contract", required=False)
    provider = forms.ChoiceField(label="Provider", required=False)
    outcome = forms.CharField(label="Outcome code", required=False, max_length=64)
    status = forms.ChoiceField(label="Status", required=False)
    due_before = forms.DateField(label="Due on or before", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 error_messages={"invalid": "Enter a real date, like 2026-03-31."})
    allocated = forms.ChoiceField(label="Allocated to", required=False, choices=[
        ("", "Anyone"), ("me", "Me"), ("none", "Nobody yet")])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        contracts = Contract.objects.for_user(user).order_by("reference")
        self.fields["contract"].choices = [("", "All contracts")] + [
            (str(c.pk), c.reference) for c in contracts]
        providers = Organisation.objects.filter(
            contract_parties__contract__in=contracts,
            contract_parties__role__in=(PartyRole.PRIME, PartyRole.SUBCONTRACTOR)).distinct()
        self.fields["provider"].choices = [("", "All providers")] + [
            (str(p.pk), p.name) for p in providers.order_by("name")]
        self.fields["status"].choices = [("", "Still being verified")] + [
            (s, ClaimStatus(s).label) for s in OPEN_STATUSES] + [
            (ClaimStatus.VERIFIED, "Verified"), (ClaimStatus.REJECTED, "Rejected"),
            (ClaimStatus.ACCEPTED, "Accepted without review")]

    def params(self):
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class ProviderFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False)
    attention = forms.BooleanField(label="Only claims waiting on us", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .queue import PROVIDER_STATUSES

        self.fields["status"].choices = [("", "Any status")] + [
            (s, ClaimStatus(s).label) for s in PROVIDER_STATUSES]

    def params(self):
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}


class BulkForm(forms.Form):
    claims = forms.TypedMultipleChoiceField(
        coerce=int, label="Claims", error_messages={"required": "Select at least one claim."})
    decision = forms.ChoiceField(label="Decision", choices=[
        ("verify", "Verify the selected claims"), ("reject", "Reject the selected claims")],
        widget=forms.RadioSelect, error_messages={"required": "Choose verify or reject."})
    reason_code = forms.ChoiceField(label="Reason for rejecting", required=False,
                                    choices=REASON_CHOICES)
    note = _text("Note", required=False, help_text="Shown to the provider with each decision.")

    def __init__(self, *args, claim_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["claims"].choices = [(pk, pk) for pk in claim_ids]

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("reason_code"):
            self.add_error("reason_code", "Choose the reason for rejecting the claims.")
        return data


class ClaimActionForm(forms.Form):
    """A form shown beside others on the claim review page. Several have a field of the same name
    (a note to verify, a note to reject), so each form's ids carry its own prefix: every id on the
    page is unique and each label names its own field (WCAG 1.3.1, 4.1.2)."""

    id_prefix = "action"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class QueryForm(ClaimActionForm):
    id_prefix = "query"
    text = _text("Question for the provider", message="Enter the question for the provider.",
                 help_text="Say exactly what you need, for example a payslip for week 26.")


class RespondForm(ClaimActionForm):
    id_prefix = "respond"
    text = _text("Your answer", message="Enter your answer to the auditor's question.")
    file = forms.FileField(label="New evidence file (optional)", required=False,
                           help_text="PDF, PNG, JPEG, DOCX, XLSX, CSV or TXT.")
    evidence_type = forms.CharField(label="Evidence type of the new file", required=False,
                                    max_length=64)
    evidence = forms.CharField(label="Evidence you have already uploaded (optional)",
                               required=False, max_length=400,
                               help_text="Evidence file numbers, separated by commas, like E12, "
                                         "E13.")


class NoteForm(ClaimActionForm):
    id_prefix = "note"
    note = _text("Note", required=False, help_text="Optional. Shown to the provider.")


class RejectForm(ClaimActionForm):
    id_prefix = "reject"
    reason_code = forms.ChoiceField(label="Reason", choices=REASON_CHOICES,
                                    error_messages={"required": "Choose the reason."})
    note = _text("Note", required=False, help_text="Shown to the provider. Needed for ‘Other’.")


class FindingForm(ClaimActionForm):
    id_prefix = "finding"
    reason_code = forms.ChoiceField(label="Reason", choices=REASON_CHOICES,
                                    error_messages={"required": "Choose the reason."})
    note = _text("What was found", message="Describe the finding: the provider will read it.")


class AppealForm(ClaimActionForm):
    id_prefix = "appeal"
    grounds = _text("Grounds for the appeal", message="Enter the grounds for the appeal.", rows=5)
    file = forms.FileField(label="New evidence file (optional)", required=False)
    evidence_type = forms.CharField(label="Evidence type of the new file", required=False,
                                    max_length=64)
    evidence = forms.CharField(label="Evidence you have already uploaded (optional)",
                               required=False, max_length=400,
                               help_text="Evidence file numbers, like E12, E13.")


class DecideAppealForm(ClaimActionForm):
    id_prefix = "decision"
    upheld = forms.TypedChoiceField(
        label="Decision", coerce=lambda v: v == "yes", widget=forms.RadioSelect,
        choices=[("yes", "Uphold the appeal: the claim is verified"),
                 ("no", "Dismiss the appeal: the rejection stands")],
        error_messages={"required": "Choose whether to uphold or dismiss the appeal."})
    note = _text("Reasons for the decision", message="Explain the decision: the provider and the "
                                                     "auditor will read it.")


class AllocateForm(ClaimActionForm):
    id_prefix = "allocate"
    assignee = forms.ChoiceField(label="Allocate to",
                                 error_messages={"required": "Choose who to allocate it to."})

    def __init__(self, *args, contract, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = verifiers(contract)
        self.fields["assignee"].choices = [("", "Choose a person")] + [
            (str(u.pk), f"{u.display_name} ({u.organisation.name})") for u in self.people]

    def chosen_person(self):
        pk = int(self.cleaned_data["assignee"])
        return next(u for u in self.people if u.pk == pk)


def verifiers(contract):
    auditors = contract.parties.filter(role=PartyRole.AUDITOR).values("organisation_id")
    return list(User.objects.filter(is_active=True).filter(
        role=Role.AUDITOR, organisation_id__in=auditors).select_related("organisation")) + list(
        User.objects.filter(is_active=True, role=Role.COMMISSIONER,
                            organisation_id=contract.commissioner_id)
        .select_related("organisation"))


class DrawSampleForm(forms.Form):
    period_id = forms.ChoiceField(label="Period", required=False)
    seed = forms.IntegerField(label="Seed (optional)", required=False, min_value=0,
                              max_value=2**62, help_text="Leave empty for a fresh random seed. "
                                                        "Enter a stored seed to draw the same "
                                                        "sample again.")

    def __init__(self, *args, periods=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period_id"].choices = [("", "Every period with claims waiting")] + [
            (p, p) for p in periods]


class DrawCheckForm(forms.Form):
    period_from = forms.ChoiceField(label="From period",
                                    error_messages={"required": "Choose the first period."})
    period_to = forms.ChoiceField(label="To period",
                                  error_messages={"required": "Choose the last period."})
    outcome = forms.CharField(label="Outcome code (optional)", required=False, max_length=64)
    size = forms.IntegerField(label="Sample size (optional)", required=False, min_value=1,
                              help_text="Empty: the policy's post-payment percentage.")
    seed = forms.IntegerField(label="Seed (optional)", required=False, min_value=0,
                              max_value=2**62)

    def __init__(self, *args, periods=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Choose a period")] + [(p, p) for p in periods]
        self.fields["period_from"].choices = choices
        self.fields["period_to"].choices = choices


class SampleFindingForm(forms.Form):
    error = forms.TypedChoiceField(
        label="Finding", coerce=lambda v: v == "yes", widget=forms.RadioSelect,
        choices=[("no", "Verified"), ("yes", "Could not be verified")],
        error_messages={"required": "Choose the finding."})
    reason_code = forms.ChoiceField(label="Reason", required=False, choices=REASON_CHOICES)
    note = _text("Note", required=False)


class CloseSampleForm(forms.Form):
    recovery_period = forms.CharField(
        label="Period whose statement carries the recovery (optional)", required=False,
        max_length=40, help_text="Empty: the next statement.")


class PolicyForm(forms.ModelForm):
    class Meta:
        model = VerificationPolicy
        fields = list(VerificationPolicy.SNAPSHOT_FIELDS)
        widgets = {"mode": forms.RadioSelect}
        labels = {
            "mode": "How claims are verified",
            "sample_pct": "Random share of claims, %",
            "value_threshold": "Always check claims worth at least, £",
            "check_duplicates": "Always check possible duplicates",
            "check_new_providers": "Always check a new provider's first claims",
            "check_outliers": "Always check outliers",
            "outlier_factor": "Outlier: units above this many times the median",
            "adjust_by_error_rate": "Adjust the random share by each provider's error rate",
            "green_below_pct": "Green: past error rate below, %",
            "red_from_pct": "Red: past error rate from, %",
            "green_factor": "Green providers: multiply the random share by",
            "red_factor": "Red providers: multiply the random share by",
            "post_payment_pct": "Post-payment checks: share of paid claims, %",
            "review_days": "Days to decide a selected claim",
            "query_response_days": "Days for the provider to answer a query",
            "appeal_window_days": "Days to appeal a rejection",
        }

    def clean(self):
        data = super().clean()
        green, red = data.get("green_below_pct"), data.get("red_from_pct")
        if green is not None and red is not None and green > red:
            self.add_error("red_from_pct", "The red threshold must be at least the green one.")
        return data
