"""Postmortems in the console: the generated draft, its Markdown export, action items."""

from django.urls import path

from tideover.postmortems import views

app_name = "postmortems"
URL_PREFIX = "console/postmortems/"

urlpatterns = [
    path("incidents/<int:incident_id>/", views.postmortem, name="postmortem"),
    path("incidents/<int:incident_id>/postmortem.md", views.export, name="export"),
    path("incidents/<int:incident_id>/actions/", views.add_item, name="add_item"),
    path("actions/<int:item_id>/", views.edit_item, name="edit_item"),
    path("actions/<int:item_id>/remove/", views.remove_item, name="remove_item"),
]
