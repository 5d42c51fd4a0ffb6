from django.urls import path

from . import views

app_name = "signatures"

urlpatterns = [
    # Public: what a reader of a signed document needs to check it, now and in years.
    path("autorite/", views.trust_root, name="trust_root"),
    path(
        "autorite/accord-autorite.pem",
        views.trust_root_download,
        {"encoding": "pem"},
        name="trust_root_pem",
    ),
    path(
        "autorite/accord-autorite.cer",
        views.trust_root_download,
        {"encoding": "der"},
        name="trust_root_der",
    ),
    path("autorite/revocations.crl", views.revocation_list, name="pki_crl"),
    path("autorite/horodatage", views.timestamping, name="timestamping"),
    path(
        "contrats/<int:pk>/document.pdf",
        views.contract_document_download,
        name="contract_document",
    ),
    path(
        "contrats/<int:pk>/apercu.pdf",
        views.contract_document_preview,
        name="contract_document_preview",
    ),
    path(
        "contrats/<int:pk>/document/verification/",
        views.document_verification,
        name="document_verification",
    ),
    path(
        "contrats/<int:pk>/certificat-de-signature.pdf",
        views.completion_certificate_download,
        name="completion_certificate",
    ),
    path(
        "contrats/<int:pk>/avenants/<int:number>/avenant.pdf",
        views.amendment_document_download,
        name="amendment_document",
    ),
    path(
        "contrats/<int:pk>/comite/proces-verbal-<int:round>.pdf",
        views.committee_minutes_download,
        name="committee_minutes",
    ),
    path(
        "contrats/<int:pk>/rapports-annuels/<int:year>.pdf",
        views.annual_report_download,
        name="annual_report",
    ),
]
