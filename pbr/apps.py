from django.apps import AppConfig


class PbrConfig(AppConfig):
    name = "pbr"
    verbose_name = "Core: organisations, people, audit"

    def ready(self):
        # Registers the dashboards' refresh task and its payment-run signal in every process.
        from .dashboards import tasks  # noqa: F401
