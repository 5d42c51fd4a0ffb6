"""The administration's app: django.contrib.admin with Accord's site (config.admin_site)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class AccordAdminConfig(AdminConfig):
    """Takes the place of ``django.contrib.admin`` in INSTALLED_APPS: ``admin.site`` and
    ``@admin.register`` then use AccordAdminSite."""

    default_site = "config.admin_site.AccordAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin module registers its models
        # viewflow's default Process and Task models, which its admin module registers, are
        # never filled: Accord's flows keep their rows in workflows.Process and workflows.Task
        # (the "Tasks" of the admin). Two always empty lists, in English, would mislead.
        from viewflow.workflow.models import Process, Task

        for model in (Process, Task):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
