"""Public pages (/subscribe, /confirm, /unsubscribe), provider webhooks (/hooks/...) and the
console pages under /console/notifications/."""

from django.urls import path

from tideover.notifications import views_briefings, views_console, views_public

app_name = "notifications"
URL_PREFIX = ""

urlpatterns = [
    path("subscribe/", views_public.subscribe, name="subscribe"),
    path("subscribe/sms/<str:token>/", views_public.sms_code, name="sms-code"),
    path("confirm/<str:token>/", views_public.confirm, name="confirm"),
    path(
        "subscribe/webhook/<str:token>/verify/",
        views_public.webhook_verify,
        name="webhook-verify",
    ),
    path("unsubscribe/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
    path("hooks/twilio/inbound", views_public.twilio_inbound, name="twilio-inbound"),
    path("hooks/twilio/status", views_public.twilio_status, name="twilio-status"),
    path("console/notifications/", views_console.subscribers, name="subscribers"),
    path("console/notifications/delivery/", views_console.delivery, name="delivery"),
    path(
        "console/notifications/delivery/<int:message_id>/retry/",
        views_console.retry,
        name="retry",
    ),
    path("console/notifications/channels/", views_console.channels, name="channels"),
    path(
        "console/notifications/incidents/<int:incident_id>/briefings/",
        views_briefings.briefings,
        name="briefings",
    ),
    path(
        "console/notifications/channels/<int:endpoint_id>/test/",
        views_console.channel_test,
        name="channel-test",
    ),
    path(
        "console/notifications/channels/<int:endpoint_id>/verify/",
        views_console.channel_verify,
        name="channel-verify",
    ),
    path(
        "console/notifications/channels/<int:endpoint_id>/toggle/",
        views_console.channel_toggle,
        name="channel-toggle",
    ),
    path(
        "console/notifications/preview/<int:incident_id>/",
        views_console.preview_update,
        name="preview",
    ),
]
