"""Returns, claims, participants and evidence pages (the outcomes app)."""

from django.urls import path

from . import data_views, views

urlpatterns = [
    path("", views.return_list, name="return_list"),
    path("start/", views.return_start, name="return_start"),
    path("template.csv", views.return_template, name="return_template"),
    path("<int:return_pk>/", views.return_detail, name="return_detail"),
    path("<int:return_pk>/claims/add/", views.claim_add, name="claim_add"),
    path("<int:return_pk>/upload/", views.return_upload, name="return_upload"),
    path("<int:return_pk>/submit/", views.return_submit, name="return_submit"),
    path("<int:return_pk>/amend/", views.return_amend, name="return_amend"),
    path("uploads/<int:return_upload_pk>/", views.return_upload_detail,
         name="return_upload_detail"),
    path("claims/", views.claim_list, name="claim_list"),
    path("claims/export.csv", views.claim_export, name="claim_export"),
    path("claims/export.xlsx", views.claim_export, {"fmt": "xlsx"}, name="claim_export_xlsx"),
    path("claims/<int:claim_pk>/", views.claim_detail, name="claim_detail"),
    path("participants/", views.participant_list, name="participant_list"),
    path("participants/export.csv", views.participant_export, name="participant_export"),
    path("participants/<int:participant_pk>/", views.participant_detail,
         name="participant_detail"),
    path("participants/<int:participant_pk>/leave/", views.participant_leave,
         name="participant_leave"),
    path("participants/<int:participant_pk>/payment-group/", views.participant_segment,
         name="participant_segment"),
    path("evidence/", views.evidence_list, name="evidence_list"),
    path("evidence/<int:evidence_file_pk>/download/", views.evidence_download,
         name="evidence_download"),
    path("<int:return_pk>/events/add/", data_views.event_add, name="event_add"),
    path("datasets/", data_views.dataset_list, name="dataset_list"),
    path("datasets/template.csv", data_views.dataset_template, name="dataset_template"),
    path("datasets/<int:contract_pk>/", data_views.dataset_detail, name="dataset_detail"),
    path("datasets/<int:contract_pk>/export.csv", data_views.dataset_export,
         name="dataset_export"),
]
