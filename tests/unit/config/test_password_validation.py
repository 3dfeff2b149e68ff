"""Passwords set through Django's forms and commands go through all four of its validators."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

VALIDATORS = "django.contrib.auth.password_validation."


def test_all_four_of_djangos_validators_are_on() -> None:
    names = {v["NAME"] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert names == {
        VALIDATORS + n
        for n in (
            "UserAttributeSimilarityValidator",
            "MinimumLengthValidator",
            "CommonPasswordValidator",
            "NumericPasswordValidator",
        )
    }


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("margaret-h", "password_too_similar"),  # the username, nearly
        ("k9#x", "password_too_short"),
        ("password123", "password_too_common"),
        ("5019283746", "password_entirely_numeric"),
    ],
)
def test_weak_passwords_are_refused(password: str, code: str) -> None:
    user = get_user_model()(username="margaret-h", email="margaret@example.com")
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)
    assert code in {e.code for e in refused.value.error_list}


def test_a_decent_password_passes() -> None:
    user = get_user_model()(username="margaret-h", email="margaret@example.com")
    validate_password("tidal-quartz-lantern-84", user)
