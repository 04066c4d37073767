"""Rendering the transparency portal: the administrations that publish and how they compare, and each
administration's publications, with charts of its budget.

Pages are rendered whole on the server, in the language chosen as on the verification page (`pages.choose_language`),
so that they read without JavaScript: every chart is also a table, and the tables are the text alternative the
charts' labels point to. The charts are drawn by Chart.js (served from this server, `static/chart.umd.min.js`) from
the numbers the page carries in ``<script type="application/json">`` next to each canvas (`static/transparency.js`).
"""

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from segell.services.opendata import api as opendata
from segell.services.web import pages

#: The three sums of a budget line the charts draw, in their order.
SERIES: Final = ("initial", "final", "executed")
#: The expense budget: how the money is spent.
EXPENSE: Final = "expense"


def translations() -> dict[str, dict[str, str]]:
    """The portal's texts, by language."""
    return pages.page_texts("portal")


def _e(value: object) -> str:
    return html.escape(str(value))


def _say(texts: dict[str, str], key: str, **values: object) -> str:
    """A text with its ``{name}`` placeholders filled, not yet escaped."""
    text = texts[key]
    for name, value in values.items():
        text = text.replace(f"{{{name}}}", str(value))
    return text


# -- numbers and dates, as each language writes them ---------------------------------------------------------------


def format_number(value: float, language: str, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    if language in ("ca", "es"):
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def format_amount(value: float, language: str, decimals: int | None = None) -> str:
    """Euros: ``1.234.567 €`` in Catalan and Spanish, ``€1,234,567`` in English; cents only when there are."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    number = format_number(value, language, decimals)
    return f"€{number}" if language == "en" else f"{number}\u00a0€"


def format_date(moment: datetime, language: str) -> str:
    texts = translations()[language]
    month = texts["months"].split("|")[moment.month - 1]
    return _say(texts, "date_format", day=moment.day, month=month, year=moment.year)


def _time(moment: datetime, language: str) -> str:
    return f'<time datetime="{_e(moment.isoformat())}">{_e(format_date(moment, language))}</time>'


# -- charts and the tables that say the same --------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    values: list[float]


@dataclass(frozen=True)
class Chart:
    """A chart and its table: one row per label, one column per series."""

    id: str
    kind: str  # "bar" or "line"
    caption: str
    description: str
    label_heading: str
    labels: list[str]
    series: list[Series]
    #: Extra columns of the table only: (heading, one cell per label, already formatted).
    extra: list[tuple[str, list[str]]] = field(default_factory=list)
    #: The table's last row (e.g. totals), already formatted: the label, then one cell per series and extra column.
    footer: list[str] | None = None
    decimals: int | None = None

    def data(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "labels": self.labels,
            "datasets": [{"key": s.key, "label": s.label, "data": s.values} for s in self.series],
        }


def _chart(chart: Chart, language: str) -> str:
    caption_id = f"{chart.id}-caption"
    heads = [chart.label_heading, *(s.label for s in chart.series), *(heading for heading, _ in chart.extra)]
    head = "".join(f'<th scope="col">{_e(text)}</th>' for text in heads)
    # One number of decimals for the whole table, so that its columns line up: cents when any figure has them.
    decimals = chart.decimals
    if decimals is None:
        decimals = 0 if all(float(value).is_integer() for s in chart.series for value in s.values) else 2
    body = []
    for index, label in enumerate(chart.labels):
        cells = [format_amount(s.values[index], language, decimals) for s in chart.series]
        cells += [column[index] for _, column in chart.extra]
        body.append(f'<tr><th scope="row">{_e(label)}</th>{"".join(f"<td>{_e(c)}</td>" for c in cells)}</tr>')
    foot = ""
    if chart.footer is not None:
        first, *rest = chart.footer
        foot = f'<tfoot><tr><th scope="row">{_e(first)}</th>{"".join(f"<td>{_e(c)}</td>" for c in rest)}</tr></tfoot>'
    return (
        f'<figure class="chart" aria-labelledby="{caption_id}">\n'
        f'<figcaption id="{caption_id}">{_e(chart.caption)}</figcaption>\n'
        f'<div class="chart-box"><canvas id="{chart.id}" role="img" aria-label="{_e(chart.description)}" '
        f'data-chart="{chart.id}-data"></canvas></div>\n'
        f'<script type="application/json" id="{chart.id}-data">{pages.json_for_script(chart.data())}</script>\n'
        f'<div class="table-wrap" role="region" tabindex="0" aria-labelledby="{caption_id}">\n'
        f'<table class="figures" id="{chart.id}-table" aria-labelledby="{caption_id}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>{foot}</table>\n"
        "</div>\n</figure>"
    )


def _sums(figures: dict[str, Any], direction: str = EXPENSE) -> dict[str, float]:
    """A budget's totals over its chapters: ``{"initial": ..., "final": ..., "executed": ...}``."""
    chapters = figures.get(direction, {})
    return {key: sum(float(chapters[chapter].get(key, 0)) for chapter in sorted(chapters)) for key in SERIES}


def _series_labels(texts: dict[str, str]) -> dict[str, str]:
    return {key: texts[f"series_{key}"] for key in SERIES}


def chapters_chart(budget: opendata.PublishedSubmission, language: str) -> Chart:
    """The expense budget of one year by economic chapter."""
    texts = translations()[language]
    chapters = budget.figures.get(EXPENSE, {})
    numbers = sorted(chapters, key=int)
    labels = [texts.get(f"chapter_{number}", number) for number in numbers]
    names = _series_labels(texts)
    series = [Series(key, names[key], [chapters[n].get(key, 0) for n in numbers]) for key in SERIES]
    totals = _sums(budget.figures)
    values = [value for s in series for value in s.values]
    decimals = 0 if all(float(value).is_integer() for value in values) else 2
    return Chart(
        id="chapters-chart",
        kind="bar",
        caption=_say(texts, "chapters_caption", year=budget.period),
        description=_say(texts, "chapters_chart_label", year=budget.period),
        label_heading=texts["col_chapter"],
        labels=labels,
        series=series,
        footer=[texts["total"], *(format_amount(totals[key], language, decimals) for key in SERIES)],
    )


def years_chart(budgets: Sequence[opendata.PublishedSubmission], language: str) -> Chart:
    """The expense budget's totals year by year, oldest first."""
    texts = translations()[language]
    ordered = sorted(budgets, key=lambda budget: budget.period)
    totals = [_sums(budget.figures) for budget in ordered]
    names = _series_labels(texts)
    rates = [
        f"{format_number(100 * t['executed'] / t['final'], language, 1)}\u00a0%" if t["final"] else "—" for t in totals
    ]
    return Chart(
        id="years-chart",
        kind="line",
        caption=texts["years_caption"],
        description=texts["years_chart_label"],
        label_heading=texts["col_year"],
        labels=[str(budget.period) for budget in ordered],
        series=[Series(key, names[key], [t[key] for t in totals]) for key in SERIES],
        extra=[(texts["col_execution_rate"], rates)],
    )


def per_inhabitant_chart(budgets: Sequence[opendata.BlockFigures], year: int, language: str) -> Chart:
    """Each administration's expense budget for `year` per inhabitant (those that gave their inhabitants)."""
    texts = translations()[language]
    chosen = sorted(
        (b for b in budgets if b.period == year and b.inhabitants), key=lambda b: b.administration_name.lower()
    )
    names = _series_labels(texts)
    per = [{key: round(value / (b.inhabitants or 1), 2) for key, value in _sums(b.figures).items()} for b in chosen]
    return Chart(
        id="compare-chart",
        kind="bar",
        caption=_say(texts, "compare_caption", year=year),
        description=_say(texts, "compare_chart_label", year=year),
        label_heading=texts["col_administration"],
        labels=[b.administration_name for b in chosen],
        series=[Series(key, names[key], [p[key] for p in per]) for key in SERIES],
        extra=[(texts["col_inhabitants"], [format_number(b.inhabitants or 0, language) for b in chosen])],
        decimals=2,
    )


# -- pages ----------------------------------------------------------------------------------------------------------


def _page(language: str, title: str, content: str, *, query: dict[str, str] | None = None) -> str:
    texts = translations()[language]
    assets = pages.static_files()
    values = {
        "lang": language,
        "page_title": f"{title} · {texts['heading']} · Segell" if title != texts["heading"] else texts["title"],
        "content": content,
        "number_locale": texts["number_locale"],
        "verify_css_version": assets["verify.css"].etag,
        "css_version": assets["transparency.css"].etag,
        "js_version": assets["transparency.js"].etag,
        "chart_version": assets["chart.umd.min.js"].etag,
        "current_portal": 'aria-current="page"',
    }
    links = pages.language_links(language, query)
    raw = {"content", "current_portal", *(key for key in links if key.startswith("current_"))}
    return pages.fill_template("portal.html", texts, values | links, raw)


def _section(heading_id: str, heading: str, body: Iterable[str]) -> str:
    return (
        f'<section class="card" aria-labelledby="{heading_id}">\n<h2 id="{heading_id}">{_e(heading)}</h2>\n'
        + "\n".join(body)
        + "\n</section>"
    )


def _administration_href(code: str) -> str:
    return f"/transparency/{quote(code, safe='')}"


def overview_page(
    language: str,
    administrations: Sequence[opendata.PublishingAdministration],
    budgets: Sequence[opendata.BlockFigures],
    year: int | None,
) -> str:
    """`/transparency`: who publishes, and their spending per inhabitant in `year` (the latest one by default)."""
    texts = translations()[language]
    content = [f"<h1>{_e(texts['heading'])}</h1>", f'<p class="intro">{_e(texts["intro"])}</p>']
    if administrations:
        rows = []
        for administration in administrations:
            blocks = ", ".join(opendata.block_title(block, language) for block in administration.blocks)
            inhabitants = administration.inhabitants
            rows.append(
                f'<tr><th scope="row"><a href="{_administration_href(administration.code)}">'
                f"{_e(administration.name)}</a></th><td>{_e(administration.code)}</td>"
                f"<td>{_e(format_number(inhabitants, language)) if inhabitants is not None else '—'}</td>"
                f"<td>{_e(blocks)}</td><td>{administration.latest_period}</td></tr>"
            )
        heads = ("col_administration", "col_code", "col_inhabitants", "col_blocks", "col_latest")
        head = "".join(f'<th scope="col">{_e(texts[key])}</th>' for key in heads)
        table = (
            '<div class="table-wrap" role="region" tabindex="0" aria-labelledby="publishers-heading">'
            f'<table class="publishers" aria-labelledby="publishers-heading"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
        content.append(_section("publishers-heading", texts["publishers_heading"], [table]))
    else:
        content.append(
            _section("publishers-heading", texts["publishers_heading"], [f"<p>{_e(texts['publishers_none'])}</p>"])
        )

    years = sorted({b.period for b in budgets if b.inhabitants}, reverse=True)
    compare: list[str] = []
    if years:
        chosen = year if year in years else years[0]
        current = ' aria-current="page"'
        links = "".join(
            f'<li><a href="?{urlencode({"year": y})}"{current if y == chosen else ""}>{y}</a></li>' for y in years
        )
        compare += [
            f'<nav class="years" aria-label="{_e(texts["compare_years"])}"><ul>{links}</ul></nav>',
            f"<p>{_e(_say(texts, 'compare_intro', year=chosen))}</p>",
            _chart(per_inhabitant_chart(budgets, chosen, language), language),
        ]
    else:
        compare.append(f"<p>{_e(texts['compare_none'])}</p>")
    content.append(_section("compare-heading", texts["compare_heading"], compare))
    query = {"year": str(year)} if year is not None else None
    return _page(language, texts["heading"], "\n".join(content), query=query)


def _publication_row(submission: opendata.PublishedSubmission, versions: dict[str, int], language: str) -> str:
    texts = translations()[language]
    block = opendata.block_title(submission.block, language)
    if submission.status == "current":
        status = texts["status_current"]
        query = ""
    else:
        replaced_by = versions.get(submission.superseded_by or "")
        status = (
            _say(texts, "status_superseded", version=replaced_by)
            if replaced_by is not None
            else texts["status_superseded_plain"]
        )
        query = f"?version={submission.version}"
    base = f"{_administration_href(submission.administration_code)}/{submission.block}/{submission.period}"
    downloads = " ".join(
        f'<a href="{base}.{extension}{query}" download '
        f'aria-label="{_e(_say(texts, "download_label", format=name, block=block, year=submission.period, version=submission.version))}">'  # noqa: E501
        f"{name}</a>"
        for extension, name in (("csv", "CSV"), ("json", "JSON"))
    )
    notarisation = {"anchored": "verified", "pending": "pending", "revoked": "revoked"}.get(
        submission.notarisation, "pending"
    )
    verify_label = _say(
        texts,
        "verify_label",
        status=texts[notarisation],
        block=block,
        year=submission.period,
        version=submission.version,
    )
    verify = (
        f'<a class="verify verify-{notarisation}" href="/verify/{quote(submission.verification_code)}" '
        f'aria-label="{_e(verify_label)}">{_e(texts[notarisation])}</a>'
    )
    return (
        f'<tr data-status="{_e(submission.status)}" data-version="{submission.version}">'
        f'<th scope="row">{submission.period}</th><td>{submission.version}</td>'
        f'<td class="status-{_e(submission.status)}">{_e(status)}</td>'
        f"<td>{_time(submission.submitted_at, language)}</td>"
        f"<td>{_e(format_number(submission.row_count, language))}</td>"
        f'<td class="downloads">{downloads}</td><td>{verify}</td></tr>'
    )


def administration_page(language: str, submissions: Sequence[opendata.PublishedSubmission]) -> str:
    """`/transparency/{code}`: every block and version the administration published, and its budget's charts."""
    texts = translations()[language]
    first = submissions[0]
    latest_with_inhabitants = max(
        (s for s in submissions if s.inhabitants is not None), key=lambda s: (s.period, s.submitted_at), default=None
    )
    if latest_with_inhabitants is not None and latest_with_inhabitants.inhabitants is not None:
        inhabitants = format_number(latest_with_inhabitants.inhabitants, language)
        intro = _say(texts, "administration_intro", code=first.administration_code, inhabitants=inhabitants)
    else:
        intro = _say(texts, "administration_intro_no_inhabitants", code=first.administration_code)
    content = [
        f'<p class="back"><a href="/transparency">{_e(texts["back"])}</a></p>',
        f"<h1>{_e(first.administration_name)}</h1>",
        f'<p class="intro">{_e(intro)}</p>',
    ]
    versions = {s.id: s.version for s in submissions}
    blocks = []
    heads = ("col_year", "col_version", "col_status", "col_published", "col_rows", "col_downloads", "col_verification")
    head = "".join(f'<th scope="col">{_e(texts[key])}</th>' for key in heads)
    for block in opendata.BLOCKS:
        heading_id = f"block-{block}"
        own = [s for s in submissions if s.block == block]
        blocks.append(f'<h3 id="{heading_id}">{_e(opendata.block_title(block, language))}</h3>')
        if not own:
            blocks.append(f'<p class="muted">{_e(texts["block_not_published"])}</p>')
            continue
        rows = "".join(_publication_row(s, versions, language) for s in own)
        blocks.append(
            f'<div class="table-wrap" role="region" tabindex="0" aria-labelledby="{heading_id}">'
            f'<table class="publications" id="publications-{block}" aria-labelledby="{heading_id}">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        )
    content.append(
        _section(
            "publications-heading",
            texts["publications_heading"],
            [f"<p>{_e(texts['publications_intro'])}</p>", *blocks],
        )
    )
    budgets = [s for s in submissions if s.block == "budget" and s.status == "current"]
    money: list[str] = []
    if budgets:
        latest = max(budgets, key=lambda budget: budget.period)
        money += [
            f'<h3 id="chapters-heading">{_e(_say(texts, "chapters_heading", year=latest.period))}</h3>',
            _chart(chapters_chart(latest, language), language),
            f'<h3 id="years-heading">{_e(texts["years_heading"])}</h3>',
            _chart(years_chart(budgets, language), language),
        ]
    else:
        money.append(f"<p>{_e(texts['budget_none'])}</p>")
    content.append(_section("budget-heading", texts["budget_heading"], money))
    return _page(language, first.administration_name, "\n".join(content))


def not_found_page(language: str, code: str) -> str:
    texts = translations()[language]
    content = (
        f'<p class="back"><a href="/transparency">{_e(texts["back"])}</a></p>'
        f"<h1>{_e(texts['not_found_heading'])}</h1><p>{_e(_say(texts, 'not_found_text', code=code))}</p>"
    )
    return _page(language, texts["not_found_heading"], content)
