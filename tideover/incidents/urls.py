from django.urls import path

from tideover.incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
