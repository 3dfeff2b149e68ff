"""DRF's token authentication, with the token and its user read by one statement built once per process.

Every authenticated API request looks its token up. DRF does it with
`Token.objects.select_related("user").get(key=...)`, and compiling that queryset costs
the web worker several times the CPU of running it (bench/profile_commands.py shows the
lookup among a command's most expensive parts); reads and commands all pay it. This
class answers exactly as DRF's does: the same errors, and the same `(user, token)` pair
with every field of both, each value passed through the converters the ORM applies
(aware datetimes on SQLite too). Only the SQL is written once, from the models' own
metadata, so a custom user model's fields are read as well.
"""

import weakref
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, router
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from config.model_rows import ModelRow


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, with a cheaper lookup."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        if not 0 < len(key) <= Token._meta.get_field("key").max_length or "\x00" in key:  # type: ignore[operator]
            raise exceptions.AuthenticationFailed(_("Invalid token."))  # no token has such a key
        alias = router.db_for_read(Token)
        connection = connections[alias]
        lookup = _lookups.get(connection) or _lookups.setdefault(connection, _Lookup(connection))
        with connection.cursor() as cursor:
            cursor.execute(lookup.sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = lookup.build(alias, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user = user  # what select_related would have cached
        return user, token


class _Lookup:
    """The statement reading a token and its user, and how its row becomes the two model instances."""

    def __init__(self, connection: Any) -> None:
        quote = connection.ops.quote_name
        user_model = get_user_model()
        self.parts = [ModelRow(Token, "t", connection), ModelRow(user_model, "u", connection)]
        columns = ", ".join(part.columns() for part in self.parts)
        self.sql = (
            f"SELECT {columns} FROM {quote(Token._meta.db_table)} t"
            f" JOIN {quote(user_model._meta.db_table)} u"
            f" ON u.{quote(user_model._meta.pk.column)} = t.{quote(Token._meta.get_field('user').column)}"
            f" WHERE t.{quote(Token._meta.get_field('key').column)} = %s"
        )

    def build(self, alias: str, row: Sequence[Any]) -> tuple[Token, Any]:
        token_part, user_part = self.parts
        split = len(token_part.fields)
        return token_part.build(alias, row[:split]), user_part.build(alias, row[split:])


_lookups: "weakref.WeakKeyDictionary[Any, _Lookup]" = weakref.WeakKeyDictionary()
"""One lookup per connection object: Django keeps one per thread and alias, and the
converters are bound to that connection's own operations."""
