from django.apps import AppConfig


class PbrConfig(AppConfig):
    name = "pbr"
    verbose_name = "Core: organisations, people, audit"

    def ready(self):
        # Sign-in signal receivers: audit of failures, session clocks, the two-factor step;
        # and the field__anyof lookup.
        from . import auth_lockout, auth_session, lookups, mfa  # noqa: F401

        mfa.hide_device_admin()

        # Registers the dashboards' refresh task and its payment-run signal in every process.
        from .dashboards import tasks  # noqa: F401
