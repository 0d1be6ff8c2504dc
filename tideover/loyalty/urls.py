from django.urls import path

from tideover.loyalty import views, views_held

app_name = "loyalty"
URL_PREFIX = "console/loyalty/"

urlpatterns = [
    path("", views.search, name="search"),
    path("members/<str:loyalty_id>/", views.member, name="member"),
    path("members/<str:loyalty_id>/adjust/", views.adjust, name="adjust"),
    path("adjustments/", views.adjustment_list, name="adjustments"),
    path("adjustments/<int:adjustment_id>/decide/", views.decide, name="decide"),
    path("held/", views_held.held_list, name="held"),
    path("held/<int:hold_id>/decide/", views_held.held_decide, name="held_decide"),
]
