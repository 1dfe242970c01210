"""REST API for returns, claims and evidence (included at /api/v1/).

Rows posted here go through the same validator as the web form and file upload. Every queryset
is the for_user() scope, so another organisation's object is 404.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contracts.models import Contract
from pbr.api.filters import IdFilter, TextFilter, query_filters

from . import evidence as evidence_files
from . import external, permissions, services
from .models import Claim, DatasetUpload, DatasetValue, EvidenceFile, ParticipantEvent, Return
from .validation import ReturnRejected


class ReturnSerializer(serializers.ModelSerializer):
    contract = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    provider = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Return
        fields = ["id", "contract", "provider", "period_id", "period_start", "period_end",
                  "due_date", "status", "version", "supersedes", "reason", "submitted_at"]


class StartReturnSerializer(serializers.Serializer):
    contract = serializers.CharField(help_text="Contract reference.")
    period_id = serializers.CharField(help_text="Period label, e.g. 'Jun 2013'.")


class RowsSerializer(serializers.Serializer):
    rows = serializers.ListField(child=serializers.DictField(), allow_empty=False,
                                 max_length=10_000,
                                 help_text="Rows keyed by the columns in docs/returns-format.md.")


class AmendSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ClaimSerializer(serializers.ModelSerializer):
    participant_ref = serializers.CharField(source="participant.provider_reference",
                                            read_only=True)
    segment = serializers.CharField(source="participant.segment", read_only=True)
    evidence = serializers.PrimaryKeyRelatedField(source="evidence_files", many=True,
                                                  read_only=True)

    class Meta:
        model = Claim
        fields = ["id", "return_record", "row_number", "participant_ref", "segment", "outcome",
                  "achieved", "started", "step_from", "step_to", "grade", "criteria_met",
                  "criteria_total", "value", "subcontractor", "status", "checks", "evidence"]


class EvidenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvidenceFile
        fields = ["id", "evidence_type", "original_name", "content_type", "size", "sha256",
                  "uploaded_at"]


class EvidenceUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    evidence_type = serializers.CharField(required=False, allow_blank=True, max_length=64)


def _rejected(exc):
    return Response({"detail": "Nothing has been saved: fix every problem and send all the rows "
                               "again.", "problems": [p.as_dict() for p in exc.problems]},
                    status=status.HTTP_400_BAD_REQUEST)


class ReturnFilters(serializers.Serializer):
    contract = TextFilter("Contract reference.")
    period = TextFilter("Period label, e.g. 'Jun 2013'.")
    status = TextFilter("Return status, e.g. draft or submitted.")


@extend_schema_view(list=extend_schema(parameters=[ReturnFilters]))
class ReturnViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ReturnSerializer
    lookup_url_kwarg = "return_pk"

    def get_queryset(self):
        qs = Return.objects.for_user(self.request.user).select_related("contract", "provider")
        params = query_filters(self.request, ReturnFilters)
        if params.get("contract"):
            qs = qs.filter(contract__reference=params["contract"])
        if params.get("period"):
            qs = qs.filter(period_id=params["period"])
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs

    @extend_schema(request=StartReturnSerializer, responses=ReturnSerializer,
                   summary="Start (or reopen) the draft return for a contract and period")
    def create(self, request):
        data = StartReturnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract = Contract.objects.for_user(request.user).filter(
            reference=data.validated_data["contract"]).first()
        if contract is None:
            raise NotFound("No contract with that reference.")
        try:
            ret = services.start_return(contract, data.validated_data["period_id"],
                                        actor=request.user)
        except services.ReturnError as exc:
            decision = permissions.can_submit_returns(request.user, contract)
            if not decision:
                raise PermissionDenied(decision.reason) from exc
            raise ValidationError({"period_id": [str(exc)]}) from exc
        return Response(ReturnSerializer(ret).data, status=status.HTTP_201_CREATED)

    def _editable(self):
        ret = self.get_object()
        decision = permissions.can_edit_return(self.request.user, ret)
        if not decision:
            raise PermissionDenied(decision.reason)
        return ret

    @extend_schema(request=RowsSerializer, summary="Add claim rows: all are saved, or none")
    @action(detail=True, methods=["post"], url_path="claims")
    def add_claims(self, request, return_pk=None):
        return self._add(request, "claims")

    @extend_schema(request=RowsSerializer, summary="Add indicator rows: all are saved, or none")
    @action(detail=True, methods=["post"], url_path="indicators")
    def add_indicators(self, request, return_pk=None):
        return self._add(request, "indicators")

    def _add(self, request, kind):
        ret = self._editable()
        data = RowsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Row numbers count like a spreadsheet's (the first row is 2) so reports read the same.
        rows = [(i, row) for i, row in enumerate(data.validated_data["rows"], start=2)]
        try:
            saved = services.add_rows(ret, rows, actor=request.user, kind=kind, source="api")
        except ReturnRejected as exc:
            return _rejected(exc)
        return Response({"saved": saved}, status=status.HTTP_201_CREATED)

    @extend_schema(request=RowsSerializer,
                   summary="Add participant event rows (adverse or voiding): all are saved, or "
                           "none")
    @action(detail=True, methods=["post"], url_path="events")
    def add_events(self, request, return_pk=None):
        return self._add(request, "events")

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}},
        summary="Upload a CSV or XLSX file: all rows are saved, or none")
    @action(detail=True, methods=["post"], url_path="upload",
            parser_classes=[parsers.MultiPartParser])
    def upload(self, request, return_pk=None):
        ret = self._editable()
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Attach the file as ‘file’."]})
        try:
            kind, saved = services.import_file(ret, upload, upload.name, actor=request.user)
        except ReturnRejected as exc:
            return _rejected(exc)
        return Response({"kind": kind, "saved": saved}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ReturnSerializer,
                   summary="Run the automatic checks and submit")
    @action(detail=True, methods=["post"])
    def submit(self, request, return_pk=None):
        ret = self._editable()
        ret = services.submit_return(ret, actor=request.user)
        return Response(ReturnSerializer(ret).data)

    @extend_schema(request=AmendSerializer, responses=ReturnSerializer,
                   summary="Start an amendment: a new draft version")
    @action(detail=True, methods=["post"])
    def amend(self, request, return_pk=None):
        ret = self.get_object()
        decision = permissions.can_amend_return(request.user, ret)
        if not decision:
            raise PermissionDenied(decision.reason)
        data = AmendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.amend_return(ret, actor=request.user, reason=data.validated_data["reason"])
        return Response(ReturnSerializer(new).data, status=status.HTTP_201_CREATED)


class ClaimFilters(serializers.Serializer):
    status = TextFilter("Claim status, e.g. passed or verified.")
    outcome = TextFilter("Outcome code from the contract terms.")

    def get_fields(self):
        # "return" is a Python keyword, so it cannot be declared as a class attribute.
        return {"return": IdFilter("Id of the return the claims are in."),
                **super().get_fields()}


@extend_schema_view(list=extend_schema(parameters=[ClaimFilters]))
class ClaimViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ClaimSerializer
    lookup_url_kwarg = "claim_pk"

    def get_queryset(self):
        qs = (Claim.objects.for_user(self.request.user)
              .select_related("participant").prefetch_related("evidence_files"))
        params = query_filters(self.request, ClaimFilters)
        for param, lookup in (("return", "return_record_id"), ("status", "status"),
                              ("outcome", "outcome")):
            if params.get(param):
                qs = qs.filter(**{lookup: params[param]})
        return qs


class EvidenceViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = EvidenceSerializer
    lookup_url_kwarg = "evidence_file_pk"
    parser_classes = [parsers.MultiPartParser, parsers.JSONParser]

    def get_queryset(self):
        return EvidenceFile.objects.for_user(self.request.user)

    @extend_schema(request={"multipart/form-data": EvidenceUploadSerializer},
                   responses=EvidenceSerializer, summary="Upload an evidence file")
    def create(self, request):
        decision = permissions.can_upload_evidence(request.user)
        if not decision:
            raise PermissionDenied(decision.reason)
        data = EvidenceUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            stored = evidence_files.store(
                upload, upload.name, organisation=request.user.organisation,
                uploaded_by=request.user,
                evidence_type=data.validated_data.get("evidence_type", ""))
        except evidence_files.EvidenceRefused as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        return Response(EvidenceSerializer(stored).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, content_type): bytes
                              for content_type, _ext, _words in evidence_files.KINDS.values()},
                   summary="Download the file (always as an attachment, in the type it was "
                           "checked to be)")
    @action(detail=True, methods=["get"])
    def download(self, request, evidence_file_pk=None):
        from pbr import audit

        from .views import evidence_response

        evidence = self.get_object()
        audit.record("evidence.downloaded", actor=request.user, obj=evidence)
        return evidence_response(evidence_files.open_stored(evidence), evidence)


class EventSerializer(serializers.ModelSerializer):
    participant_ref = serializers.CharField(source="participant.provider_reference",
                                            read_only=True)

    class Meta:
        model = ParticipantEvent
        fields = ["id", "return_record", "row_number", "participant_ref", "event", "occurred"]


class EventFilters(serializers.Serializer):
    event = TextFilter("Event code from the contract terms.")
    participant_ref = TextFilter("The provider's own reference for the person.")

    def get_fields(self):
        return {"return": IdFilter("Id of the return the events are in."),
                **super().get_fields()}


@extend_schema_view(list=extend_schema(parameters=[EventFilters]))
class EventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Participant events in returns you can see; add them with POST /returns/{id}/events/."""

    serializer_class = EventSerializer

    def get_queryset(self):
        qs = ParticipantEvent.objects.for_user(self.request.user).select_related("participant")
        params = query_filters(self.request, EventFilters)
        for param, lookup in (("return", "return_record_id"), ("event", "event"),
                              ("participant_ref", "participant__provider_reference")):
            if params.get(param):
                qs = qs.filter(**{lookup: params[param]})
        return qs


class DatasetValueSerializer(serializers.ModelSerializer):
    contract = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    sha256 = serializers.CharField(source="upload.sha256", read_only=True)
    uploaded_at = serializers.DateTimeField(source="upload.uploaded_at", read_only=True)

    class Meta:
        model = DatasetValue
        fields = ["id", "contract", "dataset", "period", "value", "upload", "sha256",
                  "uploaded_at"]


class DatasetUploadSerializer(serializers.ModelSerializer):
    contract = serializers.SlugRelatedField(slug_field="reference", read_only=True)

    class Meta:
        model = DatasetUpload
        fields = ["id", "contract", "original_name", "sha256", "size", "rows", "source",
                  "uploaded_at"]


class DatasetRowsSerializer(serializers.Serializer):
    contract = serializers.CharField(help_text="Contract reference.")
    rows = serializers.ListField(child=serializers.DictField(), required=False, allow_empty=False,
                                 max_length=10_000,
                                 help_text="Rows with the columns dataset, period, value.")
    file = serializers.FileField(required=False, help_text="Or a CSV/XLSX file of the rows.")

    def validate(self, attrs):
        if bool(attrs.get("rows")) == bool(attrs.get("file")):
            raise ValidationError("Send either rows or a file.")
        return attrs


class DatasetFilters(serializers.Serializer):
    contract = TextFilter("Contract reference.")
    dataset = TextFilter("Dataset code from the contract terms.")
    current = serializers.BooleanField(required=False, default=False,
                                       help_text="Only the figures in force (the newest for "
                                                 "each dataset and period).")


@extend_schema_view(list=extend_schema(parameters=[DatasetFilters]))
class DatasetValueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """External figures (baselines, comparison cohorts): the commissioner who manages the
    contract uploads them; everyone on the contract can read them."""

    serializer_class = DatasetValueSerializer
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser]

    def get_queryset(self):
        qs = DatasetValue.objects.for_user(self.request.user).select_related("contract", "upload")
        params = query_filters(self.request, DatasetFilters)
        if params.get("contract"):
            qs = qs.filter(contract__reference=params["contract"])
        if params.get("dataset"):
            qs = qs.filter(dataset=params["dataset"])
        if params.get("current"):
            qs = qs.current()
        return qs

    @extend_schema(request=DatasetRowsSerializer, responses=DatasetUploadSerializer,
                   summary="Upload external figures: all rows are saved, or none")
    def create(self, request):
        data = DatasetRowsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract = Contract.objects.for_user(request.user).filter(
            reference=data.validated_data["contract"]).first()
        if contract is None:
            raise NotFound("No contract with that reference.")
        decision = permissions.can_upload_datasets(request.user, contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        try:
            if data.validated_data.get("file"):
                upload = data.validated_data["file"]
                stored = external.upload_dataset(contract, upload, upload.name,
                                                 actor=request.user)
            else:
                rows = [(i, row) for i, row in enumerate(data.validated_data["rows"], start=2)]
                stored = external.add_dataset_rows(contract, rows, actor=request.user)
        except ReturnRejected as exc:
            return _rejected(exc)
        return Response(DatasetUploadSerializer(stored).data, status=status.HTTP_201_CREATED)


router = SimpleRouter(use_regex_path=False)
router.register("returns", ReturnViewSet, basename="api-return")
router.register("claims", ClaimViewSet, basename="api-claim")
router.register("evidence", EvidenceViewSet, basename="api-evidence")
router.register("events", EventViewSet, basename="api-event")
router.register("datasets", DatasetValueViewSet, basename="api-dataset")

urlpatterns = [*router.urls]
