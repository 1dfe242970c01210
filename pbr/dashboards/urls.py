"""Dashboard pages, included at /dashboards/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.programme, name="dashboard_programme"),
    path("equity/", views.equity, name="dashboard_equity"),
    path("refresh/", views.refresh, name="dashboard_refresh"),
    path("provider/", views.provider, name="dashboard_provider"),
    path("contracts/<int:contract_pk>/", views.contract, name="dashboard_contract"),
    path("contracts/<int:contract_pk>/equity/", views.contract_equity,
         name="dashboard_contract_equity"),
]
