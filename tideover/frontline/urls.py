"""The triage queue for the front line's reports, in the console."""

from django.urls import path

from tideover.frontline import views

app_name = "frontline"
URL_PREFIX = "console/reports/"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("export.csv", views.export, name="export"),
    path("incidents/<int:incident_id>/", views.incident_reports, name="incident_reports"),
    path("<int:report_id>/", views.detail, name="detail"),
    path("<int:report_id>/photo/", views.photo, name="photo"),
    path("<int:report_id>/link/", views.link, name="link"),
    path("<int:report_id>/answer/", views.answer, name="answer"),
    path("<int:report_id>/acted-on/", views.acted_on, name="acted_on"),
]
