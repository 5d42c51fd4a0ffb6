from django.apps import AppConfig


class FloorConfig(AppConfig):
    """viewflow refers to a flow through its app's label: the floor's flow needs an app."""

    name = "benchmarks.floor"
    label = "floor"
    default_auto_field = "django.db.models.BigAutoField"
