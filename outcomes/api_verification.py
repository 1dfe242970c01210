"""REST API for verification (included at /api/v1/): every transition of the claim lifecycle,
samples and post-payment checks, and the verification policy.

Every queryset is a for_user() scope, so another organisation's object is 404. A refusal by role,
organisation or segregation of duties is 403; a claim in the wrong state is 409; missing or
invalid input is 400. Each carries the reason in `detail`.
"""

from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contracts.models import Contract
from pbr.api.filters import IdFilter, TextFilter, query_filters
from pbr.models import AuditEvent, User

from .models import Claim
from .verification import permissions, services
from .verification.explain import explain
from .verification.models import (
    RejectionReason,
    Sample,
    SampleItem,
    SampleKind,
    VerificationPolicy,
)
from .verification.policy import get_policy
from .verification.queue import provider_claims, queue_for

# --- serializers ----------------------------------------------------------------------------


class QuerySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    raised_by = serializers.CharField(source="raised_by.username")
    raised_at = serializers.DateTimeField()
    due_date = serializers.DateField()
    response = serializers.CharField()
    responded_by = serializers.CharField(source="responded_by.username", default=None,
                                         allow_null=True)
    responded_at = serializers.DateTimeField(allow_null=True)
    evidence = serializers.SerializerMethodField()

    def get_evidence(self, obj) -> list[str]:
        return [f"E{e.pk}" for e in obj.evidence.all()]


class AppealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    grounds = serializers.CharField()
    lodged_by = serializers.CharField(source="lodged_by.username")
    lodged_at = serializers.DateTimeField()
    decided_by = serializers.CharField(source="decided_by.username", default=None,
                                       allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    upheld = serializers.BooleanField(allow_null=True)
    note = serializers.CharField()


class ReviewSerializer(serializers.Serializer):
    sample = serializers.CharField(source="sample.reference", default=None, allow_null=True)
    reasons = serializers.ListField(child=serializers.DictField())
    allocated_to = serializers.CharField(source="allocated_to.username", default=None,
                                         allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None,
                                       allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason_code = serializers.CharField()
    note = serializers.CharField()
    rejected_by = serializers.CharField(source="rejected_by.username", default=None,
                                        allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)
    after_payment = serializers.BooleanField()


class VerificationClaimSerializer(serializers.ModelSerializer):
    contract = serializers.CharField(source="return_record.contract.reference")
    provider = serializers.CharField(source="return_record.provider.slug")
    period = serializers.CharField(source="return_record.period_id")
    participant_ref = serializers.CharField(source="participant.provider_reference")
    status_label = serializers.CharField(source="get_status_display")
    explanation = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()

    class Meta:
        model = Claim
        fields = ["id", "contract", "provider", "period", "participant_ref", "outcome",
                  "achieved", "status", "status_label", "explanation", "review"]

    def get_explanation(self, obj) -> str:
        with_policy = self.context.get("with_policy")
        return explain(obj, has_policy=None if with_policy is None
                       else obj.return_record.contract_id in with_policy)

    @extend_schema_field(ReviewSerializer(allow_null=True))
    def get_review(self, obj):
        review = obj.review if permissions.has_review(obj) else None
        return ReviewSerializer(review).data if review else None


class VerificationClaimDetailSerializer(VerificationClaimSerializer):
    checks = serializers.JSONField()
    evidence = serializers.SerializerMethodField()
    queries = QuerySerializer(many=True)
    appeals = AppealSerializer(many=True)
    history = serializers.SerializerMethodField()

    class Meta(VerificationClaimSerializer.Meta):
        fields = [*VerificationClaimSerializer.Meta.fields, "checks", "evidence", "queries",
                  "appeals", "history"]

    def get_evidence(self, obj) -> list[dict]:
        return [{"id": f"E{e.pk}", "name": e.original_name, "type": e.evidence_type,
                 "content_type": e.content_type} for e in obj.evidence_files.all()]

    def get_history(self, obj) -> list[dict]:
        return [{"at": e.occurred_at, "action": e.action, "by": e.actor_label,
                 "before": e.before, "after": e.after, "reason": e.reason}
                for e in claim_history(obj)]


def claim_history(claim):
    """The claim's audit events, oldest first. The claim itself is already in the user's
    scope; its history is shared by everyone who can see it."""
    return AuditEvent.objects.filter(object_type=Claim._meta.label,
                                     object_id=str(claim.pk)).order_by("occurred_at", "id")


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class TextSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The question, or the answer.")
    evidence = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                     help_text="Your evidence file ids, e.g. ['E12'].")


class RejectSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=RejectionReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AllocateSerializer(serializers.Serializer):
    assignee = serializers.CharField(help_text="Username of the auditor or commissioner.")


class AppealInputSerializer(serializers.Serializer):
    grounds = serializers.CharField()
    evidence = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class DecideAppealSerializer(serializers.Serializer):
    upheld = serializers.BooleanField()
    note = serializers.CharField()


# Claim ids are BigAutoField: a larger number is no claim, and the database refuses to compare it.
MAX_ID = 2**63 - 1


class BulkSerializer(serializers.Serializer):
    claims = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                   allow_empty=False, max_length=1000)
    decision = serializers.ChoiceField(choices=["verify", "reject"])
    reason_code = serializers.ChoiceField(choices=RejectionReason.choices, required=False,
                                          allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


BULK_RESULTS = inline_serializer("BulkResults", {"results": serializers.ListField(
    child=inline_serializer("BulkResult", {
        "claim": serializers.IntegerField(), "done": serializers.BooleanField(),
        "refused": serializers.CharField(help_text="Why not, when done is false.")}))})


def _act(action_name, request, claim, call):
    """Role/organisation refusal -> 403; the service's own refusal -> 409 (state) or 400."""
    decision = permissions.can_act(request.user, claim, action_name)
    if not decision:
        raise PermissionDenied(decision.reason)
    try:
        call()
    except services.InputError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    except services.VerificationError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    claim = Claim.objects.get(pk=claim.pk)
    return Response(VerificationClaimDetailSerializer(claim).data)


class QueueFilters(serializers.Serializer):
    contract = IdFilter("Contract id.")
    provider = IdFilter("Provider organisation id (verifiers).")
    outcome = TextFilter("Outcome code from the contract terms.")
    status = TextFilter("Claim status; without it, the claims still being verified.")
    due_before = serializers.DateField(required=False, help_text="Decision due on or before "
                                                                 "this date (verifiers).")
    allocated = serializers.RegexField(
        r"^(me|none|[0-9]{1,18})$", required=False, allow_blank=True,
        error_messages={"invalid": "Give me, none or a user id."},
        help_text="me, none, or a user id (verifiers).")
    attention = serializers.BooleanField(required=False, default=False,
                                         help_text="Only claims waiting on you (providers).")


class VerificationClaimViewSet(viewsets.ReadOnlyModelViewSet):
    """Claims in verification. Verifiers see their work queue; providers their own claims."""

    lookup_url_kwarg = "claim_pk"

    def get_serializer_class(self):
        return VerificationClaimDetailSerializer if self.action != "list" \
            else VerificationClaimSerializer

    @extend_schema(parameters=[QueueFilters],
                   summary="The work queue (verifiers) or your claims in verification (providers)")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        user = self.request.user
        if self.action == "list":
            params = query_filters(self.request, QueueFilters)
            if user.is_provider:
                return provider_claims(user, params)
            return queue_for(user, params).prefetch_related("queries", "appeals")
        return (Claim.objects.for_user(user)
                .select_related("return_record__contract", "return_record__provider",
                                "participant")
                .prefetch_related("evidence_files", "queries__evidence", "appeals"))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "list":
            context["with_policy"] = set(VerificationPolicy.objects.filter(
                contract__in=Contract.objects.for_user(self.request.user))
                .values_list("contract_id", flat=True))
        return context

    def _simple(self, request, name, call):
        claim = self.get_object()
        return _act(name, request, claim, lambda: call(claim))

    @extend_schema(request=NoteSerializer, summary="Select a claim for verification")
    @action(detail=True, methods=["post"])
    def select(self, request, claim_pk=None):
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._simple(request, "select", lambda c: services.select_claim(
            c, actor=request.user, note=data.validated_data["note"]))

    @extend_schema(request=None, summary="Start reviewing a selected claim")
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, claim_pk=None):
        return self._simple(request, "start_review",
                            lambda c: services.start_review(c, actor=request.user))

    @extend_schema(request=AllocateSerializer, summary="Allocate the claim to a verifier")
    @action(detail=True, methods=["post"])
    def allocate(self, request, claim_pk=None):
        claim = self.get_object()
        data = AllocateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = User.objects.filter(username=data.validated_data["assignee"]).first()
        try:
            services.allocate(claim, actor=request.user, assignee=assignee)
        except services.VerificationError as exc:
            decision = permissions.can_verify_contract(request.user, claim.return_record.contract)
            code = status.HTTP_403_FORBIDDEN if not decision else status.HTTP_409_CONFLICT
            return Response({"detail": str(exc)}, status=code)
        return Response(VerificationClaimDetailSerializer(Claim.objects.get(pk=claim.pk)).data)

    @extend_schema(request=TextSerializer, summary="Raise a query with the provider")
    @action(detail=True, methods=["post"])
    def query(self, request, claim_pk=None):
        claim = self.get_object()
        data = TextSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _act("raise_query", request, claim, lambda: services.raise_query(
            claim, actor=request.user, text=data.validated_data["text"]))

    @extend_schema(request=TextSerializer, summary="Answer the open query (provider)")
    @action(detail=True, methods=["post"])
    def respond(self, request, claim_pk=None):
        claim = self.get_object()
        data = TextSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def call():
            files = services.evidence_for(request.user, data.validated_data["evidence"])
            services.respond_to_query(claim, actor=request.user,
                                      text=data.validated_data["text"], evidence=files)
        return _act("respond", request, claim, call)

    @extend_schema(request=NoteSerializer, summary="Verify the claim")
    @action(detail=True, methods=["post"])
    def verify(self, request, claim_pk=None):
        claim = self.get_object()
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _act("verify", request, claim, lambda: services.verify_claim(
            claim, actor=request.user, note=data.validated_data["note"]))

    @extend_schema(request=RejectSerializer, summary="Reject the claim with a reason code")
    @action(detail=True, methods=["post"])
    def reject(self, request, claim_pk=None):
        claim = self.get_object()
        data = RejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _act("reject", request, claim, lambda: services.reject_claim(
            claim, actor=request.user, **data.validated_data))

    @extend_schema(request=RejectSerializer,
                   summary="Record a finding after payment: reject a verified or accepted claim")
    @action(detail=True, methods=["post"])
    def finding(self, request, claim_pk=None):
        claim = self.get_object()
        data = RejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _act("record_finding", request, claim, lambda: services.record_finding(
            claim, actor=request.user, **data.validated_data))

    @extend_schema(request=AppealInputSerializer, summary="Appeal a rejection (provider manager)")
    @action(detail=True, methods=["post"])
    def appeal(self, request, claim_pk=None):
        claim = self.get_object()
        data = AppealInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def call():
            files = services.evidence_for(request.user, data.validated_data["evidence"])
            services.appeal_claim(claim, actor=request.user,
                                  grounds=data.validated_data["grounds"], evidence=files)
        return _act("appeal", request, claim, call)

    @extend_schema(request=DecideAppealSerializer, summary="Decide an appeal (commissioner)")
    @action(detail=True, methods=["post"], url_path="decide-appeal")
    def decide_appeal(self, request, claim_pk=None):
        claim = self.get_object()
        data = DecideAppealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = "uphold_appeal" if data.validated_data["upheld"] else "dismiss_appeal"
        return _act(name, request, claim, lambda: services.decide_appeal(
            claim, actor=request.user, **data.validated_data))

    @extend_schema(request=BulkSerializer, responses=BULK_RESULTS,
                   summary="Verify or reject a selection of claims")
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        data = BulkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["claims"]
        visible = set(Claim.objects.for_user(request.user).filter(pk__in=ids)
                      .values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in visible]
        if missing:
            raise NotFound(f"No claim {', '.join(map(str, missing))}.")
        try:
            results = services.bulk_decide(ids, actor=request.user,
                                           decision=data.validated_data["decision"],
                                           reason_code=data.validated_data["reason_code"],
                                           note=data.validated_data["note"])
        except services.InputError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"results": [{"claim": pk, "done": refusal is None,
                                      "refused": refusal or ""} for pk, refusal in results]})


# --- samples ---------------------------------------------------------------------------------


class SampleItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = SampleItem
        fields = ["id", "claim", "reasons", "finding", "reason_code", "note", "decided_at"]


class SampleSerializer(serializers.ModelSerializer):
    reference = serializers.CharField()
    contract = serializers.CharField(source="contract.reference")

    class Meta:
        model = Sample
        fields = ["id", "reference", "contract", "kind", "status", "scope", "seed", "policy",
                  "rates", "population_count", "population_total", "sample_size", "errors",
                  "recovery_period", "drawn_at", "closed_at"]


class SampleDetailSerializer(SampleSerializer):
    items = SampleItemSerializer(many=True)

    class Meta(SampleSerializer.Meta):
        fields = [*SampleSerializer.Meta.fields, "items"]


class DrawSerializer(serializers.Serializer):
    contract = serializers.CharField(help_text="Contract reference.")
    kind = serializers.ChoiceField(choices=SampleKind.choices)
    period_id = serializers.CharField(required=False, allow_blank=True, default="",
                                      help_text="Selection: only this period's returns.")
    period_from = serializers.CharField(required=False, allow_blank=True, default="")
    period_to = serializers.CharField(required=False, allow_blank=True, default="")
    outcome = serializers.CharField(required=False, allow_blank=True, default="")
    size = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    seed = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                    max_value=2**62)


class FindingSerializer(serializers.Serializer):
    error = serializers.BooleanField(help_text="True: the claim could not be verified.")
    reason_code = serializers.ChoiceField(choices=RejectionReason.choices, required=False,
                                          allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CloseSerializer(serializers.Serializer):
    recovery_period = serializers.CharField(required=False, allow_blank=True, default="")


def _service(call, serializer, obj_refresh):
    try:
        call()
    except services.InputError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    except services.VerificationError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return Response(serializer(obj_refresh()).data)


class SampleViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    lookup_url_kwarg = "sample_pk"

    def get_serializer_class(self):
        return SampleDetailSerializer if self.action == "retrieve" else SampleSerializer

    def get_queryset(self):
        return (Sample.objects.for_user(self.request.user).select_related("contract")
                .prefetch_related("items"))

    @extend_schema(request=DrawSerializer, responses=SampleDetailSerializer,
                   summary="Draw a selection for verification, or a post-payment check")
    def create(self, request):
        data = DrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        contract = Contract.objects.for_user(request.user).filter(
            reference=values["contract"]).first()
        if contract is None:
            raise NotFound("No contract with that reference.")
        decision = permissions.can_draw_sample(request.user, contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        try:
            if values["kind"] == SampleKind.SELECTION:
                sample = services.draw_sample(contract, actor=request.user,
                                              period_id=values["period_id"] or None,
                                              seed=values["seed"])
            else:
                sample = services.draw_check(
                    contract, actor=request.user, period_from=values["period_from"],
                    period_to=values["period_to"] or values["period_from"],
                    outcome=values["outcome"], size=values["size"], seed=values["seed"])
        except services.InputError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except services.VerificationError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(SampleDetailSerializer(sample).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: {"type": "object"}},
                   summary="Draw the sample again from its stored seed and compare")
    @action(detail=True, methods=["get"])
    def reproduce(self, request, sample_pk=None):
        sample = self.get_object()
        claims, same = services.reproduce_sample(sample)
        return Response({"sample": sample.reference, "seed": str(sample.seed),
                         "claims": claims, "matches": same})

    @extend_schema(request=CloseSerializer, responses=SampleDetailSerializer,
                   summary="Close a post-payment check: its recovery reaches payments")
    @action(detail=True, methods=["post"])
    def close(self, request, sample_pk=None):
        sample = self.get_object()
        decision = permissions.can_verify_contract(request.user, sample.contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        data = CloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _service(lambda: services.close_sample(
            sample, actor=request.user, recovery_period=data.validated_data["recovery_period"]),
            SampleDetailSerializer, lambda: Sample.objects.get(pk=sample.pk))


class SampleItemViewSet(viewsets.GenericViewSet):
    lookup_url_kwarg = "sample_item_pk"
    serializer_class = SampleItemSerializer

    def get_queryset(self):
        return SampleItem.objects.for_user(self.request.user).select_related(
            "sample__contract", "claim__return_record")

    @extend_schema(request=FindingSerializer, responses=SampleItemSerializer,
                   summary="Record whether a claim in a post-payment check could be verified")
    @action(detail=True, methods=["post"])
    def finding(self, request, sample_item_pk=None):
        item = self.get_object()
        decision = permissions.can_verify_contract(request.user, item.sample.contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        data = FindingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _service(lambda: services.record_sample_finding(
            item, actor=request.user, **data.validated_data),
            SampleItemSerializer, lambda: SampleItem.objects.get(pk=item.pk))


# --- policy ------------------------------------------------------------------------------------


class PolicySerializer(serializers.ModelSerializer):
    is_set = serializers.SerializerMethodField(
        help_text="False: no policy is set and these are the defaults.")

    class Meta:
        model = VerificationPolicy
        fields = [*VerificationPolicy.SNAPSHOT_FIELDS, "is_set"]

    def get_is_set(self, obj) -> bool:
        return obj.pk is not None


class VerificationPolicyViewSet(viewsets.GenericViewSet):
    """The verification policy of a contract, by the contract's id."""

    lookup_url_kwarg = "contract_pk"
    serializer_class = PolicySerializer

    def get_queryset(self):
        return Contract.objects.for_user(self.request.user)

    @extend_schema(responses=PolicySerializer, summary="The contract's verification policy "
                                                       "(defaults when none is set)")
    def retrieve(self, request, contract_pk=None):
        contract = self.get_object()
        policy = get_policy(contract) or VerificationPolicy(contract=contract)
        return Response(PolicySerializer(policy).data)

    @extend_schema(request=PolicySerializer, responses=PolicySerializer,
                   summary="Set the contract's verification policy (its commissioner)")
    def update(self, request, contract_pk=None):
        contract = self.get_object()
        decision = permissions.can_edit_policy(request.user, contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        current = VerificationPolicy.objects.filter(contract=contract).first()
        data = PolicySerializer(current, data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        try:
            policy = services.save_policy(contract, actor=request.user,
                                          values=data.validated_data)
        except services.InputError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PolicySerializer(policy).data)

    def partial_update(self, request, contract_pk=None):
        return self.update(request, contract_pk)


router = SimpleRouter(use_regex_path=False)
router.register("verification/claims", VerificationClaimViewSet, basename="api-verification-claim")
router.register("verification/samples", SampleViewSet, basename="api-verification-sample")
router.register("verification/sample-items", SampleItemViewSet,
                basename="api-verification-sample-item")
router.register("verification/policies", VerificationPolicyViewSet,
                basename="api-verification-policy")

urlpatterns = [*router.urls]
