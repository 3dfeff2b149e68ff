from django.apps import AppConfig


class PurgeConfig(AppConfig):
    name = "tests.purge"
    label = "tests_purge"
    verbose_name = "Test runner's flush"
