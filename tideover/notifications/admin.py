"""Staff teams and their backup order of staff channels, for administrators."""

from __future__ import annotations

from django.contrib import admin

from tideover.core.admin import AdministratorsOnly
from tideover.notifications.models import StaffTeam, TeamChannel


class TeamChannelInline(AdministratorsOnly, admin.TabularInline):
    model = TeamChannel
    extra = 2
    ordering = ["position"]


@admin.register(StaffTeam)
class StaffTeamAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["name"]
    inlines = [TeamChannelInline]
