"""GET /api/products/?search=: every word matches sku, name or description as typed so far, on both backends.

PostgreSQL matches each word as a prefix of a word of the product, SQLite as a substring;
the cases here are chosen so that both answers are the contract's answer.
"""

import pytest
from rest_framework.test import APIClient

from tests.support.api import register

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("eager_tasks"),
]

EVERY_SKU = {"AUD.it-1", "SKU-0001", "mug-2.5", "BWL-2", "PLT-7"}


@pytest.fixture
def shelf(staff_client: APIClient) -> None:
    register(staff_client, "AUD.it-1", name="Audit Kit", price="30.00", description="Checklists and forms")
    register(staff_client, "SKU-0001", name="Black Bowl", price="12.00", description="Stoneware bowl, glazed black")
    register(staff_client, "mug-2.5", name="Mug 2.5 dl", price="8.00", description="Enamel camping mug")
    register(staff_client, "BWL-2", name="Bowl", price="6.00", description="White porcelain")
    register(staff_client, "PLT-7", name="Black Plate", price="9.00", description="Matte stoneware")


def found(client: APIClient, search: str, **params: str) -> list[str]:
    response = client.get("/api/products/", {"search": search, **params})
    assert response.status_code == 200, response.content
    return [p["sku"] for p in response.json()["results"]]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("bow", {"SKU-0001", "BWL-2"}),  # the start of a name word
        ("BO", {"SKU-0001", "BWL-2"}),
        ("porc", {"BWL-2"}),  # the start of a description word
        ("bowl", {"SKU-0001", "BWL-2"}),
    ],
)
def test_a_partly_typed_word_finds_the_products_with_a_word_starting_so(
    anon_client: APIClient, shelf: None, search: str, expected: set[str]
) -> None:
    assert set(found(anon_client, search)) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("bowl black", {"SKU-0001"}),  # not "Bowl" (no black) nor "Black Plate" (no bowl)
        ("black bowl", {"SKU-0001"}),  # in any order
        ("bla sto", {"SKU-0001", "PLT-7"}),  # name and description words together
        ("bla pla", {"PLT-7"}),
        ("bowl white", {"BWL-2"}),
        ("bowl  blue", set()),  # every word must match, not any
        ("SKU-0001 black", {"SKU-0001"}),
        ("SKU-0001 white", set()),
    ],
)
def test_every_word_must_match(anon_client: APIClient, shelf: None, search: str, expected: set[str]) -> None:
    assert set(found(anon_client, search)) == expected


@pytest.mark.parametrize("sku", sorted(EVERY_SKU))
def test_a_full_sku_finds_its_product_in_any_case(anon_client: APIClient, shelf: None, sku: str) -> None:
    assert found(anon_client, sku) == [sku]
    assert found(anon_client, sku.lower()) == [sku]
    assert found(anon_client, f"  {sku.upper()}  ") == [sku]


@pytest.mark.parametrize(
    ("search", "expected"),
    [("AUD.i", {"AUD.it-1"}), ("SKU-00", {"SKU-0001"}), ("mug-2", {"mug-2.5"}), ("PLT", {"PLT-7"})],
)
def test_a_partly_typed_sku_finds_its_product(
    anon_client: APIClient, shelf: None, search: str, expected: set[str]
) -> None:
    assert set(found(anon_client, search)) == expected


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t\n"])
def test_a_blank_search_is_no_filter(anon_client: APIClient, shelf: None, blank: str) -> None:
    assert set(found(anon_client, blank)) == EVERY_SKU


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("bowl & !black", {"SKU-0001"}),  # operators are not interpreted: both words must match
        ("(bowl | plate)", set()),
        ("bowl:*", {"SKU-0001", "BWL-2"}),
        ("black<->bowl", {"SKU-0001"}),
        ("'bowl'", {"SKU-0001", "BWL-2"}),
        ("bowl\\ black", {"SKU-0001"}),
        ("'", set()),
        ("\\", set()),
        ("\\\\", set()),
        ("&&&", set()),
        ("<->", set()),
        ("<>", set()),
        (":*", set()),
        ("!", set()),
        ("'':*", set()),
        ("-", set()),
        ("()", set()),
    ],
)
def test_tsquery_syntax_in_a_search_is_never_interpreted_nor_an_error(
    anon_client: APIClient, shelf: None, hostile: str, expected: set[str]
) -> None:
    assert set(found(anon_client, hostile)) == expected


def test_a_nul_character_is_a_400_field_error(anon_client: APIClient, shelf: None) -> None:
    response = anon_client.get("/api/products/", {"search": "bowl\x00black"})
    assert response.status_code == 400
    assert list(response.json()) == ["search"]


@pytest.mark.parametrize(
    ("hostile", "words"),
    [
        ("a:* | !b & (c", "a b c"),
        ("st:* & !(bl | pl)", "st bl pl"),
        ("po'r\\c", "po r c"),
        ("m<1>u", "m 1 u"),
    ],
)
def test_tsquery_operators_separate_words(anon_client: APIClient, shelf: None, hostile: str, words: str) -> None:
    assert found(anon_client, hostile) == found(anon_client, words)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("-price", ["SKU-0001", "BWL-2"]), ("price", ["BWL-2", "SKU-0001"]), ("name", ["SKU-0001", "BWL-2"])],
)
def test_an_explicit_ordering_wins_over_relevance(
    anon_client: APIClient, shelf: None, ordering: str, expected: list[str]
) -> None:
    assert found(anon_client, "bowl", ordering=ordering) == expected


@pytest.mark.postgres  # relevance is ts_rank; SQLite lists matches by sku
def test_without_ordering_postgres_lists_best_matches_first(anon_client: APIClient, shelf: None) -> None:
    assert found(anon_client, "bowl") == ["SKU-0001", "BWL-2"]  # "bowl" twice in sku 0001's text, once in BWL-2's


def test_search_combines_with_in_stock_and_pages(anon_client: APIClient, staff_client: APIClient, shelf: None) -> None:
    register(staff_client, "BWL-9", name="Bowl Set", price="20.00", stock=0)
    assert set(found(anon_client, "bowl", in_stock="true")) == {"SKU-0001", "BWL-2"}
    assert found(anon_client, "bowl", in_stock="false") == ["BWL-9"]
    page = anon_client.get("/api/products/", {"search": "bowl", "page_size": 2, "ordering": "price"}).json()
    assert page["count"] == 3 and [p["sku"] for p in page["results"]] == ["BWL-2", "SKU-0001"]
