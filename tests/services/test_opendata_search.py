"""`package_search` on the full-text index, on SQLite and on PostgreSQL (when SEGELL_TEST_POSTGRES_URL is set): one
real server per database for the whole module, a handful of datasets published through CKAN's own client."""

import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import ckanapi
import httpx
import pytest

from tests.helpers import PostgresSchemas, RunningServer, dataset, make_settings, serve

CSV = b"any,import\n2024,1500\n"


def texts(ca: str, es: str, en: str) -> dict[str, str]:
    return {"ca": ca, "es": es, "en": en}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp(f"segell-search-{request.param}")
    if request.param == "sqlite":
        yield from serve(make_settings(home))
        return
    postgres: PostgresSchemas = request.getfixturevalue("postgres")
    with postgres.schema("segell_search") as database_url:
        yield from serve(make_settings(home, database_url=database_url))


@pytest.fixture(scope="module")
def catalogue(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two administrations' datasets: Girona's four public ones (one with a CSV), a private one and a deleted one;
    Figueres's one public and one private."""
    girona_key, figueres_key = server.admit(code="L01700792"), server.admit(code="L01700669")
    girona = ckanapi.RemoteCKAN(server.url, apikey=girona_key)
    figueres = ckanapi.RemoteCKAN(server.url, apikey=figueres_key)
    girona.action.package_create(
        **dataset(
            "padro-2024",
            title_translated=texts("Padró d'habitants 2024", "Padrón de habitantes 2024", "Population register 2024"),
            tags=[{"name": "padró"}, {"name": "població"}],
        )
    )
    girona.action.package_create(
        **dataset(
            "pressupost-2025",
            title_translated=texts("Pressupost municipal", "Presupuesto municipal", "Municipal budget"),
            notes_translated=texts("Despeses per capítol", "Gastos por capítulo", "Expenses by chapter"),
            theme=["ECON"],
            tags=[{"name": "pressupost"}, {"name": "salut publica"}],
            license_id="CC0-1.0",
        )
    )
    girona.action.package_create(
        **dataset(
            "qualitat-aire",
            title_translated=texts("Qualitat de l'aire", "Calidad del aire", "Air quality"),
            notes_translated=texts("Mesures diàries de NO2", "Medidas diarias de NO2", "Daily NO2 readings"),
            theme=["ENVI", "HEAL"],
            tags=[{"name": "salut publica"}],
            frequency="DAILY",
        )
    )
    path = tmp_path_factory.mktemp("files") / "pressupost.csv"
    path.write_bytes(CSV)
    with path.open("rb") as file:
        girona.action.resource_create(package_id="pressupost-2025", upload=file)
    girona.action.package_create(
        **dataset("arbrat-viari", title_translated=texts("Arbrat", "Arbolado", "Trees"), tags=[{"name": "arbres"}])
    )
    girona.action.package_create(**dataset("padro-intern", private=True))
    girona.action.package_create(**dataset("padro-esborrat"))
    girona.action.package_delete(id="padro-esborrat")
    figueres.action.package_create(
        **dataset("padro-figueres", title_translated=texts("Padró de Figueres", "Padrón de Figueres", "Register"))
    )
    figueres.action.package_create(**dataset("padro-figueres-intern", private=True))
    return {"girona": girona, "figueres": figueres, "anyone": ckanapi.RemoteCKAN(server.url)}


def names(found: dict[str, Any]) -> list[str]:
    return [package["name"] for package in found["results"]]


def search(client: ckanapi.RemoteCKAN, **params: Any) -> dict[str, Any]:
    found: dict[str, Any] = client.action.package_search(**params)
    return found


def test_package_search_finds_every_word_without_accents_or_case(catalogue: dict[str, Any]) -> None:
    anyone = catalogue["anyone"]
    assert names(search(anyone, q="PADRO", sort="name asc")) == ["padro-2024", "padro-figueres"]
    assert names(search(anyone, q="padró 2024")) == ["padro-2024"]
    assert names(search(anyone, q="habitantes 2024")) == ["padro-2024"]  # the Spanish title
    assert names(search(anyone, q="Expenses")) == ["pressupost-2025"]  # the English description
    assert names(search(anyone, q="pressu*")) == ["pressupost-2025"]
    assert names(search(anyone, q="qualitat-aire")) == ["qualitat-aire"]  # a name: its words in order
    assert names(search(anyone, q="air-quality")) == ["qualitat-aire"]
    assert names(search(anyone, q="quality-air")) == []
    assert search(anyone, q="padro pressupost")["count"] == 0


def test_package_search_filters_with_every_fq_form(catalogue: dict[str, Any]) -> None:
    anyone = catalogue["anyone"]
    girona = "organization:l01700792"
    assert names(search(anyone, fq=girona, sort="name asc")) == [
        "arbrat-viari", "padro-2024", "pressupost-2025", "qualitat-aire",
    ]  # fmt: skip
    assert names(search(anyone, fq='tags:"salut publica"', sort="name asc")) == ["pressupost-2025", "qualitat-aire"]
    assert names(search(anyone, fq="res_format:csv")) == ["pressupost-2025"]
    assert names(search(anyone, fq="groups:envi")) == ["qualitat-aire"]
    assert names(search(anyone, fq="license_id:CC0-1.0")) == ["pressupost-2025"]
    assert names(search(anyone, fq="frequency:DAILY")) == ["qualitat-aire"]
    assert names(search(anyone, fq="name:arbrat-viari")) == ["arbrat-viari"]
    assert names(search(anyone, fq=f"+{girona} AND groups:heal")) == ["qualitat-aire"]
    assert names(search(anyone, fq_list=[girona, 'tags:"salut publica"', "groups:econ"])) == ["pressupost-2025"]
    assert names(search(anyone, q=f'tags:"salut publica" {girona} mesures')) == ["qualitat-aire"]
    assert search(anyone, fq="tags:inexistent")["count"] == 0


def test_package_search_counts_facets_over_the_matches(catalogue: dict[str, Any]) -> None:
    fields = {"facet.field": json.dumps(["organization", "groups", "tags", "res_format", "license_id"])}
    found = search(catalogue["anyone"], fq="organization:l01700792", **fields)
    assert found["count"] == 4
    assert found["facets"] == {
        "organization": {"l01700792": 4},
        "groups": {"gove": 2, "soci": 2, "econ": 1, "envi": 1, "heal": 1},
        "tags": {"salut publica": 2, "arbres": 1, "padró": 1, "població": 1, "pressupost": 1},
        "res_format": {"CSV": 1},
        "license_id": {"CC-BY-4.0": 3, "CC0-1.0": 1},
    }
    first_group = found["search_facets"]["groups"]["items"][0]
    assert first_group == {"name": "gove", "display_name": "Government and public sector", "count": 2}
    matched = search(catalogue["anyone"], q="padro", **fields)
    assert matched["facets"]["organization"] == {"l01700669": 1, "l01700792": 1}
    assert matched["facets"]["groups"] == {"gove": 2, "soci": 2}
    limited = search(
        catalogue["anyone"], **{"facet.field": '["tags", "organization"]', "facet.limit": 1, "facet.mincount": 2}
    )
    assert limited["count"] == 5
    assert limited["facets"] == {"tags": {"padró": 2}, "organization": {"l01700792": 4}}


def test_package_search_sorts_and_pages(catalogue: dict[str, Any]) -> None:
    anyone = catalogue["anyone"]
    by_name = ["arbrat-viari", "padro-2024", "padro-figueres", "pressupost-2025", "qualitat-aire"]
    assert names(search(anyone, sort="name asc", rows=100)) == by_name
    assert names(search(anyone, sort="name desc", rows=2, start=1)) == by_name[::-1][1:3]
    assert names(search(anyone, sort="title_string asc", rows=2)) == ["arbrat-viari", "padro-2024"]
    newest = search(anyone, sort="metadata_modified desc", rows=100)
    assert names(newest)[0] == "padro-figueres"
    assert [p["metadata_modified"] for p in newest["results"]] == sorted(
        (p["metadata_modified"] for p in newest["results"]), reverse=True
    )
    assert names(search(anyone, rows=0)) == [] and search(anyone, rows=0)["count"] == 5
    assert names(search(anyone, sort="name asc", start=4)) == ["qualitat-aire"]


def test_package_search_ranks_by_relevance_by_default(catalogue: dict[str, Any]) -> None:
    found = search(catalogue["anyone"], q="padro")
    assert set(names(found)) == {"padro-2024", "padro-figueres"}
    assert found["results"][0]["verification_code"]  # the page carries each dataset's current code
    assert found["sort"] == "score desc, metadata_modified desc"


def test_private_datasets_are_searched_only_by_their_administration(catalogue: dict[str, Any]) -> None:
    girona, figueres, anyone = catalogue["girona"], catalogue["figueres"], catalogue["anyone"]
    assert names(search(girona, q="padro", include_private=True, sort="name asc")) == [
        "padro-2024", "padro-figueres", "padro-intern",
    ]  # fmt: skip
    assert "padro-intern" not in names(search(girona, q="padro"))
    assert names(search(figueres, q="intern", include_private=True)) == ["padro-figueres-intern"]
    assert search(anyone, q="intern", include_private=True)["count"] == 0
    browsed = search(girona, include_private=True, **{"facet.field": '["organization"]'})
    assert browsed["count"] == 6
    assert browsed["facets"]["organization"] == {"l01700792": 5, "l01700669": 1}
    assert search(girona, fq="private:true", include_private=True)["count"] == 1


def test_changes_reach_the_index_in_their_transaction(catalogue: dict[str, Any]) -> None:
    girona, anyone = catalogue["girona"], catalogue["anyone"]
    assert search(anyone, q="esborrat")["count"] == 0  # deleted
    girona.action.package_create(**dataset("fonts-publiques", title_translated=texts("Fonts", "Fuentes", "Fountains")))
    girona.action.package_patch(id="fonts-publiques", title_translated=texts("Fonts d'aigua", "Agua", "Water"))
    assert names(search(anyone, q="aigua")) == ["fonts-publiques"]
    assert search(anyone, q="fuentes")["count"] == 0
    organizations = {"facet.field": '["organization"]'}
    assert search(anyone, **organizations)["facets"]["organization"]["l01700792"] == 5
    girona.action.package_patch(id="fonts-publiques", private=True)
    assert search(anyone, q="aigua")["count"] == 0
    assert search(anyone, **organizations)["facets"]["organization"]["l01700792"] == 4
    girona.action.package_delete(id="fonts-publiques")
    assert search(girona, q="aigua", include_private=True)["count"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"q": "colour:blue"},
        {"q": 'tags:"salut'},
        {"fq": "padro"},
        {"fq": "tags:"},
        {"fq": "private:maybe"},
        {"sort": "colour asc"},
        {"sort": "name sideways"},
        {"facet.field": '["colour"]'},
    ],
)
def test_package_search_answers_400_to_what_it_cannot_read(
    server: RunningServer, catalogue: dict[str, Any], params: dict[str, str]
) -> None:
    answer = httpx.get(f"{server.url}/api/3/action/package_search", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["__type"] == "Search Query Error"


def test_search_index_is_rebuilt_for_datasets_it_lacks(server: RunningServer, catalogue: dict[str, Any]) -> None:
    from sqlalchemy import text

    from segell.services.opendata import service
    from tests.helpers import runtime_of

    runtime = runtime_of(server)
    with runtime.transaction() as session:
        session.execute(text("DELETE FROM opendata_search_facets"))
        session.execute(text("DELETE FROM opendata_search"))
        session.execute(text("UPDATE opendata_search_values SET public_datasets = 0"))
    with runtime.transaction() as session:
        assert service.index_missing(session) == 7
    assert names(search(catalogue["anyone"], q="padro", sort="name asc")) == ["padro-2024", "padro-figueres"]
    assert search(catalogue["anyone"], rows=0)["count"] == 5


def test_facets_filters_and_sorts_stay_exact_through_changes(
    server: RunningServer, catalogue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multi-valued facets, mincount and limit, `fq` on facets, private and deleted datasets, and changes (each
    one re-indexed under a new entry id, never reused), with every way a page is sorted giving the same page."""
    from sqlalchemy import text

    from segell.services.opendata import search_repository
    from tests.helpers import runtime_of

    lleida = ckanapi.RemoteCKAN(server.url, apikey=server.admit(code="L02512100"))
    anyone, mine = catalogue["anyone"], {"fq": "organization:l02512100"}
    made = [
        ("cens-a", ["SOCI", "GOVE"], ["cens", "població"], "ANNUAL", False),
        ("cens-b", ["SOCI"], ["cens", "Població"], "ANNUAL", False),
        ("cens-c", ["ECON", "GOVE"], ["cens"], "MONTHLY", False),
        ("cens-d", ["SOCI"], ["cens", "secret"], "DAILY", True),
    ]
    for name, themes, tags, frequency, private in made:
        lleida.action.package_create(
            **dataset(
                name,
                title_translated=texts(f"Cens {name[-1]}", "Censo", "Census"),
                theme=themes,
                tags=[{"name": tag} for tag in tags],
                frequency=frequency,
                private=private,
            )
        )
    fields = {"facet.field": json.dumps(["groups", "tags", "frequency", "organization"])}

    def ids() -> dict[str, int]:
        with runtime_of(server).transaction() as session:
            rows = session.execute(text("SELECT name, id FROM opendata_search WHERE name LIKE 'cens-%'"))
            return {str(name): int(entry_id) for name, entry_id in rows}

    try:
        found = search(anyone, **mine, **fields)
        assert found["count"] == 3
        assert found["facets"] == {
            "groups": {"gove": 2, "soci": 2, "econ": 1},  # each dataset counted once in each of its themes
            "tags": {"cens": 3, "Població": 1, "població": 1},  # values as written; fq matches either case
            "frequency": {"ANNUAL": 2, "MONTHLY": 1},
            "organization": {"l02512100": 3},
        }
        assert search(anyone, fq_list=["tags:població", mine["fq"]])["count"] == 2
        assert search(anyone, q="cens", fq_list=["groups:gove", "frequency:annual"])["count"] == 1
        limited = search(anyone, **mine, **fields, **{"facet.limit": 1, "facet.mincount": 2})
        assert limited["facets"] == {"groups": {"gove": 2}, "tags": {"cens": 3}, "frequency": {"ANNUAL": 2},
                                     "organization": {"l02512100": 3}}  # fmt: skip
        assert search(anyone, **mine, **fields, **{"facet.limit": 0})["facets"]["tags"] == {}
        assert len(search(anyone, **mine, **fields, **{"facet.limit": -1})["facets"]["tags"]) == 3
        own = search(lleida, q="cens", include_private=True, **fields)
        assert own["count"] == 4 and own["facets"]["tags"]["secret"] == 1 and own["facets"]["groups"]["soci"] == 3
        assert search(anyone, q="secret")["count"] == 0 and search(lleida, q="secret")["count"] == 0

        # Every strategy sorts alike: by the database over the ids, walking a sort index, and in Python.
        for sort in ("name asc", "name desc", "title_string desc", "metadata_modified desc", "metadata_created asc",
                     "name desc, metadata_modified desc", "score desc, name asc"):  # fmt: skip
            pages = []
            for threshold in (5000, 0):
                monkeypatch.setattr(search_repository, "_SORT_IN_DATABASE", threshold)
                pages.append([names(search(lleida, q="cens", include_private=True, sort=sort, rows=rows, start=start))
                              for rows, start in ((100, 0), (2, 1))])  # fmt: skip
            assert pages[0] == pages[1], sort
            assert pages[0][1] == pages[0][0][1:3], sort  # a page of the order, its best rows chosen first
            assert sorted(pages[0][0]) == ["cens-a", "cens-b", "cens-c", "cens-d"]
        monkeypatch.undo()

        before = ids()
        lleida.action.package_patch(id="cens-a", tags=[{"name": "padró"}], theme=["ECON"])
        after = ids()
        assert after["cens-a"] > max(before.values())  # written again under a new id
        changed = search(anyone, **mine, **fields)
        assert changed["facets"]["tags"] == {"cens": 2, "Població": 1, "padró": 1}
        assert changed["facets"]["groups"] == {"econ": 2, "gove": 1, "soci": 1}
        assert search(anyone, fq_list=["tags:padró", mine["fq"]])["count"] == 1
        newest = max(after, key=after.__getitem__)
        lleida.action.package_delete(id=newest)
        lleida.action.package_create(**dataset("cens-e", theme=["TRAN"], tags=[{"name": "cens"}]))
        assert ids()["cens-e"] > after[newest]  # the deleted newest entry's id is not reused
        gone = search(anyone, **mine, **fields)
        assert gone["count"] == 3 and gone["facets"]["groups"]["tran"] == 1 and "econ" in gone["facets"]["groups"]
        assert names(search(anyone, q="cens", sort="name asc", **mine)) == ["cens-b", "cens-c", "cens-e"]
    finally:
        for name in ("cens-a", "cens-b", "cens-c", "cens-d", "cens-e"):
            if name in ids():
                lleida.action.package_delete(id=name)


def entries_of(server: RunningServer) -> list[tuple[int, str, str, bool, Any]]:
    """(id, name, text, private, modified) of every search entry, as the database holds them."""
    from sqlalchemy import select

    from segell.services.opendata.models import SearchEntry
    from tests.helpers import runtime_of

    columns = (SearchEntry.id, SearchEntry.name, SearchEntry.text, SearchEntry.private, SearchEntry.modified_at)
    with runtime_of(server).transaction() as session:
        return [tuple(row) for row in session.execute(select(*columns))]  # type: ignore[misc]


def bm25_names(server: RunningServer, words: list[str], public: int) -> list[str]:
    """The public datasets holding every word, by Okapi BM25 (k1 1.2, b 0.75) of the words over each entry's text,
    then newest: computed here from the entries' texts with plain Python, as a reference."""
    entries = entries_of(server)
    counted = {entry_id: Counter(text.split()) for entry_id, _, text, _, _ in entries}

    def occurrences(entry_id: int, word: str) -> int:
        if word.endswith("*"):
            return sum(n for token, n in counted[entry_id].items() if token.startswith(word[:-1]))
        return counted[entry_id][word]

    holders = [sum(1 for entry_id in counted if occurrences(entry_id, word)) for word in words]
    matched = [entry for entry in entries if all(occurrences(entry[0], word) for word in words)]
    average = sum(len(text.split()) for _, _, text, _, _ in matched) / len(matched)
    scored = []
    for entry_id, name, text, private, modified in matched:
        norm = 1.2 * (0.25 + 0.75 * len(text.split()) / average)
        score = 0.0
        for word, held in zip(words, holders, strict=True):
            idf = math.log(1 + (max(public, held) - held + 0.5) / (held + 0.5))
            tf = occurrences(entry_id, word)
            score += idf * tf * 2.2 / (tf + norm)
        if not private:
            scored.append((-score, -modified.timestamp(), -entry_id, name))
    return [name for *_, name in sorted(scored)]


def test_package_search_ranks_by_bm25_of_the_words(server: RunningServer, catalogue: dict[str, Any]) -> None:
    """A word in the title (three languages) ranks above the same word twice, twice above once, once in a short
    text above once in a long one; two words weigh by their rarity; the order is BM25's, page after page."""
    client = ckanapi.RemoteCKAN(server.url, apikey=server.admit())
    flows = texts("Cabals", "Caudales", "Flows")
    made = {
        "cabal-titol": (
            texts("Riera de Sant Pol", "Riera de Sant Pol", "Riera stream"),
            texts("Cabal", "Caudal", "Flow"),
        ),
        "cabal-dues": (flows, texts("La riera i la riera", "Rambla", "Stream")),
        "cabal-una": (flows, texts("Nivell de la riera", "Nivel", "Level")),
        "cabal-llarga": (
            flows,
            texts("Mesures diaries de pluja, temperatura, vent i nivell a la riera", "Medidas", ""),
        ),
        "cabal-cap": (flows, texts("Sense", "Sin", "None")),
    }
    for name, (titles, notes) in made.items():
        client.action.package_create(**dataset(name, title_translated=titles, notes_translated=notes))
    anyone = catalogue["anyone"]
    public = search(anyone, rows=0)["count"]
    try:
        ranked = names(search(anyone, q="riera", rows=100))
        assert ranked == ["cabal-titol", "cabal-dues", "cabal-una", "cabal-llarga"]
        assert ranked == bm25_names(server, ["riera"], public)
        for words in (["cabal"], ["riera", "cabal"], ["rier*"], ["nivell", "riera"]):
            found = names(search(anyone, q=" ".join(words), rows=100))
            assert found == bm25_names(server, words, public), words
            assert [name for start in range(len(found)) for name in names(
                search(anyone, q=" ".join(words), rows=1, start=start))] == found  # fmt: skip
        assert names(search(anyone, q="riera", sort="score asc, name asc", rows=100)) == ranked[::-1]
        assert names(search(anyone, q="riera", sort="name asc, score desc", rows=100)) == sorted(ranked)
        every = search(anyone, q="cabal", rows=100)["results"]
        newest = [p["name"] for p in sorted(every, key=lambda package: package["metadata_modified"], reverse=True)]
        by_date = {"q": "cabal", "sort": "metadata_modified desc", "rows": 2}
        assert [names(search(anyone, **by_date, start=start)) for start in (0, 2)] == [newest[:2], newest[2:4]]
    finally:
        for name in made:
            client.action.package_delete(id=name)


def test_search_in_another_process_reads_entries_it_has_not_seen(
    server: RunningServer, catalogue: dict[str, Any]
) -> None:
    """A second store of entries (as another API process holds) finds what the server wrote after it read the
    catalogue, and ranks it as the server does."""
    from sqlalchemy.orm import Session

    from segell.services.db import create_db_engine
    from segell.services.opendata import search_repository
    from segell.services.opendata.search import Phrase, SearchRequest

    client = ckanapi.RemoteCKAN(server.url, apikey=server.admit())
    for name in ("torrent-a", "torrent-b"):
        client.action.package_create(**dataset(name, notes_translated=texts("Torrent", "Torrente", "Torrent")))
    engine = create_db_engine(server.settings.sqlalchemy_url)
    request = SearchRequest(
        phrases=(Phrase(("torrent",)),), terms=(), order=(("score", True), ("modified_at", True)), rows=10, start=0,
        facet_fields=("organization",), facet_limit=50, facet_mincount=1,
    )  # fmt: skip

    def elsewhere() -> list[str]:
        with Session(engine) as session:
            found = search_repository.search(session, request)
        by_id = {
            package["id"]: package["name"] for package in search(catalogue["anyone"], q="torrent", rows=10)["results"]
        }
        return [by_id[dataset_id] for dataset_id, _ in found.page]

    try:
        assert elsewhere() == names(search(catalogue["anyone"], q="torrent")) == ["torrent-b", "torrent-a"]
        client.action.package_patch(id="torrent-a", title_translated=texts("Torrent", "Torrente", "Torrent"))
        client.action.package_create(**dataset("torrent-c"))  # found by its name
        assert elsewhere() == names(search(catalogue["anyone"], q="torrent"))
        assert elsewhere()[0] == "torrent-a"  # now in its titles too
        assert "torrent-c" in elsewhere()
    finally:
        engine.dispose()
        for name in ("torrent-a", "torrent-b", "torrent-c"):
            client.action.package_delete(id=name)


def test_search_in_another_process_weighs_words_by_the_datasets_there_are_now(
    server: RunningServer, catalogue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two words weigh by how many datasets hold each: a second store of entries (as another API process holds)
    counts them among the datasets there are after every creation and every deletion, and ranks as the server; it
    finds the datasets of a tag among them too."""
    from sqlalchemy.orm import Session

    from segell.services.db import create_db_engine
    from segell.services.opendata import search_repository
    from segell.services.opendata.search import Phrase, SearchRequest

    # Which entries exist is read again at every change (not at most once a second), so that the words and tags
    # are matched and counted in process, never by the database.
    monkeypatch.setattr(search_repository, "_READ_LIVE_EVERY", 0.0)
    client = ckanapi.RemoteCKAN(server.url, apikey=server.admit())

    def titled(name: str, words: str) -> None:
        client.action.package_create(
            **dataset(name, title_translated=texts(words, words, words), tags=[{"name": "bosc mediterrani"}])
        )

    # bosc-x holds xiprer twice as often as bosc-g, which holds ginebre twice as often: the rarer word decides.
    titled("bosc-x", "Xiprer xiprer ginebre")
    titled("bosc-g", "Ginebre ginebre xiprer")
    for number in range(3):
        titled(f"bosc-ginebre-{number}", "Ginebre")
    engine = create_db_engine(server.settings.sqlalchemy_url)
    request = SearchRequest(
        phrases=(Phrase(("xiprer",)), Phrase(("ginebre",))), terms=(), order=(("score", True), ("modified_at", True)),
        rows=10, start=0, facet_fields=(), facet_limit=50, facet_mincount=1,
    )  # fmt: skip
    by_tag = SearchRequest(
        phrases=(), terms=(("tags", "Bosc Mediterrani"),), order=(("modified_at", True),), rows=0, start=0,
        facet_fields=(), facet_limit=50, facet_mincount=1,
    )  # fmt: skip

    def tagged() -> int:
        """How many datasets the second store finds with the tag."""
        with Session(engine) as session:
            return search_repository.search(session, by_tag).count

    def ranked() -> tuple[list[str], list[str]]:
        """The ranking of the second store and the server's."""
        with Session(engine) as session:
            found = search_repository.search(session, request)
        served = search(catalogue["anyone"], q="xiprer ginebre")["results"]
        by_id = {package["id"]: package["name"] for package in served}
        return [by_id[dataset_id] for dataset_id, _ in found.page], [package["name"] for package in served]

    made = ["bosc-x", "bosc-g", *(f"bosc-ginebre-{number}" for number in range(3))]
    try:
        assert ranked() == (["bosc-x", "bosc-g"], ["bosc-x", "bosc-g"])  # xiprer in 2 datasets, ginebre in 5
        assert tagged() == 5
        for number in range(4):
            titled(f"bosc-xiprer-{number}", "Xiprer")
            made.append(f"bosc-xiprer-{number}")
        assert ranked() == (["bosc-g", "bosc-x"], ["bosc-g", "bosc-x"])  # xiprer in 6, ginebre in 5
        assert tagged() == 9
        for number in range(4):
            client.action.package_delete(id=f"bosc-xiprer-{number}")
            made.remove(f"bosc-xiprer-{number}")
        assert ranked() == (["bosc-x", "bosc-g"], ["bosc-x", "bosc-g"])  # xiprer in 2 again
        assert tagged() == 5
    finally:
        engine.dispose()
        for name in made:
            client.action.package_delete(id=name)


def test_matches_are_kept_per_version_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process keeps each full-text query's matches while the entries' version is the same: a new version drops
    them all, and past the bound the least recently used go first."""
    import numpy as np

    from segell.services.opendata import search_repository

    monkeypatch.setattr(search_repository, "_MOST_MATCHES", 5)
    entries = search_repository._Entries()
    entries.hold_matches("v1", "'aigua'", np.array([1, 2], dtype=np.int64))
    entries.hold_matches("v1", "'fonts'", np.array([3, 4], dtype=np.int64))
    assert entries.matched("v1", "'aigua'").tolist() == [1, 2]  # used last: 'fonts' is now the oldest
    entries.hold_matches("v1", "'padro'", np.array([5, 6], dtype=np.int64))
    assert entries.matched("v1", "'fonts'") is None
    assert entries.matched("v1", "'aigua'").tolist() == [1, 2] and entries.matched("v1", "'padro'").tolist() == [5, 6]
    assert entries.matched("v2", "'aigua'") is None  # another version of the entries
    entries.hold_matches("v2", "'fonts'", np.array([3], dtype=np.int64))
    assert entries.matched("v2", "'aigua'") is None and entries.matched("v2", "'fonts'").tolist() == [3]
    entries.hold_matches(None, "'arbres'", np.array([7], dtype=np.int64))  # no version named: nothing kept
    assert entries.matched(None, "'arbres'") is None and entries.matched("v2", "'arbres'") is None


def test_pages_shown_in_another_process_follow_every_change(
    server: RunningServer, catalogue: dict[str, Any], tmp_path: Any
) -> None:
    """A second process that keeps the package dicts it has shown (as every API process does) shows each dataset
    as it is now after the server changed it: its metadata, a resource added and its verification code, in a page
    of results by relevance and in a page of the whole catalogue alike."""
    from pathlib import Path

    from sqlalchemy.orm import Session

    from segell.services.db import create_db_engine
    from segell.services.opendata import service

    client = ckanapi.RemoteCKAN(server.url, apikey=server.admit())
    client.action.package_create(**dataset("rieres", title_translated=texts("Rieres", "Rieras", "Streams")))
    engine = create_db_engine(server.settings.sqlalchemy_url)

    def shown(**params: str) -> dict[str, Any]:
        """The dataset as a page of results in the second process shows it."""
        with Session(engine) as session:
            context = service.Context(session=session, administration=None, files=Path("."), api_url=server.url)
            results = json.loads(service.encoded(service.package_search(context, params)))["results"]
        return next(package for package in results if package["name"] == "rieres")

    newest = {"q": "", "sort": "metadata_modified desc", "rows": "5"}
    try:
        before = shown(q="rieres")
        assert before["title"] == "Rieres" and before["num_resources"] == 0
        assert shown(**newest) == before
        client.action.package_patch(id="rieres", title_translated=texts("Rieres i torrents", "Rieras", "Streams"))
        path = tmp_path / "cabals.csv"
        path.write_bytes(CSV)
        with path.open("rb") as file:
            client.action.resource_create(package_id="rieres", upload=file)
        served = search(catalogue["anyone"], q="rieres")["results"][0]
        for after in (shown(q="rieres"), shown(**newest)):
            assert after["title"] == "Rieres i torrents" and after["num_resources"] == 1
            assert after["verification_code"] == served["verification_code"] != before["verification_code"]
            assert after == served
    finally:
        engine.dispose()
        client.action.package_delete(id="rieres")


def test_shown_packages_are_kept_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process keeps the packages it has shown, as JSON, by entry and API URL, and forgets the least recently
    shown past its bound."""
    from segell.services.opendata import search_repository

    package = json.dumps({"name": "padro", "tags": [{"name": "padró"}]}, ensure_ascii=False).encode()
    monkeypatch.setattr(search_repository, "_MOST_SHOWN_BYTES", 2 * len(package))
    shown = search_repository.ShownEntries()
    shown.keep({1: package, 2: package}, "http://a")
    assert shown.held([1, 2, 3], "http://a") == {1: package, 2: package} and shown.held([1], "http://b") == {}
    assert shown.held([1], "http://a") == {1: package}  # used last: entry 2 is now the oldest
    shown.keep({3: package}, "http://a")
    assert shown.held([1, 2, 3], "http://a") == {1: package, 3: package}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "padro", "include_private": "true", "facet.field": '["organization","tags"]'},
        {"q": "", "sort": "name asc", "start": "1", "rows": "3"},
        {"q": "salut", "sort": "metadata_modified desc", "facet.field": '["groups","res_format"]', "facet.limit": "1"},
        {"fq": "organization:l01700792", "rows": "0", "facet.field": '["license_id"]'},
    ],
)
def test_package_search_answer_splices_each_package_as_package_show_builds_it(
    server: RunningServer, catalogue: dict[str, Any], params: dict[str, str]
) -> None:
    """The answer, written around the packages its process keeps as JSON, is the envelope and result a client
    expects, each package as `package_show` builds it and in the page's order (each the one of a page of one at
    its place); shown again (now from what the process keeps), byte for byte the same answer."""
    girona = catalogue["girona"]
    url = f"{server.url}/api/3/action/package_search"
    first = httpx.get(url, params=params, headers={"Authorization": girona.apikey})
    again = httpx.get(url, params=params, headers={"Authorization": girona.apikey})
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert again.content == first.content
    answer = first.json()
    assert list(answer) == ["help", "success", "result"] and answer["success"] is True
    result = answer["result"]
    assert list(result) == ["count", "results", "facets", "search_facets", "sort"]
    start, rows = int(params.get("start", "0")), int(params.get("rows", "10"))
    assert len(result["results"]) == max(0, min(rows, result["count"] - start))
    assert result["count"] > 0 and (rows == 0 or result["results"])
    for position, package in enumerate(result["results"]):
        assert package == girona.action.package_show(id=package["name"])
        alone = {**params, "start": str(start + position), "rows": "1"}
        assert httpx.get(url, params=alone, headers={"Authorization": girona.apikey}).json()["result"]["results"] == [
            package
        ]
    facet_fields = json.loads(params.get("facet.field", "[]"))
    assert list(result["facets"]) == list(result["search_facets"]) == facet_fields


def test_facets_and_filters_hold_every_value_of_a_dataset_with_many(catalogue: dict[str, Any]) -> None:
    """A dataset with more facet values than most (24 tags) is found and counted by each of them, the last too."""
    girona, anyone = catalogue["girona"], catalogue["anyone"]
    tags = [f"riu-{number:02d}" for number in range(24)]
    girona.action.package_create(**dataset("rius", tags=[{"name": tag} for tag in tags]))
    try:
        for tag in (tags[0], tags[-1]):
            found = search(anyone, fq=f"tags:{tag}", **{"facet.field": '["tags"]', "facet.limit": "-1"})
            assert names(found) == ["rius"]
            assert dict.fromkeys(tags, 1).items() <= found["facets"]["tags"].items()
        found = search(anyone, q="padro", **{"facet.field": '["tags"]', "facet.limit": "-1"})
        assert "rius" in names(found) and dict.fromkeys(tags, 1).items() <= found["facets"]["tags"].items()
        assert names(search(anyone, q="padro", fq=f"tags:{tags[-1]}")) == ["rius"]
    finally:
        girona.action.package_delete(id="rius")
