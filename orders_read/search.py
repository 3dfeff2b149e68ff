"""Catalogue search text as words, and the PostgreSQL tsquery that matches each word as a prefix.

A shop's search box is typed into word by word, so every word must match as soon as it
is partly typed (`bow` finds "Bowl"), and every word must match (`bowl black` is both).
Both backends split the text the same way here, so they agree on what a word is.
"""

import re

SEPARATORS: re.Pattern[str] = re.compile(r"[\s&|!():*'\\<>\x00-\x1f\x7f]+")
"""Whitespace, control characters and every character tsquery syntax gives a meaning to
(operators, grouping, weights/prefix, quoting, escaping, `<N>` phrase distance).

Removing them, rather than escaping them, is what makes any input a valid tsquery (never
a 500): the words built from what is left contain no quote or backslash, so each is one
quoted lexeme. They are separators, not deleted, so `salt&pepper` is two words. No sku
contains any of them (API.md: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`), so a full sku stays
one word. NUL is among the control characters, which PostgreSQL text cannot hold.
"""


def search_words(text: str) -> list[str]:
    """The words of a search, in order and without repeats.

    A piece without a letter or digit (`-`, `...`, `_`) is dropped: PostgreSQL's parser
    finds no lexeme in it, so keeping it on SQLite only would make the backends disagree.
    """
    words = [w for w in SEPARATORS.split(text) if any(c.isalnum() for c in w)]
    return list(dict.fromkeys(words))


def prefix_tsquery(words: list[str]) -> str:
    """`'w1':* & 'w2':*` for `to_tsquery('simple', ...)`: every word, each as a prefix.

    Each word is quoted so to_tsquery hands it whole to the same parser that built the
    stored tsvector: `AUD.it-1` becomes the phrase `'aud.it':* <-> '-1':*`, which matches
    the sku's own lexemes in order, so a full or partly typed sku finds its product.
    """
    return " & ".join(f"'{word}':*" for word in words)


def whole_words_tsquery(words: list[str]) -> str:
    """`'w1' & 'w2'` for `to_tsquery('simple', ...)`: every word, each whole (quoted as in `prefix_tsquery`)."""
    return " & ".join(f"'{word}'" for word in words)
