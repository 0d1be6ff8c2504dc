from django.urls import path

from tideover.storelink import views

app_name = "storelink"
URL_PREFIX = "console/stores/"

urlpatterns = [
    path("", views.stores, name="stores"),
    path("card-policy/", views.policies, name="policies"),
    path("card-policy/set/", views.set_policy, name="set_policy"),
    path("card-policy/<int:policy_id>/clear/", views.clear_policy, name="clear_policy"),
]
