"""Runbooks and the commander's response pages, in the console."""

from django.urls import path

from tideover.runbooks import views, views_drills, views_respond

app_name = "runbooks"
URL_PREFIX = "console/"

urlpatterns = [
    path("runbooks/", views.runbook_list, name="list"),
    path("runbooks/new/", views.new_runbook, name="new"),
    path("runbooks/shipped/", views.add_shipped, name="add_shipped"),
    path("runbooks/<int:runbook_id>/", views.runbook_detail, name="detail"),
    path("runbooks/<int:runbook_id>/edit/", views.edit_runbook, name="edit"),
    path("runbooks/<int:runbook_id>/v<int:number>/", views.runbook_version, name="version"),
    path("respond/", views_respond.overview, name="overview"),
    path("respond/incidents/<int:incident_id>/", views_respond.incident_progress, name="progress"),
    path("respond/incidents/<int:incident_id>/plan/", views_respond.move_plan, name="move_plan"),
    path("respond/incidents/<int:incident_id>/attach/", views_respond.attach, name="attach"),
    path("respond/incidents/<int:incident_id>/nudge/", views_respond.nudge, name="nudge"),
    path("respond/steps/<int:step_id>/", views_respond.tick_team_step, name="tick_team_step"),
    path("respond/drills/", views_drills.readiness, name="drills"),
    path("respond/drills/<int:incident_id>/", views_drills.drill_report, name="drill_report"),
]
