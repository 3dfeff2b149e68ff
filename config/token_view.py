"""POST /api/auth/token/: DRF's token endpoint, parsing JSON with the project's parser.

DRF's view sets its own parser list, so the project's default (config/parsers.py,
which answers JSON nested too deep with a 400) does not reach it without this.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, serializers
from rest_framework.authtoken.views import ObtainAuthToken

from config.openapi import CHUNKED, MALFORMED_JSON, TOO_LARGE, UNAVAILABLE, error, error_responses, field_errors
from config.parsers import JSONParser


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


TOKEN_SCHEMA = extend_schema(
    summary="Get an API token",
    description="Trades a username and password for the user's API token; send it on every other request "
    "as `Authorization: Token <token>`. After 10 failed attempts for one username from one address within "
    "15 minutes, every attempt is 429 with Retry-After until the window passes, whatever the password.",
    tags=["auth"],
    examples=[OpenApiExample("login", value={"username": "alice", "password": "correct horse"}, request_only=True)],
    responses={
        200: OpenApiResponse(
            TokenSerializer,
            examples=[
                OpenApiExample(
                    "token",
                    value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
                    status_codes=["200"],
                    response_only=True,
                )
            ],
        ),
        **error_responses(
            field_errors(
                "wrong credentials",
                {"non_field_errors": ["Unable to log in with provided credentials."]},
                summary="unknown user or wrong password",
            ),
            field_errors("no password", {"password": ["This field is required."]}, summary="password missing"),
            MALFORMED_JSON,
            CHUNKED,
            TOO_LARGE,
            error(429, "throttled", "Too many failed logins; try again in 840 seconds.", summary="too many failures"),
            UNAVAILABLE,
        ),
    },
)


@extend_schema_view(post=TOKEN_SCHEMA)
class ObtainTokenView(ObtainAuthToken):
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)


obtain_token = ObtainTokenView.as_view()
