from django.urls import path

from . import views
from .designer import views as designer
from .designer.forms import SECTIONS

urlpatterns = [
    path("", views.contract_list, name="contract_list"),
    path("export.csv", views.contract_export_csv, name="contract_export_csv"),
    path("import/", views.contract_import, name="contract_import"),
    path("design/new/", designer.designer_new, name="designer_new"),
    path("<int:contract_pk>/", views.contract_detail, name="contract_detail"),
    path("<int:contract_pk>/design/", designer.designer_overview, name="designer_overview"),
    path("<int:contract_pk>/design/publish/", designer.designer_publish, name="designer_publish"),
    *[path(f"<int:contract_pk>/design/{s.slug}/", designer.designer_section, {"section": s.slug},
           name=designer.section_url_name(s.slug)) for s in SECTIONS],
    path("<int:contract_pk>/vary/", views.contract_vary, name="contract_vary"),
    path("<int:contract_pk>/simulate/", views.contract_simulate, name="contract_simulate"),
    path("terms/<int:terms_version_pk>/publish/", views.terms_publish, name="terms_publish"),
    path("terms/<int:terms_version_pk>/terms.yaml", views.terms_download, {"fmt": "yaml"},
         name="terms_download_yaml"),
    path("terms/<int:terms_version_pk>/terms.json", views.terms_download, {"fmt": "json"},
         name="terms_download_json"),
]
