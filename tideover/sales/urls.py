from django.urls import path

from tideover.sales import views

app_name = "sales"
URL_PREFIX = "console/sales/"

urlpatterns = [
    path("conflicts/", views.conflicts, name="conflicts"),
    path("conflicts/<int:conflict_id>/review/", views.review, name="review"),
]
