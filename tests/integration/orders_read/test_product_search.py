"""Product search against the real database: the GIN index serves it, no input breaks it, every sku finds itself."""

import random
import string

import pytest
from django.db import connections, transaction

from eventstore.routers import read_db_alias
from orders_read.bus import Viewer, ask
from orders_read.errors import NotFoundError
from orders_read.pages import PageRequest
from orders_read.queries import Preferred, SearchProducts, search_products
from orders_read.search import prefix_tsquery, search_words
from tests.integration.orders_read.support import LogWriter, catch_up_all

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]

SKU_FIRST = string.ascii_letters + string.digits
SKU_REST = SKU_FIRST + "._-" * 8  # separators often, as real skus have them


def found(search: str, **filters: str) -> set[str]:
    """The skus of the query bus's answer (all on one page); the API's own 400s for its text are not asked."""
    query = SearchProducts(search=search, filters=filters, page=PageRequest(size=100))
    return {p.sku for p in ask(query, viewer=Viewer(None)).result.items}


def random_sku(rnd: random.Random) -> str:
    """A sku API.md allows: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`."""
    return rnd.choice(SKU_FIRST) + "".join(rnd.choice(SKU_REST) for _ in range(rnd.randint(0, 20)))


@pytest.fixture
def shelf() -> None:
    log = LogWriter()
    log.product("SKU-0001", name="Black Bowl", description="Stoneware bowl, glazed black")
    log.product("BWL-2", name="Bowl", description="White porcelain")
    log.product("PLT-7", name="Black Plate", description="Matte stoneware")
    catch_up_all()


@pytest.mark.postgres
@pytest.mark.parametrize("search", ["bow", "bowl bla", "SKU-0001", "sku-00 sto"])
def test_search_runs_on_the_gin_index(shelf: None, search: str) -> None:
    """On a table this small a sequential scan is rightly cheaper, so it is priced out: what is left
    shows whether the condition can use the GIN index at all (if not, the seq scan is still chosen)."""
    answer = search_products(SearchProducts(search=search))
    assert isinstance(answer, Preferred)
    for products in (answer.rows, answer.otherwise):
        with transaction.atomic(using=products.db), connections[products.db].cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = products.explain()
        assert "Bitmap Index Scan on orp_search" in plan, plan
        assert "Seq Scan" not in plan, plan
    assert found(search)  # and the plans' answer is not empty


def test_no_search_text_breaks_the_query(shelf: None) -> None:
    rnd = random.Random(20260)
    alphabet = string.printable + "&|!():*'\\<>-\x00\x01\x7féü€\u00a0\u2028"
    texts = ["a:* | !b & (c", "'", "\\", "&&&", "\x00", "bowl\x00black", "x" * 3000, "!" * 200, "'':*|"]
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))) for _ in range(300)]
    for text in texts:
        assert isinstance(found(text), set), text
    assert found("bowl\x00black") == {"SKU-0001"}


@pytest.mark.postgres
def test_every_sku_the_contract_allows_finds_itself_in_the_stored_vector() -> None:
    """The query side of the generated column's own expression (orders_read/migrations/0001_views.py):
    the parser splits skus at dots and dashes in many ways, and each must still match itself."""
    rnd = random.Random(7)
    skus = ["AUD.it-1", "SKU-0001", "mug-2.5", "a", "0", "1.2.3.4", "A-b.C_d", "x1-y2", "1e5", "v2.0-rc.1", "a--b"]
    skus += [random_sku(rnd) for _ in range(2000)]
    queries = [prefix_tsquery(search_words(sku)) for sku in skus]
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT s.sku FROM unnest(%s::text[], %s::text[]) AS s(sku, q) WHERE NOT"
            " to_tsvector('simple', coalesce(s.sku, '') || ' ' || 'Some Name' || ' ' || 'a description')"
            " @@ to_tsquery('simple', s.q)",
            [skus, queries],
        )
        missed = [row[0] for row in cursor.fetchall()]
    assert missed == []


def test_search_words_split_on_tsquery_syntax_and_keep_skus_whole() -> None:
    assert search_words("  AUD.it-1\tmug-2.5 ") == ["AUD.it-1", "mug-2.5"]
    assert search_words("a:* | !b & (c") == ["a", "b", "c"]
    assert search_words("bowl bowl BOWL") == ["bowl", "BOWL"]
    assert search_words("- ... _ ' \\ &&& \x00") == []
    assert prefix_tsquery(["bowl", "SKU-0001"]) == "'bowl':* & 'SKU-0001':*"


@pytest.mark.postgres
def test_whole_words_win_when_the_catalogue_has_them_else_prefixes(shelf: None) -> None:
    """A common word typed whole does not drag in every longer word it begins (the large-catalogue p99)."""
    log = LogWriter()
    log.product("HAT-1", name="Bowler hat", description="Felt")
    catch_up_all()

    assert found("bowl") == {"SKU-0001", "BWL-2"}  # the whole word exists: "Bowler" is not a match
    assert found("bow") == {"SKU-0001", "BWL-2", "HAT-1"}  # no product has the word "bow": prefixes
    assert found("bowle") == {"HAT-1"}
    assert found("bowl felt") == {"HAT-1"}  # no product has both whole words: prefixes for both


@pytest.mark.postgres
def test_a_filter_that_leaves_no_whole_word_match_does_not_turn_the_search_into_prefixes(shelf: None) -> None:
    """Whether the whole words stand is asked of the whole catalogue, before any filter."""
    log = LogWriter()
    log.product("HAT-1", name="Bowler hat", description="Felt", stock=5)
    catch_up_all()

    assert found("bowl", in_stock="true") == set()  # the bowls exist, none in stock: not "Bowler"
    assert found("bow", in_stock="true") == {"HAT-1"}


@pytest.mark.postgres
def test_a_page_past_the_end_is_missing_whichever_words_answer(shelf: None) -> None:
    for search in ("bowl", "bow"):
        query = SearchProducts(search=search, page=PageRequest(number=2))
        with pytest.raises(NotFoundError):
            ask(query, viewer=Viewer(None))
