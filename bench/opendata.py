"""Open-data benchmark: `package_search` at 100,000 datasets on SQLite and PostgreSQL, and the DCAT-AP export.

For each database the script starts `segell up` (embedded chain) as a process of its own on a fresh SEGELL_HOME
(and, for PostgreSQL, a fresh schema it drops afterwards), admits administrations through the API, then loads the
datasets straight into the database in batches: the catalogue's tables with bulk inserts, and the search index
through the very functions every `package_create` uses (`service.search_entry`, `search_repository.index`).
Bulk-loaded datasets carry made-up verification codes (`BENCH...`): nothing is notarised.

It then sends a mix of `package_search` requests over HTTP (`GET /api/3/action/package_search`, one at a time):
free-text words of varied selectivity (from words in a few datasets to words in a third of them), two-word
queries, `fq` by organization, tags, format and group, facets on organization/tags/res_format/groups, the sort
orders CKAN clients use, 10 to 100 rows, some deep pages. Latencies are client-side, HTTP included. The baseline
is a plain indexed lookup through the same API, `package_show` by name, timed the same way.

Last, it times the DCAT-AP export of 10,000 datasets: the first 10,000 of the catalogue in pages of 1,000
(`SEGELL_OPENDATA_DCAT_PAGE_SIZE`), in Turtle, JSON-LD and RDF/XML.

    .venv/bin/python bench/opendata.py                               # SQLite; PostgreSQL when SEGELL_TEST_POSTGRES_URL
    .venv/bin/python bench/opendata.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/opendata.py --datasets 10000 --queries 500  # a quicker run
    .venv/bin/python bench/opendata.py --corpus /tmp/corpus ...      # load once, measure again on the same data

The last line: ``search_p99_ms_sqlite=<N> search_p99_ms_postgres=<N> dcat_export_s=<N>``.
"""

import argparse
import contextlib
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import opendata_load  # noqa: E402
from opendata_load import postgres_schema, schema_url  # noqa: E402

from segell.services.administrations.api import Administration  # noqa: E402
from segell.services.db import create_db_engine  # noqa: E402
from segell.services.opendata import search_repository, service  # noqa: E402
from segell.services.opendata.models import Dataset, Resource  # noqa: E402

ADMINISTRATIONS = 25
CORPUS_SCHEMA = "segell_bench_opendata_corpus"
BATCH = 5000
TOPICS = [
    ("pressupost", "presupuesto", "budget"), ("padró", "padrón", "register"), ("contractes", "contratos", "contracts"),
    ("subvencions", "subvenciones", "subsidies"), ("residus", "residuos", "waste"), ("aigua", "agua", "water"),
    ("trànsit", "tráfico", "traffic"), ("qualitat de l'aire", "calidad del aire", "air quality"),
    ("equipaments", "equipamientos", "facilities"), ("habitatge", "vivienda", "housing"),
    ("turisme", "turismo", "tourism"), ("educació", "educación", "education"), ("salut", "salud", "health"),
    ("energia", "energía", "energy"), ("mobilitat", "movilidad", "mobility"), ("cultura", "cultura", "culture"),
    ("esports", "deportes", "sports"), ("personal", "personal", "staff"), ("deute", "deuda", "debt"),
    ("convenis", "convenios", "agreements"), ("eleccions", "elecciones", "elections"), ("soroll", "ruido", "noise"),
    ("arbrat", "arbolado", "trees"), ("aparcaments", "aparcamientos", "parking"), ("biblioteques", "bibliotecas",
    "libraries"), ("mercats", "mercados", "markets"), ("incidències", "incidencias", "incidents"),
    ("llicències", "licencias", "licences"), ("impostos", "impuestos", "taxes"), ("festes", "fiestas", "festivals"),
]  # fmt: skip
PLACES = [
    "Girona", "Figueres", "Olot", "Banyoles", "Palafrugell", "Blanes", "Lloret de Mar", "Salt", "Ripoll", "Puigcerdà",
    "Lleida", "Tàrrega", "Balaguer", "Tremp", "la Seu d'Urgell", "Tarragona", "Reus", "Valls", "Tortosa", "Amposta",
    "Barcelona", "Sabadell", "Terrassa", "Mataró", "Badalona", "Manresa", "Vic", "Igualada", "Vilanova i la Geltrú",
    "Granollers", "Cerdanyola", "Sant Cugat", "Rubí", "Castelldefels", "Gavà", "el Prat", "Cornellà", "Esplugues",
]  # fmt: skip
# Description words, drawn with Zipf-like weights: the first appear in a third of the datasets, the last in a few.
WORDS = (
    "dades municipi any total import nombre servei data tipus districte barri categoria codi estat registre "
    "mensual anual trimestral euros habitants superfície sol·licituds expedients entitats activitats centres "
    "places usuaris visitants consum emissions partida capítol crèdit obligacions reconegudes pagaments "
    "ingressos despeses licitació adjudicació proveïdor contractista subvenció beneficiari convocatòria "
    "resolució import_adjudicat línia parada vehicles bicicletes velocitat sensor mesura contaminant "
    "partícules ozó nitrogen temperatura pluja cabal dipòsit comptador facturació tarifa rebut padronal "
    "naixements defuncions matrimonis nacionalitat edat sexe escoles alumnes matrícula professors beques "
    "hospital urgències vacunació farmàcies ambulàncies incendis bombers policia denúncies infraccions multes "
    "arbres espècie reg poda jardins parcs fonts lavabos contenidors recollida selectiva reciclatge deixalleria "
    "tones orgànica vidre paper envasos rebuig voluminosos enllumenat fanals eficiència solar fotovoltaica "
    "autoconsum calefacció climatització edificis manteniment obres projectes inversions patrimoni inventari "
    "immobles vehicles_municipals flota quilòmetres combustible electricitat gas telefonia"
).split()
TAGS = [f"{topic[0].split()[0]}" for topic in TOPICS] + [f"etiqueta{n}" for n in range(400)]
FORMATS = ["CSV", "JSON", "XLSX", "GEOJSON"]
LICENCES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0", "ODC-BY-1.0"]
FREQUENCIES = ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL", "IRREG", None]
THEMES = ["AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "REGI", "SOCI", "TECH", "TRAN"]
WORD_WEIGHTS = [1 / (rank + 5) for rank in range(len(WORDS))]
TAG_WEIGHTS = [1 / (rank + 1) for rank in range(len(TAGS))]


# -- the server ---------------------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    database_url: str
    governance_key: str


@contextlib.contextmanager
def segell_up(home: Path, database_url: str, page_size: int, master_key: str) -> Iterator[Server]:
    """`segell up` on the embedded chain and `database_url`, as a process of its own."""
    settings = {"SEGELL_OPENDATA_DCAT_PAGE_SIZE": str(page_size), "SEGELL_MASTER_KEY": master_key}
    with opendata_load.segell_up(home, database_url, **settings) as (url, _):
        yield Server(url, database_url, (home / "governance.key").read_text().strip())


# -- loading ------------------------------------------------------------------------------------------------------


def admit(server: Server, count: int) -> list[str]:
    codes = [f"L{secrets.randbelow(10**8):08d}" for _ in range(count)]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.governance_key}"}) as http:
        for number, code in enumerate(codes):
            place = PLACES[number % len(PLACES)]
            answer = http.post("/v1/administrations", json={"code": code, "name": f"Ajuntament de {place}"})
            answer.raise_for_status()
    return codes


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, WORD_WEIGHTS, k=words))


def make_dataset(rng: random.Random, number: int, administration: Administration, moment: datetime) -> Dataset:
    topic = rng.choice(TOPICS)
    place = rng.choice(PLACES)
    year = rng.randint(2015, 2026)
    description = sentence(rng, rng.randint(6, 12))
    keywords = sorted(set(rng.choices(TAGS, TAG_WEIGHTS, k=rng.randint(1, 5))) | {topic[0].split()[0]})
    return Dataset(
        id=str(uuid.UUID(int=rng.getrandbits(128))),
        name=f"{topic[2].replace(' ', '-')}-{number:06d}",
        administration_id=administration.id,
        title={"ca": f"{topic[0].capitalize()} de {place} {year}", "es": f"{topic[1].capitalize()} de {place} {year}",
               "en": f"{place} {topic[2]} {year}"},
        description={"ca": description, "es": description, "en": description},
        themes=sorted(set(rng.sample(THEMES, rng.randint(1, 2)))),
        keywords=keywords,
        licence=rng.choice(LICENCES),
        temporal_start=date(year, 1, 1),
        temporal_end=date(year, 12, 31),
        spatial="http://publications.europa.eu/resource/authority/atu/ESP_CT_GIR",
        frequency=rng.choice(FREQUENCIES),
        private=rng.random() < 0.02,
        state="active",
        search_text="",
        version=1,
        created_at=moment,
        modified_at=moment + timedelta(seconds=rng.randint(0, 10**6)),
    )  # fmt: skip


def make_resources(rng: random.Random, dataset: Dataset) -> list[Resource]:
    resources = []
    for position, file_format in enumerate(rng.sample(FORMATS, rng.choice([1, 1, 2, 2, 3]))):
        extension = file_format.lower()
        resources.append(
            Resource(
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                dataset_id=dataset.id,
                position=position,
                name=f"{dataset.name}.{extension}",
                description="",
                format=file_format,
                filename=f"{dataset.name}.{extension}",
                size=rng.randint(100, 10**7),
                sha256=secrets.token_hex(32),
                created_at=dataset.created_at,
                modified_at=dataset.modified_at,
            )
        )
    return resources


def _row(item: Dataset | Resource) -> dict[str, Any]:
    return {column.key: getattr(item, column.key) for column in type(item).__table__.columns}


def load(database_url: str, codes: list[str], count: int, seed: int = 14) -> float:
    """Bulk-load `count` datasets of the administrations `codes`; returns the seconds it took."""
    rng = random.Random(seed)
    engine = create_db_engine(database_url)
    started = time.perf_counter()
    start_moment = datetime(2024, 1, 1, tzinfo=UTC)
    try:
        with Session(engine) as session:
            administrations = [
                session.query(Administration).filter(Administration.code == code).one() for code in codes
            ]
            session.expunge_all()
        for first in range(0, count, BATCH):
            with Session(engine) as session, session.begin():
                datasets, resources, entries = [], [], []
                for number in range(first, min(first + BATCH, count)):
                    administration = rng.choice(administrations)
                    dataset = make_dataset(rng, number, administration, start_moment + timedelta(minutes=number))
                    files = make_resources(rng, dataset)
                    datasets.append(_row(dataset))
                    resources.extend(_row(resource) for resource in files)
                    code = f"BENCH{number:010d}"
                    entries.append(service.search_entry(dataset, files, administration, code))
                session.execute(insert(Dataset), datasets)
                session.execute(insert(Resource), resources)
                search_repository.index(session, entries)
            print(f"  loaded {min(first + BATCH, count):>7,} datasets", end="\r", flush=True)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        else:
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


# -- the queries -------------------------------------------------------------------------------------------------


def query_mix(rng: random.Random, codes: list[str], count: int) -> list[dict[str, str]]:
    """`count` package_search parameter sets, as portals and harvesters send them."""
    facets = json.dumps(["organization", "tags", "res_format", "groups"])
    mix: list[dict[str, str]] = []
    for _ in range(count):
        params: dict[str, str] = {"rows": str(rng.choice([10, 10, 20, 20, 50, 100]))}
        kind = rng.random()
        if kind < 0.35:  # one word, any selectivity
            params["q"] = rng.choices(WORDS, WORD_WEIGHTS)[0]
        elif kind < 0.50:  # a topic and a place
            params["q"] = f"{rng.choice(TOPICS)[rng.randint(0, 2)]} {rng.choice(PLACES)}"
        elif kind < 0.65:  # a word within an organization
            params["q"] = rng.choices(WORDS, WORD_WEIGHTS)[0]
            params["fq"] = f"organization:{rng.choice(codes).lower()}"
        elif kind < 0.78:  # browsing by a facet
            params["fq"] = rng.choice(
                [
                    f'tags:"{rng.choices(TAGS, TAG_WEIGHTS)[0]}"',
                    f"res_format:{rng.choice(['CSV', 'JSON', 'XLSX', 'GeoJSON'])}",
                    f"groups:{rng.choice(THEMES).lower()}",
                    f"organization:{rng.choice(codes).lower()} res_format:CSV",
                ]
            )
        elif kind < 0.90:  # the front page: everything, newest first or by name
            params["sort"] = rng.choice(["metadata_modified desc", "name asc", "title_string asc"])
        else:  # a word, sorted otherwise
            params["q"] = rng.choices(WORDS, WORD_WEIGHTS)[0] + rng.choice(["", "*"])
            params["sort"] = rng.choice(["metadata_modified desc", "name asc", "title_string asc"])
        if rng.random() < 0.6:
            params["facet.field"] = facets
            params["facet.limit"] = str(rng.choice([10, 50]))
        if rng.random() < 0.1:
            params["start"] = str(rng.choice([100, 500, 1000]))
        mix.append(params)
    return mix


def timed(http: httpx.Client, path: str, params: Mapping[str, str]) -> float:
    started = time.perf_counter()
    answer = http.get(path, params=params)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"{path} {dict(params)} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed * 1000


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    at = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {
        "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1], "mean": statistics.fmean(ordered),
        "count": len(ordered),
    }  # fmt: skip


def run_queries(server: Server, codes: list[str], count: int, names: list[str]) -> dict[str, Any]:
    rng = random.Random(41)
    mix = query_mix(rng, codes, count)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for params in mix[:100]:  # warm the caches
            timed(http, "/api/3/action/package_search", params)
        search = [timed(http, "/api/3/action/package_search", params) for params in mix]
        lookups = [
            timed(http, "/api/3/action/package_show", {"id": rng.choice(names)}) for _ in range(max(200, count // 5))
        ]
        slowest = sorted(zip(search, mix, strict=True), key=lambda pair: -pair[0])[:5]
    # Each process keeps the matches of a `q` while the catalogue is unchanged: the searches whose `q` the run (its
    # warm-up included) had not sent before are the ones the database's full-text search answered.
    seen = {params["q"] for params in mix[:100] if "q" in params}
    first = []
    for elapsed, params in zip(search, mix, strict=True):
        if "q" in params and params["q"] not in seen:
            seen.add(params["q"])
            first.append(elapsed)
    result = {"search": percentiles(search), "show": percentiles(lookups), "slowest": slowest}
    return {**result, "first_q": percentiles(first)} if first else result


def dcat_export(server: Server, datasets: int, page_size: int) -> dict[str, float]:
    """Seconds to fetch the first `datasets` datasets of the catalogue, page by page, in each format."""
    seconds: dict[str, float] = {}
    with httpx.Client(base_url=server.url, timeout=600) as http:
        for extension in ("ttl", "jsonld", "rdf"):
            started = time.perf_counter()
            for page in range(1, -(-datasets // page_size) + 1):  # every page holding one of them
                answer = http.get(f"/catalog.{extension}", params={"page": page})
                answer.raise_for_status()
            seconds[extension] = time.perf_counter() - started
    return seconds


def sample_names(database_url: str, count: int) -> list[str]:
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        names = [
            row[0]
            for row in connection.execute(
                text("SELECT name FROM opendata_search WHERE private = false LIMIT :n"), {"n": count}
            )
        ]
    engine.dispose()
    return names


# -- the report ---------------------------------------------------------------------------------------------------


def summary_line(figures: Mapping[str, float | None]) -> str:
    """The last line: ``key=value`` for each figure, in order (``n/a`` for one not measured)."""
    return " ".join(f"{key}={'n/a' if value is None else f'{value:g}'}" for key, value in figures.items())


def bench_database(label: str, database_url: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Load the catalogue (or, in a `--corpus` home that holds one of this size, keep it) and measure."""
    page_size = 1000
    corpus_file = home / "corpus.json"
    corpus = json.loads(corpus_file.read_text()) if corpus_file.exists() else {"master_key": secrets.token_hex(32)}
    if corpus.get("datasets", args.datasets) != args.datasets:
        raise SystemExit(f"{home} holds {corpus['datasets']:,} datasets, not {args.datasets:,}: give another --corpus")
    with segell_up(home, database_url, page_size, corpus["master_key"]) as server:
        if "codes" in corpus:
            codes = corpus["codes"]
            print(f"{label}: the {args.datasets:,} datasets of {home} loaded before")
        else:
            codes = admit(server, ADMINISTRATIONS)
            seconds = load(database_url, codes, args.datasets)
            print(f"{label}: loaded {args.datasets:,} datasets in {seconds:.1f} s ({args.datasets / seconds:,.0f}/s)")
            corpus_file.write_text(json.dumps({**corpus, "codes": codes, "datasets": args.datasets}))
        names = sample_names(database_url, 2000)
        result = run_queries(server, codes, args.queries, names)
        if args.dcat:
            result["dcat"] = dcat_export(server, min(10_000, args.datasets), page_size)
    search, show = result["search"], result["show"]
    print(
        f"{label}: package_search over HTTP, {args.queries} queries: p50 {search['p50']:.1f} ms,"
        f" p95 {search['p95']:.1f} ms, p99 {search['p99']:.1f} ms, max {search['max']:.1f} ms"
        f" (mean {search['mean']:.1f} ms)"
    )
    print(
        f"{label}: baseline package_show by name: p50 {show['p50']:.1f} ms, p99 {show['p99']:.1f} ms;"
        f" search p99 / lookup p99 = {search['p99'] / show['p99']:.1f}"
    )
    if "first_q" in result:
        first = result["first_q"]
        print(
            f"{label}: of them, a q sent for the first time ({args.queries} queries held"
            f" {first['count']}): p50 {first['p50']:.1f} ms, p99 {first['p99']:.1f} ms, max {first['max']:.1f} ms"
        )
    for elapsed, params in result["slowest"]:
        print(f"  slowest: {elapsed:.0f} ms {params}")
    if "dcat" in result:
        print(
            f"{label}: DCAT-AP export of {min(10_000, args.datasets):,} datasets (pages of {page_size}): "
            + ", ".join(f"{extension} {value:.2f} s" for extension, value in result["dcat"].items())
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("SEGELL_TEST_POSTGRES_URL"), help="a PostgreSQL URL")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="PostgreSQL only")
    parser.add_argument("--no-dcat", dest="dcat", action="store_false", help="skip the DCAT-AP export")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="a folder to keep the loaded catalogues in (and a PostgreSQL schema, segell_bench_opendata_corpus),"
        " reused by later runs with the same --datasets",
    )
    parser.add_argument(
        "--load-rows", type=int, default=1_000_000, help="rows of the CSV loaded by bench/opendata_load.py (0: skip)"
    )
    args = parser.parse_args()
    figures: dict[str, float | None] = {
        "search_p99_ms_sqlite": None,
        "search_p99_ms_postgres": None,
        "load_rows_per_s": None,
        "dcat_export_s": None,
    }
    with tempfile.TemporaryDirectory(prefix="segell-bench-opendata-") as scratch:
        homes = args.corpus or Path(scratch)
        if args.sqlite:
            home = homes / "sqlite"
            home.mkdir(parents=True, exist_ok=True)
            sqlite = bench_database("SQLite", f"sqlite:///{home / 'segell.db'}", home, args)
            figures["search_p99_ms_sqlite"] = round(sqlite["search"]["p99"], 1)
            if "dcat" in sqlite:
                figures["dcat_export_s"] = round(max(sqlite["dcat"].values()), 2)
        if args.postgres:
            home = homes / "postgres"
            home.mkdir(parents=True, exist_ok=True)
            if args.corpus and (home / "corpus.json").exists():
                postgres = bench_database("PostgreSQL", schema_url(args.postgres, CORPUS_SCHEMA), home, args)
            else:
                keep = args.corpus is not None
                with postgres_schema(args.postgres, CORPUS_SCHEMA if keep else None, keep=keep) as database_url:
                    postgres = bench_database("PostgreSQL", database_url, home, args)
            figures["search_p99_ms_postgres"] = round(postgres["search"]["p99"], 1)
    if args.load_rows:
        rows_per_s = opendata_load.measure_load(None, args.load_rows)
        print(f"SQLite: loaded a {args.load_rows:,}-row CSV through resource_create at {rows_per_s:,.0f} rows/s")
        figures["load_rows_per_s"] = round(rows_per_s)
    print(summary_line(figures))


if __name__ == "__main__":
    main()
