"""Every endpoint driven with hostile strings: never a 5xx, errors in the contract's shape, the log untouched.

API.md, Errors: "Never a 500 for bad input"; a NUL or a lone surrogate anywhere is a 400.
Hypothesis draws path segments, query parameters, headers and body values from text
that includes NUL, lone surrogates, control and bidi characters, very long strings and
numbers spelled every way, mixed with valid values so the requests get past the first
check and reach the deeper ones. For every answer: below 500; JSON; an error is DRF's
shape (`{"detail", "code"}` or field errors); and a refused command or any GET appended
nothing to the log.
"""

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import ADDRESS, event_count, place, register

pytestmark = pytest.mark.django_db(databases="__all__")

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

SKU, MISSING_ORDER = "mug", "00000000-0000-4000-8000-000000000000"
SPECIAL = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "\u202e\u0007\x1b[2J",
    "🙂" * 3,
    "../../etc/passwd",
    "%00",
    "%ED%A0%80",
    "' OR 1=1 --",
    "NaN",
    "Infinity",
    "-1",
    "0",
    "1e309",
    "9" * 400,
    "1.005",
    "x" * 5000,
    "null",
    "[]",
    "{}",
]
any_text = st.text(st.characters(blacklist_categories=()), max_size=40)  # surrogates and NUL included
hostile_text = st.one_of(st.sampled_from(SPECIAL), any_text)
scalar = st.one_of(
    hostile_text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
hostile_value = st.one_of(
    scalar, st.lists(scalar, max_size=3), st.dictionaries(hostile_text, scalar, max_size=3)
)  # arbitrary JSON where a field is expected
latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300)  # what a header can carry
header_value = st.one_of(st.sampled_from(['"1"', 'W/"1"', "*", "", "-1", "9" * 30, "abc"]), latin1)


def field(valid: Any) -> st.SearchStrategy[Any]:
    """Mostly a hostile value, sometimes the valid one (so other fields are reached), sometimes absent."""
    return st.one_of(st.just(valid), hostile_value, st.just(ABSENT))


ABSENT = object()


def body_of(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not ABSENT})


def segment(valid: str) -> st.SearchStrategy[str]:
    """A path segment: the valid one or hostile text, percent-encoded as a client sends it (surrogates as raw bytes)."""
    return st.one_of(st.just(valid), hostile_text).map(
        lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="") or "x"
    )


def query(**params: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    def encode(drawn: dict[str, Any]) -> str:
        pairs = [
            (k.encode("utf-8", "surrogatepass"), str(v).encode("utf-8", "surrogatepass"))
            for k, v in drawn.items()
            if v is not ABSENT
        ]
        return urlencode(pairs)

    return st.fixed_dictionaries({k: st.one_of(st.just(ABSENT), v) for k, v in params.items()}).map(encode)


headers = st.fixed_dictionaries(
    {},
    optional={
        "HTTP_IF_MATCH": header_value,
        "HTTP_IDEMPOTENCY_KEY": header_value,
        "HTTP_X_CONSISTENCY_TOKEN": header_value,
        "HTTP_X_CONSISTENCY_TIMEOUT": st.sampled_from(["0", "0.01", "-1", "nan", "inf", "1e9", "x", ""]),
    },
)

item = body_of(product_id=field(SKU), quantity=field(1))
COMMANDS: dict[str, tuple[str, st.SearchStrategy[str], st.SearchStrategy[Any]]] = {
    "register": (
        "post",
        st.just("/api/products/"),
        body_of(
            sku=field("cup"), name=field("Cup"), description=field("d"), price=field("1.00"), initial_stock=field(1)
        ),
    ),
    "receive": ("post", segment(SKU).map("/api/products/{}/stock/".format), body_of(quantity=field(1))),
    "reprice": ("post", segment(SKU).map("/api/products/{}/price/".format), body_of(price=field("2.00"))),
    "place": (
        "post",
        st.just("/api/orders/"),
        body_of(
            customer_id=field("customer"),
            items=st.one_of(st.lists(item, max_size=3), hostile_value),
            shipping_address=st.one_of(
                st.just(ADDRESS), st.dictionaries(hostile_text, hostile_value, max_size=3), scalar
            ),
        ),
    ),
    "add_item": ("post", segment(MISSING_ORDER).map("/api/orders/{}/items/".format), item),
    "cancel": ("post", segment(MISSING_ORDER).map("/api/orders/{}/cancel/".format), body_of(reason=field("r"))),
    "ship": ("post", segment(MISSING_ORDER).map("/api/orders/{}/ship/".format), st.one_of(st.just({}), hostile_value)),
    "delete": ("delete", segment(MISSING_ORDER).map("/api/orders/{}/".format), body_of(reason=field("r"))),
}
dates = st.one_of(st.sampled_from(["2026-01-01", "2026-13-45", "yesterday"]), hostile_text)
QUERIES: dict[str, st.SearchStrategy[str]] = {
    "order": st.tuples(segment(MISSING_ORDER), query(as_of_version=hostile_value, as_of=dates)).map(
        lambda p: f"/api/orders/{p[0]}/?{p[1]}"
    ),
    "orders": query(customer_id=hostile_text, status=hostile_text, ordering=hostile_text, page=hostile_value).map(
        "/api/orders/?{}".format
    ),
    "customer_orders": st.tuples(segment("customer"), query(status=hostile_text, page_size=hostile_value)).map(
        lambda p: f"/api/customers/{p[0]}/orders/?{p[1]}"
    ),
    "search": query(
        q=hostile_text,
        status=hostile_text,
        customer_id=hostile_text,
        created_from=dates,
        created_to=dates,
        sort_by=hostile_text,
        sort_order=hostile_text,
    ).map("/api/orders/search/?{}".format),
    "history": segment(MISSING_ORDER).map("/api/orders/{}/history/".format),
    "products": query(search=hostile_text, in_stock=hostile_text, ordering=hostile_text).map(
        "/api/products/?{}".format
    ),
    "product": st.tuples(segment(SKU), query(as_of_version=hostile_value, as_of=dates)).map(
        lambda p: f"/api/products/{p[0]}/?{p[1]}"
    ),
    "sales": query(date_from=dates, date_to=dates).map("/api/analytics/sales/?{}".format),
    "projections": query(consistency_token=hostile_text).map("/api/projections/?{}".format),
}


@pytest.fixture
def shop(staff_client: Any, customer_client: Any) -> str:
    """A product and a pending order, so valid segments reach the deeper checks; returns the order id."""
    register(staff_client, SKU, stock=10_000)
    return place(customer_client, (SKU, 1)).json()["id"]


def assert_contract_answer(response: Any, *, appended: int) -> None:
    """Below 500, JSON, DRF's error shape; a refusal appended nothing."""
    assert response.status_code < 500, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body, body
        if "code" in body:
            assert isinstance(body["code"], str) and isinstance(body.get("detail"), str), body
        assert appended == 0, (response.status_code, body)


def send(client: Any, method: str, path: str, body: Any, extra: dict[str, str]) -> Any:
    raw = json.dumps(body)  # escapes NUL and lone surrogates as \u0000 and \ud800, as a client's encoder would
    return getattr(client, method)(path, raw, content_type="application/json", **extra)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("who", ["staff_client", "customer_client"])
def test_commands_answer_hostile_input_within_the_contract(request: Any, shop: str, name: str, who: str) -> None:
    client = request.getfixturevalue(who)
    method, paths, bodies = COMMANDS[name]

    @FUZZ
    @given(path=paths, body=bodies, extra=headers, own_order=st.booleans())
    def run(path: str, body: Any, extra: dict[str, str], own_order: bool) -> None:
        if own_order:
            path = path.replace(MISSING_ORDER, shop)
        before = event_count()
        response = send(client, method, path, body, extra)
        assert_contract_answer(response, appended=event_count() - before if response.status_code >= 400 else 0)

    run()


@pytest.mark.parametrize("name", sorted(QUERIES))
@pytest.mark.parametrize("who", ["staff_client", "customer_client", "anon_client"])
def test_queries_answer_hostile_input_within_the_contract(request: Any, shop: str, name: str, who: str) -> None:
    client = request.getfixturevalue(who)

    @FUZZ
    @given(path=QUERIES[name], extra=headers, own_order=st.booleans())
    def run(path: str, extra: dict[str, str], own_order: bool) -> None:
        if own_order:
            path = path.replace(MISSING_ORDER, shop)
        extra.pop("HTTP_X_CONSISTENCY_TIMEOUT", None)  # a GET that waits would only make the run slow
        before = event_count()
        response = client.get(path, **extra)
        assert_contract_answer(response, appended=event_count() - before)

    run()
