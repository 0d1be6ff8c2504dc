from django.urls import path

from tideover.detect import views, views_manage

app_name = "detect"
URL_PREFIX = "console/detect/"

urlpatterns = [
    path("signals/", views.signals, name="signals"),
    path("signals/new/", views_manage.signal_new, name="signal_new"),
    path("signals/<slug:slug>/edit/", views_manage.signal_edit, name="signal_edit"),
    path("rules/new/", views_manage.rule_new, name="rule_new"),
    path("rules/<int:rule_id>/edit/", views_manage.rule_edit, name="rule_edit"),
    path("signals/<slug:slug>/", views.signal_detail, name="signal"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("alerts/<int:alert_id>/dismiss/", views.dismiss, name="dismiss"),
    path("alerts/<int:alert_id>/declare/", views.declare, name="declare"),
    path("posts/", views.posts, name="posts"),
]
