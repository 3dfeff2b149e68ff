"""POST /api/auth/token/: DRF's token endpoint, parsing JSON with the project's parser.

DRF's view sets its own parser list, so the project's default (config/parsers.py,
which answers JSON nested too deep with a 400) does not reach it without this.
"""

from rest_framework import parsers
from rest_framework.authtoken.views import ObtainAuthToken

from config.parsers import JSONParser


class ObtainTokenView(ObtainAuthToken):
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)


obtain_token = ObtainTokenView.as_view()
