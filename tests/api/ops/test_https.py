"""With production's HTTPS settings (the redirect is on by default there): plain HTTP is sent to HTTPS, except probes.

The suite runs the test settings, which serve plain HTTP; production's values are
overridden here, and tests/unit/config/test_settings.py checks they are production's.
"""

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db(databases="__all__")


@override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_HSTS_SECONDS=60,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_REDIRECT_EXEMPT=[r"^healthz$", r"^readyz$", r"^metrics$"],
)
def test_plain_http_is_redirected_to_https_but_probes_and_proxied_https_are_not() -> None:
    client = Client()  # built under the override: the security middleware reads its settings once
    redirected = client.get("/api/products/")
    assert redirected.status_code == 301 and redirected["Location"] == "https://testserver/api/products/"
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert client.get(probe).status_code in (200, 503), probe
    proxied = client.get("/api/products/", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"].startswith("max-age=60")


def test_the_test_settings_serve_plain_http() -> None:
    assert Client().get("/api/products/").status_code == 200
