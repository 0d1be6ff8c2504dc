"""The staff console, under /console/. Every view names its capability (see the role matrix
test in tideover/core/tests/test_role_matrix.py)."""

from django.urls import path

from tideover.incidents import views, views_actions, views_settings

app_name = "incidents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.incident_list, name="list"),
    path("incidents/declare/", views.declare, name="declare"),
    path("incidents/<int:incident_id>/", views.detail, name="detail"),
    path("incidents/<int:incident_id>/updates/", views_actions.post_update, name="post_update"),
    path("incidents/<int:incident_id>/notes/", views_actions.add_note, name="add_note"),
    path("incidents/<int:incident_id>/state/", views_actions.change_state, name="change_state"),
    path("incidents/<int:incident_id>/reopen/", views_actions.reopen, name="reopen"),
    path(
        "incidents/<int:incident_id>/components/",
        views_actions.set_component,
        name="set_component",
    ),
    path(
        "incidents/<int:incident_id>/settings/",
        views_actions.update_settings,
        name="update_settings",
    ),
    path("maintenance/", views_settings.maintenance_list, name="maintenance"),
    path(
        "maintenance/schedule/",
        views_settings.schedule_maintenance,
        name="schedule_maintenance",
    ),
    path(
        "maintenance/<int:incident_id>/start/",
        views_actions.maintenance_step,
        {"step": "start"},
        name="start_maintenance",
    ),
    path(
        "maintenance/<int:incident_id>/complete/",
        views_actions.maintenance_step,
        {"step": "complete"},
        name="complete_maintenance",
    ),
    path(
        "maintenance/<int:incident_id>/cancel/",
        views_actions.maintenance_step,
        {"step": "cancel"},
        name="cancel_maintenance",
    ),
    path("severities/", views_settings.severities, name="severities"),
    path("severities/<int:severity_id>/", views_settings.edit_severity, name="edit_severity"),
    path(
        "components/<slug:slug>/status/",
        views_settings.component_status,
        name="component_status",
    ),
]
