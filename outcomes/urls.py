"""Returns, claims and evidence pages (the outcomes app)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.return_list, name="return_list"),
    path("start/", views.return_start, name="return_start"),
    path("template.csv", views.return_template, name="return_template"),
    path("<int:return_pk>/", views.return_detail, name="return_detail"),
    path("<int:return_pk>/claims/add/", views.claim_add, name="claim_add"),
    path("<int:return_pk>/upload/", views.return_upload, name="return_upload"),
    path("<int:return_pk>/submit/", views.return_submit, name="return_submit"),
    path("<int:return_pk>/amend/", views.return_amend, name="return_amend"),
    path("claims/<int:claim_pk>/", views.claim_detail, name="claim_detail"),
    path("evidence/", views.evidence_list, name="evidence_list"),
    path("evidence/<int:evidence_file_pk>/download/", views.evidence_download,
         name="evidence_download"),
]
