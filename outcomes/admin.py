"""Site admins can inspect every outcomes record here, and change none of them.

Returns, claims, evidence, events and external figures are append-only or immutable once made
(an amendment is a new version; a new upload supersedes). Participants and drafts do change, but
only through the services behind the provider pages, which check permission and write an audit
event; an admin edit would do neither. So every page here is view-only.
"""

from django.contrib import admin

from .models import (
    Claim,
    DatasetUpload,
    DatasetValue,
    EvidenceFile,
    IndicatorReturn,
    Participant,
    ParticipantEvent,
    Return,
    ReturnReminder,
    ReturnUpload,
)


class ViewOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Participant)
class ParticipantAdmin(ViewOnlyAdmin):
    list_display = ["provider_reference", "contract", "provider", "segment", "start_date",
                    "leave_date"]
    list_filter = ["contract", "provider", "segment"]
    list_select_related = ["contract", "provider"]
    search_fields = ["provider_reference", "identity_hash"]


@admin.register(Return)
class ReturnAdmin(ViewOnlyAdmin):
    list_display = ["contract", "provider", "period_id", "version", "status", "due_date",
                    "marked_late_on", "submitted_at"]
    list_filter = ["status", "contract", "provider"]
    list_select_related = ["contract", "provider"]
    search_fields = ["period_id", "contract__reference"]


@admin.register(Claim)
class ClaimAdmin(ViewOnlyAdmin):
    list_display = ["outcome", "participant", "achieved", "status", "return_record"]
    list_filter = ["status", "outcome"]
    list_select_related = ["participant", "return_record__contract"]
    search_fields = ["participant__provider_reference", "outcome"]


@admin.register(IndicatorReturn)
class IndicatorReturnAdmin(ViewOnlyAdmin):
    list_display = ["indicator", "measure_period", "value", "numerator", "denominator",
                    "return_record"]
    list_select_related = ["return_record__contract"]
    search_fields = ["indicator", "measure_period"]


@admin.register(EvidenceFile)
class EvidenceFileAdmin(ViewOnlyAdmin):
    list_display = ["original_name", "organisation", "evidence_type", "content_type", "size",
                    "uploaded_at"]
    list_filter = ["content_type", "organisation"]
    list_select_related = ["organisation"]
    search_fields = ["original_name", "sha256", "evidence_type"]
    # The stored file is served only through the permission-checked download view.
    exclude = ["claims"]


@admin.register(ParticipantEvent)
class ParticipantEventAdmin(ViewOnlyAdmin):
    list_display = ["event", "participant", "occurred", "return_record"]
    list_filter = ["event"]
    list_select_related = ["participant", "return_record__contract"]


@admin.register(ReturnReminder)
class ReturnReminderAdmin(ViewOnlyAdmin):
    list_display = ["contract", "provider", "period_id", "kind", "due_date", "sent_on",
                    "recipients"]
    list_filter = ["kind", "contract", "provider"]
    list_select_related = ["contract", "provider"]


@admin.register(ReturnUpload)
class ReturnUploadAdmin(ViewOnlyAdmin):
    list_display = ["original_name", "return_record", "status", "rows_saved", "size",
                    "created_at"]
    list_filter = ["status"]
    list_select_related = ["return_record__contract"]


@admin.register(DatasetUpload)
class DatasetUploadAdmin(ViewOnlyAdmin):
    list_display = ["original_name", "contract", "rows", "source", "uploaded_at"]
    list_select_related = ["contract"]


@admin.register(DatasetValue)
class DatasetValueAdmin(ViewOnlyAdmin):
    list_display = ["contract", "dataset", "period", "value", "upload"]
    list_filter = ["dataset"]
    list_select_related = ["contract", "upload"]
