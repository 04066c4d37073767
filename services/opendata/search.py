"""`package_search`'s rules: what a dataset's search entry holds, and how CKAN's `q`, `fq`, `sort` and facet
parameters are read into a `SearchRequest` that `search_repository` answers with the database's own full-text
search.

Text is folded the same way when it is indexed and when it is asked for: Unicode compatibility decomposition,
combining marks dropped, case folded, and split into runs of letters and digits (``Padró d'habitants, 2024`` →
``padro d habitants 2024``). The database's tokenizer then finds exactly those words, on SQLite (FTS5) and on
PostgreSQL (``to_tsvector('simple', ...)``) alike.
"""

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from segell.services.opendata.errors import SearchQueryError

#: The facet fields, each stored as its position in this tuple.
FACET_FIELDS: Final = ("organization", "groups", "tags", "res_format", "license_id", "frequency")
#: Fields `fq` (and `field:value` words of `q`) may filter on besides the facet fields.
ENTRY_FIELDS: Final = ("name", "private")
#: `sort` fields and the search entry's column each orders by; `score` is the full-text relevance.
SORT_COLUMNS: Final = {
    "score": "score",
    "name": "name",
    "title_string": "title",
    "metadata_modified": "modified_at",
    "metadata_created": "created_at",
}
DEFAULT_SORT: Final = "score desc, metadata_modified desc"
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> list[str]:
    """The words of `text` as the index holds them: no accents, case folded, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(character for character in decomposed if not unicodedata.combining(character))
    return _WORD.findall(bare.casefold())


@dataclass(frozen=True)
class IndexEntry:
    """What the search index holds of one active dataset."""

    dataset_id: str
    administration_id: int
    private: bool
    name: str
    title: str
    created_at: datetime
    modified_at: datetime
    verification_code: str | None
    text: str
    #: (facet field's position in `FACET_FIELDS`, value) for each value the dataset holds.
    facets: tuple[tuple[int, str], ...]


def index_entry(
    *,
    dataset_id: str,
    administration_id: int,
    private: bool,
    name: str,
    titles: Mapping[str, str],
    descriptions: Mapping[str, str],
    keywords: Sequence[str],
    organization: str,
    organization_name: str,
    themes: Sequence[str],
    formats: Sequence[str],
    licence: str,
    frequency: str | None,
    created_at: datetime,
    modified_at: datetime,
    verification_code: str | None,
) -> IndexEntry:
    """The entry of a dataset: its folded text (name, titles and descriptions in ca/es/en, keywords, publisher)
    and its facet values (`groups` as CKAN names them: the theme in lower case)."""
    texts = [name, *titles.values(), *descriptions.values(), *keywords, organization, organization_name]
    values = {(FACET_FIELDS.index("organization"), organization), (FACET_FIELDS.index("license_id"), licence)}
    values.update((FACET_FIELDS.index("groups"), theme.lower()) for theme in themes)
    values.update((FACET_FIELDS.index("tags"), keyword) for keyword in keywords)
    values.update((FACET_FIELDS.index("res_format"), file_format) for file_format in formats)
    if frequency:
        values.add((FACET_FIELDS.index("frequency"), frequency))
    return IndexEntry(
        dataset_id=dataset_id,
        administration_id=administration_id,
        private=private,
        name=name,
        title=" ".join(fold(titles.get("ca", "")))[:300],
        created_at=created_at,
        modified_at=modified_at,
        verification_code=verification_code,
        text=" ".join(word for text in texts for word in fold(text)),
        facets=tuple(sorted(values)),
    )


@dataclass(frozen=True)
class Phrase:
    """One word of `q`: its folded parts must follow one another (``padro-2024`` → ``padro 2024``); with
    `prefix`, the last part may begin a longer word (``padr*``)."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class SearchRequest:
    """A `package_search` as the repository answers it."""

    phrases: tuple[Phrase, ...]
    #: (field, value) terms every result holds; facet fields are matched without regard to case.
    terms: tuple[tuple[str, str], ...]
    #: (entry column, descending) in order of precedence.
    order: tuple[tuple[str, bool], ...]
    rows: int
    start: int
    facet_fields: tuple[str, ...]
    facet_limit: int
    facet_mincount: int
    #: Whose private datasets are searched too: the caller's, when it asked for them with `include_private`.
    private_of: int | None = None

    @property
    def by_score(self) -> bool:
        return bool(self.phrases) and any(column == "score" for column, _ in self.order)


_TERM = re.compile(r'\+?([A-Za-z_.]+):(?:"([^"]*)"|(\S*))|(\S+)')


def _term(name: str, value: str, text: str, what: str) -> tuple[str, str]:
    if name not in FACET_FIELDS + ENTRY_FIELDS:
        raise SearchQueryError(f"Cannot filter on {name!r}; use {', '.join(FACET_FIELDS + ('name',))}.")
    if not value or value.startswith('"'):
        raise SearchQueryError(f"Cannot read {what} {text!r}: give {name} a value (quote one with spaces).")
    if name == "private" and value.lower() not in ("true", "false"):
        raise SearchQueryError(f"Cannot read {what} {text!r}: private is true or false.")
    return name, value


def parse(text: str, what: str) -> tuple[list[Phrase], list[tuple[str, str]]]:
    """The words of `q` or `fq` (all must match) and its `field:value` terms (``tags:"salut publica"``,
    ``+organization:l08019060``), joined by spaces or AND. `fq` takes terms only."""
    phrases: list[Phrase] = []
    found: list[tuple[str, str]] = []
    for match in _TERM.finditer(text):
        name, quoted, bare, word = match.groups()
        if name is not None:
            found.append(_term(name, quoted if quoted is not None else bare, text, what))
        elif word in ("*:*", "*", "AND", "&&"):
            continue
        elif what != "q":
            raise SearchQueryError(f"Cannot read {what} {text!r}: write field:value terms.")
        else:
            words = fold(word)
            if words:
                phrases.append(Phrase(tuple(words), prefix=word.endswith("*") and len(words[-1]) >= 2))
    return phrases, found


def order(text: str) -> list[tuple[str, bool]]:
    """`sort` as (entry column, descending) pairs: ``score desc, metadata_modified desc``."""
    clauses: list[tuple[str, bool]] = []
    for clause in text.split(","):
        parts = clause.split()
        if not parts:
            continue
        direction = parts[1].lower() if len(parts) > 1 else "asc"
        if parts[0] not in SORT_COLUMNS or direction not in ("asc", "desc") or len(parts) > 2:
            raise SearchQueryError(
                f"Cannot sort by {clause.strip()!r}: use one of {', '.join(SORT_COLUMNS)} with asc or desc."
            )
        clauses.append((SORT_COLUMNS[parts[0]], direction == "desc"))
    if not clauses:
        raise SearchQueryError(f"Cannot sort by {text!r}: use one of {', '.join(SORT_COLUMNS)} with asc or desc.")
    return clauses
