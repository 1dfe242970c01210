from django.apps import AppConfig


class PbrConfig(AppConfig):
    name = "pbr"
    verbose_name = "Core: organisations, people, audit"
