"""Payments API: runs, statements (JSON and PDF), running a period, forecasts, liability and the
subcontractor ledger."""

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.models import Contract

from . import permissions
from .forecast import contract_liability, income_forecast, income_forecast_json, liability_json
from .models import PaymentRun
from .pdf import render_statement_pdf, statement_filename
from .permissions import can_run_payments
from .services import RunError, build_statement, run_period, statement_json
from .subcontractors import ledgers_json, subcontractor_ledgers


class PDFRenderer(BaseRenderer):
    """application/pdf for the statement; an error (a dict) is still sent as JSON text."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


class PaymentRunSerializer(serializers.ModelSerializer):
    contract = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    payable_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = PaymentRun
        fields = ["id", "contract", "period_id", "period_start", "period_end", "status",
                  "computations", "payable_total", "approved_at", "second_approved_at"]


class PaymentRunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PaymentRunSerializer
    lookup_url_kwarg = "payment_run_pk"

    def get_queryset(self):
        return PaymentRun.objects.for_user(self.request.user).select_related("contract")

    @extend_schema(responses=inline_serializer("Statement", {
        "contract": serializers.CharField(), "period": serializers.CharField(),
        "total": serializers.CharField(), "lines": serializers.ListField(child=serializers.DictField()),
    }))
    @action(detail=True, methods=["get"])
    def statement(self, request, payment_run_pk=None):
        return Response(statement_json(self.get_object()))

    @extend_schema(responses={(200, "application/pdf"): bytes},
                   summary="The statement as a PDF (marked DRAFT until approved)")
    @action(detail=True, methods=["get"], url_path="statement-pdf",
            renderer_classes=[JSONRenderer, PDFRenderer])
    def statement_pdf(self, request, payment_run_pk=None):
        run = self.get_object()
        data = build_statement(run)
        response = HttpResponse(render_statement_pdf(run, data), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{statement_filename(data)}"'
        return response


class RunPeriodView(APIView):
    @extend_schema(request=inline_serializer("RunPeriod", {"period": serializers.CharField()}),
                   responses={201: PaymentRunSerializer})
    def post(self, request, contract_pk):
        contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
        decision = can_run_payments(request.user, contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        # Any JSON is parsed, not only an object: a list or a string has no period either.
        period = request.data.get("period") if hasattr(request.data, "get") else None
        if not isinstance(period, str) or not period.strip():
            raise ValidationError({"period": "Give the period label, e.g. 'P4 2013-14'."})
        try:
            run, _posted = run_period(contract, period.strip(), actor=request.user)
        except RunError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PaymentRunSerializer(run).data | {"period": run.period_id},
                        status=status.HTTP_201_CREATED)


def _contract(request, contract_pk, decide):
    contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
    decision = decide(request.user, contract)
    if not decision:
        raise PermissionDenied(decision.reason)
    return contract


class IncomeForecastView(APIView):
    @extend_schema(summary="Expected income by period and financial year (a forecast)",
                   responses=inline_serializer("IncomeForecast", {
                       "contract": serializers.CharField(), "total": serializers.CharField(),
                       "from_pipeline": serializers.CharField(),
                       "assumptions": serializers.ListField(child=serializers.CharField()),
                       "periods": serializers.ListField(child=serializers.DictField()),
                       "years": serializers.ListField(child=serializers.DictField())}))
    def get(self, request, contract_pk):
        contract = _contract(request, contract_pk, permissions.can_view_income_forecast)
        return Response(income_forecast_json(income_forecast(contract)))


class LiabilityView(APIView):
    @extend_schema(summary="Committed, expected and maximum liability by financial year",
                   responses=inline_serializer("Liability", {
                       "contract": serializers.CharField(),
                       "years": serializers.ListField(child=serializers.DictField()),
                       "total": serializers.DictField()}))
    def get(self, request, contract_pk):
        contract = _contract(request, contract_pk, permissions.can_view_liability)
        return Response(liability_json(contract_liability(contract)))


class SubcontractorLedgerView(APIView):
    @extend_schema(summary="Each subcontractor's flow-down lines with a running total",
                   parameters=[OpenApiParameter(
                       "status", str, enum=["approved"],
                       description="approved: only lines of approved runs.")],
                   responses=inline_serializer("SubcontractorLedger", {
                       "contract": serializers.CharField(),
                       "subcontractors": serializers.ListField(child=serializers.DictField())}))
    def get(self, request, contract_pk):
        contract = _contract(request, contract_pk, permissions.can_view_subcontractor_ledger)
        ledgers = subcontractor_ledgers(
            contract, codes=permissions.visible_subcontractors(request.user, contract),
            approved_only=request.query_params.get("status") == "approved")
        return Response(ledgers_json(contract, ledgers))


# Included under /api/v1/ by pbr/urls.py.
urlpatterns = [
    path("contracts/<int:contract_pk>/income-forecast/", IncomeForecastView.as_view(),
         name="api-income-forecast"),
    path("contracts/<int:contract_pk>/liability/", LiabilityView.as_view(), name="api-liability"),
    path("contracts/<int:contract_pk>/subcontractor-ledger/", SubcontractorLedgerView.as_view(),
         name="api-subcontractor-ledger"),
]
