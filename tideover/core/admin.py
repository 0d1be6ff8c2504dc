"""Django's admin, for administrators only: superusers, or staff accounts in the administrator
group. Everyone else (even with is_staff) gets the login page's refusal.

Model permissions are not used for staff: the role decides (see tideover.core.roles), so every
ModelAdmin here and in other apps mixes in :class:`AdministratorsOnly`.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from tideover.core.models import ApiToken, Component, Region, Register, StaffProfile, Store
from tideover.core.roles import Role, user_roles
from tideover.core.services import revoke_api_token


def is_administrator(user) -> bool:
    """May use the admin: a superuser, or a staff account holding the administrator role."""
    if not (user.is_active and user.is_authenticated):
        return False
    return user.is_superuser or (user.is_staff and Role.ADMINISTRATOR in user_roles(user))


def _site_permission(request) -> bool:
    return is_administrator(request.user)


# The one admin site: refuse everyone but administrators, whatever their model permissions.
admin.site.has_permission = _site_permission
admin.site.site_header = "Tideover administration"
admin.site.site_title = "Tideover admin"
admin.site.index_title = "Stores, staff, components and incidents"
admin.site.site_url = "/console/"


class AdministratorsOnly:
    """Administrators may do everything the ModelAdmin offers; nobody else anything."""

    def has_module_permission(self, request):
        return is_administrator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_administrator(request.user)

    def has_add_permission(self, request, *args):
        return is_administrator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_administrator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_administrator(request.user)


class ReadOnly(AdministratorsOnly):
    """Records written by services (with their audit trail): administrators look, never edit."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RegisterInline(AdministratorsOnly, admin.TabularInline):
    model = Register
    extra = 1


@admin.register(Region)
class RegionAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Store)
class StoreAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["code", "name", "region", "city", "time_zone", "is_active"]
    list_filter = ["region", "is_active"]
    search_fields = ["code", "name", "city"]
    inlines = [RegisterInline]


@admin.register(Register)
class RegisterAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["__str__", "store"]
    list_select_related = ["store"]
    search_fields = ["store__code", "code"]
    autocomplete_fields = ["store"]


@admin.register(Component)
class ComponentAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["name", "slug", "position", "status", "is_public"]
    list_editable = ["position", "is_public"]
    prepopulated_fields = {"slug": ["name"]}
    # Status changes go through the console so they land on timelines and the 90-day history.
    readonly_fields = ["status", "created_at", "updated_at"]


class StaffProfileInline(AdministratorsOnly, admin.StackedInline):
    model = StaffProfile
    can_delete = False
    fk_name = "user"
    autocomplete_fields = ["store"]
    verbose_name_plural = "store and phone"


User = get_user_model()
for model in (User, Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class StaffUserAdmin(AdministratorsOnly, UserAdmin):
    inlines = [StaffProfileInline]
    list_display = ["username", "get_full_name", "roles", "is_active", "is_staff", "last_login"]
    list_filter = ["groups", "is_active", "is_staff", "is_superuser"]

    @admin.display(description="Roles")
    def roles(self, obj) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all())) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(Group)
class RoleGroupAdmin(AdministratorsOnly, GroupAdmin):
    pass


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnly, admin.ModelAdmin):
    """Tokens are made with `tideover createtoken`, which shows the secret once. The admin
    shows who holds which token and revokes it; the stored hash is never displayed."""

    list_display = ["name", "prefix", "scope_list", "store", "created_at", "last_used_at", "active"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    fields = [
        "name",
        "prefix",
        "scopes",
        "store",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="Scopes")
    def scope_list(self, obj) -> str:
        return ", ".join(obj.scopes)

    @admin.display(boolean=True, description="Active")
    def active(self, obj) -> bool:
        return obj.is_active

    def has_change_permission(self, request, obj=None):
        # Actions need change permission on the list; the fields above stay read-only.
        return is_administrator(request.user)

    @admin.action(description="Revoke the selected tokens (they stop working at once)")
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            revoke_api_token(token)
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
