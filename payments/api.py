"""Payments API: runs, statements, and running a period."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.models import Contract

from .models import PaymentRun
from .permissions import can_run_payments
from .services import RunError, run_period, statement_json


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


class RunPeriodView(APIView):
    @extend_schema(request=inline_serializer("RunPeriod", {"period": serializers.CharField()}),
                   responses={201: PaymentRunSerializer})
    def post(self, request, contract_pk):
        contract = get_object_or_404(Contract.objects.for_user(request.user), pk=contract_pk)
        decision = can_run_payments(request.user, contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        period = request.data.get("period")
        if not isinstance(period, str) or not period.strip():
            raise ValidationError({"period": "Give the period label, e.g. 'P4 2013-14'."})
        try:
            run, _posted = run_period(contract, period.strip(), actor=request.user)
        except RunError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PaymentRunSerializer(run).data | {"period": run.period_id},
                        status=status.HTTP_201_CREATED)
