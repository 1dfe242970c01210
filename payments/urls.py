from django.urls import path

from . import views

urlpatterns = [
    path("contracts/<int:contract_pk>/", views.contract_runs, name="contract_runs"),
    path("contracts/<int:contract_pk>/run-next/", views.contract_run_next, name="contract_run_next"),
    path("contracts/<int:contract_pk>/subcontractors/", views.subcontractor_ledger,
         name="subcontractor_ledger"),
    path("contracts/<int:contract_pk>/subcontractors.csv", views.subcontractor_ledger_csv,
         name="subcontractor_ledger_csv"),
    path("contracts/<int:contract_pk>/forecast/", views.contract_income_forecast,
         name="contract_income_forecast"),
    path("contracts/<int:contract_pk>/forecast.csv", views.contract_income_forecast_csv,
         name="contract_income_forecast_csv"),
    path("contracts/<int:contract_pk>/liability/", views.contract_liability_view,
         name="contract_liability"),
    path("contracts/<int:contract_pk>/liability.csv", views.contract_liability_csv,
         name="contract_liability_csv"),
    path("forecasts/", views.forecast_list, name="forecast_list"),
    path("runs/<int:payment_run_pk>/", views.run_statement, name="run_statement"),
    path("runs/<int:payment_run_pk>/statement.csv", views.run_statement_csv, name="run_statement_csv"),
    path("runs/<int:payment_run_pk>/statement.pdf", views.run_statement_pdf, name="run_statement_pdf"),
    path("runs/<int:payment_run_pk>/approve/", views.run_approve, name="run_approve"),
    path("approved.csv", views.approved_payments_csv, name="approved_payments_csv"),
]
