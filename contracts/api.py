"""REST API for contracts (registered at /api/v1/contracts/).

Import and variation take the definition document itself as the request body, YAML or JSON
chosen by Content-Type, and read it exactly as the CLI and the import page do (contracts.io):
decimals never pass through a float. A bad document answers 400 with every problem as
``{path, message, code}`` and nothing is saved. Terms come back as JSON or YAML (Accept header or
``?format=yaml``). Every queryset is the for_user() scope, so another organisation's contract is
404; the permission checks are the web pages' own functions.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from pbr.api.filters import TextFilter, query_filters
from pbr.models import Organisation, OrganisationKind

from . import permissions
from .io import MAX_DOCUMENT_BYTES, parse_text, to_yaml
from .models import Contract, TermsVersion
from .services import ContractError, Problem, import_contract, vary_contract

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


# --- reading and writing documents ------------------------------------------------------------


@dataclass(frozen=True)
class RawDocument:
    """The undecoded body: decoding (and its errors) happens in the view, so every problem is
    reported in the same {path, message, code} form."""

    body: bytes
    filename: str


class _DocumentParser(parsers.BaseParser):
    filename = ""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_DOCUMENT_BYTES + 1) if stream is not None else b""
        return RawDocument(body, self.filename)


class DefinitionJSONParser(_DocumentParser):
    media_type = "application/json"
    filename = "document.json"


class DefinitionYAMLParser(_DocumentParser):
    media_type = "application/yaml"
    filename = "document.yaml"


class DefinitionXYAMLParser(DefinitionYAMLParser):
    media_type = "application/x-yaml"


class DefinitionTextYAMLParser(DefinitionYAMLParser):
    media_type = "text/yaml"


DOCUMENT_PARSERS = [DefinitionJSONParser, DefinitionYAMLParser, DefinitionXYAMLParser,
                    DefinitionTextYAMLParser]


class YAMLRenderer(renderers.BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return to_yaml(_plain(data)).encode("utf-8")


def _plain(value):
    """Error responses carry DRF's ErrorDetail, a str subclass YAML's safe dumper refuses: give
    it plain strings (a terms document is plain JSON already, so it passes unchanged)."""
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def _document(request):
    data = request.data
    if not isinstance(data, RawDocument):
        raise ContractError([Problem("", "Send the contract definition as the request body, "
                                     "with Content-Type application/json or application/yaml.",
                                     "empty")])
    return parse_text(data.body, data.filename)


def _refused(problems):
    return Response({
        "detail": "Nothing has been saved: fix every problem and send the whole document again.",
        "problems": [{"path": p.path, "message": p.message, "code": p.code} for p in problems],
    }, status=status.HTTP_400_BAD_REQUEST)


# --- serializers -------------------------------------------------------------------------------


class TermsVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TermsVersion
        fields = ["number", "status", "effective_from", "format_version", "document_sha256",
                  "reason", "published_at"]


class ContractSerializer(serializers.ModelSerializer):
    commissioner = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    versions = TermsVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Contract
        fields = ["id", "reference", "title", "commissioner", "status", "start", "end",
                  "annual_value", "maximum_value", "versions"]


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="Where, e.g. rules[2].bands[1].stretch; '' for the "
                                           "whole document.")
    message = serializers.CharField()
    code = serializers.CharField(help_text="The rule broken, e.g. band-order.")


class RefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    problems = ProblemSerializer(many=True)


DOCUMENT_BODY = {media: {"type": "object", "description": "A contract definition, format v1 "
                         "(docs/contract-format.md)."}
                 for media in ("application/json", *YAML_TYPES)}
REFUSED = OpenApiResponse(RefusedSerializer, description="Every problem; nothing was saved.")


class ContractFilters(serializers.Serializer):
    status = TextFilter("Contract status, e.g. published.")
    reference = TextFilter("The contract's reference, e.g. C2-SOUTHEND.")


# --- views -------------------------------------------------------------------------------------


class ContractViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ContractSerializer
    lookup_url_kwarg = "contract_pk"
    lookup_value_converter = "int"

    def get_queryset(self):
        qs = (Contract.objects.for_user(self.request.user).select_related("commissioner")
              .prefetch_related(Prefetch("versions",
                                         queryset=TermsVersion.objects.order_by("number"))))
        params = query_filters(self.request, ContractFilters)
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("reference"):
            qs = qs.filter(reference=params["reference"])
        return qs

    def get_parsers(self):
        # Parsers are chosen before DRF sets self.action, so read the route's method map.
        request = getattr(self, "request", None)
        method = getattr(request, "method", "") or ""
        if getattr(self, "action_map", {}).get(method.lower()) == "create":
            return [parser() for parser in DOCUMENT_PARSERS]
        return super().get_parsers()

    @extend_schema(summary="Contracts you can see (filter by ?status= or ?reference=)",
                   parameters=[ContractFilters])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Import a contract definition (YAML or JSON body): all of it, or nothing",
        request=DOCUMENT_BODY,
        parameters=[
            OpenApiParameter("publish", bool, description="Publish the terms at once."),
            OpenApiParameter("link", str, many=True, description="CODE=SLUG: link a party code "
                             "or name in the document to an organisation on this service."),
            OpenApiParameter("auditor", str, description="Slug of the audit body that verifies "
                             "its claims."),
            OpenApiParameter("commissioner", str, description="Site administrators only: slug "
                             "of the commissioning body that manages it."),
        ],
        responses={201: ContractSerializer, 400: REFUSED})
    def create(self, request, *args, **kwargs):
        decision = permissions.can_design_contracts(request.user)
        if not decision:
            raise PermissionDenied(decision.reason)
        params = request.query_params
        problems = []
        links = {}
        for item in params.getlist("link"):
            code, _, slug = item.partition("=")
            org = Organisation.objects.filter(slug=slug, is_active=True).first()
            if not code or org is None:
                problems.append(Problem("link", f"{item!r}: expected CODE=SLUG naming an "
                                        "organisation on this service.", "unknown-organisation"))
            else:
                links[code] = org
        auditor = None
        if params.get("auditor"):
            auditor = Organisation.objects.filter(slug=params["auditor"],
                                                  kind=OrganisationKind.AUDIT_BODY).first()
            if auditor is None:
                problems.append(Problem("auditor", "No audit body has that slug.",
                                        "unknown-organisation"))
        commissioner = None
        if request.user.is_site_admin and params.get("commissioner"):
            commissioner = Organisation.objects.filter(
                slug=params["commissioner"], kind=OrganisationKind.COMMISSIONING_BODY).first()
        try:
            document = _document(request)
        except ContractError as exc:
            problems.extend(exc.problems)
        if problems:
            return _refused(problems)
        try:
            contract = import_contract(
                document, actor=request.user, commissioner=commissioner, links=links,
                auditor=auditor, publish=params.get("publish", "").lower() in ("1", "true", "yes"),
                reason="Imported through the API")
        except ContractError as exc:
            return _refused(exc.problems)
        contract = self.get_queryset().get(pk=contract.pk)
        return Response(ContractSerializer(contract).data, status=status.HTTP_201_CREATED,
                        headers={"Location": f"{request.path}{contract.pk}/"})

    @extend_schema(
        summary="The terms of a contract as JSON or YAML (latest version, or ?version=N)",
        parameters=[OpenApiParameter("version", int, description="Version number; default the "
                                     "latest."),
                    OpenApiParameter("format", str, enum=["json", "yaml"],
                                     description="Or send Accept: application/yaml.")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT,
                   # The same document in YAML: what parses from it is the JSON object.
                   (200, "application/yaml"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, YAMLRenderer])
    def terms(self, request, contract_pk=None):
        contract = self.get_object()
        number = request.query_params.get("version")
        versions = contract.versions.all()
        if number is None:
            version = max(versions, key=lambda v: v.number, default=None)
        elif number.isdigit():
            version = next((v for v in versions if v.number == int(number)), None)
        else:
            return Response({"detail": "version must be a whole number."},
                            status=status.HTTP_400_BAD_REQUEST)
        if version is None:
            raise NotFound("This contract has no terms version with that number.")
        response = Response(version.document)
        name = f"{contract.reference}-v{version.number}"
        response["Content-Disposition"] = f'inline; filename="{name}.{request.accepted_renderer.format}"'
        return response

    @extend_schema(
        summary="Vary a published contract: a new terms version from ?effective_from=, with "
                "?reason= (YAML or JSON body)",
        request=DOCUMENT_BODY,
        parameters=[OpenApiParameter("reason", str, required=True),
                    OpenApiParameter("effective_from", datetime.date, required=True)],
        responses={201: ContractSerializer, 400: REFUSED})
    @action(detail=True, methods=["post"], parser_classes=DOCUMENT_PARSERS)
    def variations(self, request, contract_pk=None):
        contract = self.get_object()
        decision = permissions.can_vary_contract(request.user, contract)
        if not decision:
            raise PermissionDenied(decision.reason)
        problems = []
        raw_date = request.query_params.get("effective_from", "")
        effective_from = None
        try:
            effective_from = datetime.date.fromisoformat(raw_date)
        except ValueError:
            problems.append(Problem("effective_from", "Give the date the variation takes effect "
                                    "as YYYY-MM-DD.", "effective-date-required"))
        try:
            document = _document(request)
        except ContractError as exc:
            problems.extend(exc.problems)
        if problems:
            return _refused(problems)
        try:
            vary_contract(contract, document, actor=request.user,
                          reason=request.query_params.get("reason", ""),
                          effective_from=effective_from)
        except ContractError as exc:
            return _refused(exc.problems)
        return Response(ContractSerializer(self.get_queryset().get(pk=contract.pk)).data,
                        status=status.HTTP_201_CREATED)
