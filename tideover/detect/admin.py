from django.contrib import admin

from tideover.detect.models import Alert, DismissedPattern, Rule, Signal, SocialPost, SocialTerm


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "kind", "direction", "sensitivity", "family", "store")
    list_filter = ("kind", "source", "direction", "sensitivity")
    search_fields = ("slug", "name", "family")
    filter_horizontal = ("components",)
    raw_id_fields = ("store",)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "signal", "comparison", "threshold", "minutes", "auto_declare")
    raw_id_fields = ("signal",)


@admin.register(SocialTerm)
class SocialTermAdmin(admin.ModelAdmin):
    list_display = ("phrase", "kind")
    list_filter = ("kind",)


@admin.register(DismissedPattern)
class DismissedPatternAdmin(admin.ModelAdmin):
    list_display = ("cause", "reason", "created_at", "expires_at")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("title", "state", "scope", "opened_at", "paged")
    list_filter = ("state", "scope")
    readonly_fields = ("evidence",)
    raw_id_fields = ("incident",)
    filter_horizontal = ("signals", "stores", "regions", "components")


@admin.register(SocialPost)
class SocialPostAdmin(admin.ModelAdmin):
    list_display = ("external_id", "posted_at", "about_brand", "complaint", "sentiment")
    list_filter = ("complaint", "about_brand")
    raw_id_fields = ("store",)
