from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import ApiToken, AuditEvent, Job, Organisation, User


def _site_admin_only(request):
    user = request.user
    return user.is_active and user.is_authenticated and user.is_site_admin and user.is_staff


admin.site.has_permission = _site_admin_only
admin.site.site_header = "Payment by Results administration"


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "organisation", "role", "is_active"]
    list_filter = ["role", "is_active", "organisation__kind"]
    fieldsets = BaseUserAdmin.fieldsets + (("Organisation and role", {"fields": ["organisation", "role"]}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        ("Organisation and role", {"fields": ["organisation", "role"]}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "prefix", "created_by", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "created_by", "created_at", "last_used_at"]
    list_filter = ["organisation"]

    def has_add_permission(self, request):
        # Keys are shown once at issue; issuing goes through the token page's service.
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor_label", "organisation", "action", "object_repr"]
    list_filter = ["action", "organisation"]
    search_fields = ["object_repr", "reason", "request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "progress", "total", "created_at", "finished_at"]
    list_filter = ["status", "name"]
