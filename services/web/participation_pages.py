"""Rendering the participation pages: a process and its phases, its proposals (search, filter, sort, propose,
support), the ballot of a budget or a challenge with its running total and rule checks, "check my ballot" (checked
in the browser), the results with charts, and the after-transaction survey.

Pages are rendered whole on the server in the language chosen as on the verification page (`pages.choose_language`)
and read without JavaScript. `static/participation.js` checks a ballot's receipt against the published ballot, its
proof, the root's notarisation and the chain, and acts as a citizen (proposing, supporting, casting a ballot)
through the JSON API with the citizen's token, which the administration's app hands over in the page address's
fragment (``#token=...``: never sent to any server) and the page keeps in the tab's session storage. The server
checks every ballot again: the page's checks only spare the citizen a refused ballot. Charts are drawn by Chart.js
(served from this server) and each is followed by a table with the same numbers.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from segell.services.participation import api as participation
from segell.services.web import pages, portal

#: The texts the page's script needs, sent with each page in its language.
SCRIPT_TEXTS: Final = (
    "signed_in",
    "signed_out",
    "sign_out",
    "supporting",
    "supported",
    "supports_count",
    "supports_of_version",
    "support_failed",
    "total_label",
    "remaining_label",
    "ballot_ok",
    "rule_min_projects",
    "rule_max_projects",
    "rule_budget_cap",
    "rule_max_districts",
    "rule_min_per_district",
    "rule_max_per_district",
    "casting",
    "cast_failed",
    "need_login",
    "receipt_heading",
    "receipt_commitment",
    "receipt_code",
    "receipt_keep",
    "receipt_check",
    "replaced_note",
    "chart_votes",
    "total_label_challenge",
    "rule_min_choices",
    "rule_max_choices",
    "verify_progress",
    "verify_ok",
    "verify_ok_text",
    "verify_failed",
    "verify_failed_text",
    "verify_unreachable",
    "verify_pending",
    "verify_not_found",
    "verify_not_closed",
    "verify_step_ok",
    "verify_step_failed",
    "verify_step_record",
    "verify_step_record_ok",
    "verify_step_record_bad",
    "verify_step_proof",
    "verify_step_proof_ok",
    "verify_step_proof_bad",
    "verify_step_notarised",
    "verify_step_notarised_ok",
    "verify_step_notarised_bad",
    "verify_step_chain",
    "verify_step_chain_ok",
    "verify_step_chain_bad",
    "verify_step_chain_other",
    "verify_step_revoked",
    "verify_step_notarised_proof_bad",
    "check_choices",
    "proposing",
    "proposed",
    "propose_see",
    "propose_failed",
)


def translations() -> dict[str, dict[str, str]]:
    """The participation pages' texts, by language."""
    return pages.page_texts("participation")


def _e(value: object) -> str:
    return html.escape(str(value))


def _say(texts: Mapping[str, str], key: str, **values: object) -> str:
    # A sentence about one thing has a text of its own (`<key>_one`) where the language needs it.
    text = texts.get(f"{key}_one", texts[key]) if values.get("count") in (1, "1") else texts[key]
    for name, value in values.items():
        text = text.replace(f"{{{name}}}", str(value))
    return text


def _page(language: str, title: str, content: str, *, query: Mapping[str, str] | None = None) -> str:
    texts = translations()[language]
    assets = pages.static_files()
    values = {
        "lang": language,
        "page_title": f"{title} · {texts['heading']} · Segell",
        "content": content,
        "number_locale": texts["number_locale"],
        "verify_css_version": assets["verify.css"].etag,
        "portal_css_version": assets["transparency.css"].etag,
        "css_version": assets["participation.css"].etag,
        "js_version": assets["participation.js"].etag,
        "hashes_version": assets["hashes.js"].etag,
        "chart_version": assets["chart.umd.min.js"].etag,
        # The API's error codes a citizen may meet, said in the page's language (`error_<code>`).
        "texts_json": pages.json_for_script(
            {key: texts[key] for key in texts if key.removesuffix("_one") in SCRIPT_TEXTS or key.startswith("error_")}
        ),
    }
    links = pages.language_links(language, dict(query or {}))
    raw = {"content", "texts_json", *(key for key in links if key.startswith("current_"))}
    return pages.fill_template("participation.html", texts, values | links, raw)


def _section(heading_id: str, heading: str, body: Iterable[str], *, extra_class: str = "") -> str:
    return (
        f'<section class="card {extra_class}" aria-labelledby="{heading_id}">\n'
        f'<h2 id="{heading_id}">{_e(heading)}</h2>\n' + "\n".join(body) + "\n</section>"
    )


def _time(moment: datetime, language: str) -> str:
    return f'<time datetime="{_e(moment.isoformat())}">{_e(portal.format_date(moment, language))}</time>'


def _plain_moment(moment: datetime, language: str) -> str:
    utc = moment.astimezone(UTC)
    return _say(translations()[language], "moment", date=portal.format_date(utc, language), time=utc.strftime("%H:%M"))


def _moment(moment: datetime, language: str) -> str:
    """A phase's start or end: the day and the time, in UTC (as the process states it)."""
    return f'<time datetime="{_e(moment.astimezone(UTC).isoformat())}">{_e(_plain_moment(moment, language))}</time>'


def _amount(value: int, language: str) -> str:
    return portal.format_amount(value, language, 0)


def _process_href(process_id: str, part: str = "") -> str:
    return f"/participation/processes/{quote(process_id, safe='')}{part}"


def _title(texts_by_language: Any, language: str) -> str:
    return str(getattr(texts_by_language, language))


# -- the survey -----------------------------------------------------------------------------------------------------


def survey_page(
    language: str,
    token: str,
    view: participation.SurveyView,
    *,
    answered: participation.SurveyAnswerOut | None = None,
    problem: str | None = None,
) -> str:
    """`/participation/survey/{token}`: rate the procedure just completed, and maybe leave an idea."""
    texts = translations()[language]
    procedure = view.procedure_name or view.procedure
    content = [f"<h1>{_e(texts['survey_heading'])}</h1>"]
    intro = _say(texts, "survey_intro", administration=view.administration, procedure=procedure)
    content.append(f'<p class="intro">{_e(intro)}</p>')
    if answered is not None:
        thanks = texts["survey_thanks_idea"] if answered.idea_recorded else texts["survey_thanks"]
        content.append(f'<div class="notice notice-ok" role="status" id="survey-done"><p>{_e(thanks)}</p></div>')
        return _page(language, texts["survey_heading"], "\n".join(content))
    if view.status != "open":
        key = "survey_answered" if view.status == "answered" else "survey_expired"
        content.append(
            f'<div class="notice notice-warn" role="status" id="survey-closed"><p>{_e(texts[key])}</p></div>'
        )
        return _page(language, texts["survey_heading"], "\n".join(content))
    error = ""
    if problem is not None:
        error = f'<div class="notice notice-bad" role="alert" id="survey-error"><p>{_e(texts[problem])}</p></div>'
    stars = "".join(
        f'<label class="rating-choice"><input type="radio" name="rating" value="{value}" required> '
        f"<span>{value} · {_e(texts[f'rating_{value}'])}</span></label>"
        for value in range(1, 6)
    )
    action = f"/participation/survey/{quote(token, safe='')}?{urlencode({'lang': language})}"
    content.append(
        _section(
            "survey-form-heading",
            texts["survey_form_heading"],
            [
                error,
                f'<form method="post" action="{_e(action)}" id="survey-form">',
                f'<fieldset class="rating"><legend>{_e(_say(texts, "rating_legend", procedure=procedure))}</legend>'
                f"{stars}</fieldset>",
                f'<label for="idea">{_e(texts["idea_label"])}</label>',
                f'<p class="help" id="idea-help">{_e(texts["idea_help"])}</p>',
                '<textarea id="idea" name="idea" rows="5" maxlength="2000" aria-describedby="idea-help"></textarea>',
                f'<p><button type="submit">{_e(texts["survey_send"])}</button></p>',
                "</form>",
            ],
        )
    )
    return _page(language, texts["survey_heading"], "\n".join(content), query={})


def survey_not_found_page(language: str) -> str:
    texts = translations()[language]
    content = f"<h1>{_e(texts['survey_heading'])}</h1><p>{_e(texts['survey_not_found'])}</p>"
    return _page(language, texts["survey_heading"], content)


# -- processes ------------------------------------------------------------------------------------------------------


def _session_box(language: str) -> str:
    """Who acts: filled in by the script from the token in the tab's session storage."""
    texts = translations()[language]
    return f'<div class="session" data-session role="status"><p>{_e(texts["signed_out"])}</p></div>'


def _votes(process: participation.ProcessOut) -> bool:
    return process.type in ("budget", "challenge")


def _process_nav(language: str, process: participation.ProcessOut, current: str) -> str:
    texts = translations()[language]
    links = [("", "nav_process")]
    if process.type != "budget":
        links.append(("/proposals", "nav_proposals"))
    if _votes(process):
        if process.status == "open":
            links.append(("/ballot", "nav_ballot"))
        links.append(("/check", "nav_check"))
        if process.status == "closed":
            links.append(("/results", "nav_results"))
    here = ' aria-current="page"'
    items = "".join(
        f'<li><a href="{_process_href(process.id, part)}"{here if part == current else ""}>{_e(texts[key])}</a></li>'
        for part, key in links
    )
    return f'<nav class="process-nav" aria-label="{_e(texts["process_nav"])}"><ul>{items}</ul></nav>'


def _process_header(language: str, process: participation.ProcessOut, current: str) -> list[str]:
    texts = translations()[language]
    return [
        f'<p class="back"><a href="/participation">{_e(texts["back"])}</a></p>',
        f'<h1 id="process-title">{_e(_title(process.title, language))}</h1>',
        _process_nav(language, process, current),
        _session_box(language),
    ]


def processes_page(language: str, processes: participation.ProcessList) -> str:
    """`/participation`: the processes, newest first."""
    texts = translations()[language]
    content = [f"<h1>{_e(texts['heading'])}</h1>", f'<p class="intro">{_e(texts["intro"])}</p>']
    if not processes.items:
        content.append(f"<p>{_e(texts['no_processes'])}</p>")
    items = []
    for process in processes.items:
        status = texts[f"status_{process.status}"]
        if process.status == "open" and process.current_phase is not None:
            status += f" · {texts['fact_phase']}: {texts[f'phase_{process.current_phase}']}"
        items.append(
            f'<li class="card process-item"><h2><a href="{_process_href(process.id)}">'
            f"{_e(_title(process.title, language))}</a></h2>"
            f'<p class="muted">{_e(texts[f"type_{process.type}"])} · {_e(process.administration)} · {_e(status)}</p>'
            f"<p>{_e(_title(process.description, language))}</p></li>"
        )
    if items:
        content.append(f'<ul class="processes">{"".join(items)}</ul>')
    return _page(language, texts["heading"], "\n".join(content))


def _phase_of(process: participation.ProcessOut, name: str) -> participation.Phase | None:
    return next((phase for phase in process.phases if phase.phase == name), None)


def _phases_table(language: str, process: participation.ProcessOut, now: datetime) -> str:
    """The phases with their dates, and which is under way, done or to come."""
    texts = translations()[language]
    rows = []
    for phase in process.phases:
        if phase.starts_at <= now < phase.ends_at:
            state, current = "phase_now", ' aria-current="step" class="phase-now"'
        else:
            state, current = ("phase_done" if phase.ends_at <= now else "phase_coming"), ""
        rows.append(
            f'<tr data-phase="{phase.phase}"{current}><th scope="row">{_e(texts[f"phase_{phase.phase}"])}'
            f'<span class="phase-state"> · {_e(texts[state])}</span></th>'
            f"<td>{_moment(phase.starts_at, language)}</td><td>{_moment(phase.ends_at, language)}</td></tr>"
        )
    return _section(
        "phases-heading",
        texts["phases_heading"],
        [
            '<div class="table-wrap" role="region" tabindex="0" aria-labelledby="phases-heading">'
            f'<table id="phases" aria-labelledby="phases-heading"><thead><tr>'
            f'<th scope="col">{_e(texts["col_phase"])}</th><th scope="col">{_e(texts["col_starts"])}</th>'
            f'<th scope="col">{_e(texts["col_ends"])}</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        ],
    )


def _what_now(language: str, process: participation.ProcessOut, now: datetime) -> str:
    """What a citizen can do in the process now, in one sentence."""
    texts = translations()[language]
    if process.status == "closed":
        key = "now_closed"
    elif process.current_phase is not None:
        key = f"now_{process.current_phase}"
    elif process.phases and now < process.phases[0].starts_at:
        key = "now_not_started"
    elif process.phases:
        key = "now_between"
    else:
        key = "now_vote" if _votes(process) else "now_proposals"
    return f'<p class="notice notice-ok what-now" id="what-now">{_e(texts[key])}</p>'


def process_page(language: str, process: participation.ProcessOut, now: datetime) -> str:
    """`/participation/processes/{id}`: what the process is, its phases and rules, and where to take part."""
    texts = translations()[language]
    content = _process_header(language, process, "")
    facts = [
        (texts["fact_type"], texts[f"type_{process.type}"]),
        (texts["fact_administration"], process.administration),
        (texts["fact_status"], texts[f"status_{process.status}"]),
    ]
    if process.current_phase is not None:
        facts.append((texts["fact_phase"], texts[f"phase_{process.current_phase}"]))
    if process.available_budget is not None:
        facts.append((texts["fact_budget"], _amount(process.available_budget, language)))
    if process.required_factor is not None:
        facts.append((texts["fact_factor"], texts["factor_totp"]))
    if process.services:
        facts.append((texts["fact_services"], ", ".join(process.services)))
    if _votes(process):
        facts.append(
            (texts["fact_replacement"], texts["replacement_yes" if process.ballot_replacement else "replacement_no"])
        )
    facts_html = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in facts)
    content.append(f'<p class="intro">{_e(_title(process.description, language))}</p>')
    content.append(_what_now(language, process, now))
    content.append(f'<dl class="facts">{facts_html}</dl>')
    if process.phases:
        content.append(_phases_table(language, process, now))
    if _votes(process):
        content.append(_section("rules-heading", texts["rules_heading"], [_rules_list(language, process)]))
    if process.type == "budget":
        content.append(_projects_table(language, process))
    next_steps = []
    if _votes(process) and process.status == "open":
        next_steps.append(
            f'<a class="button-link" href="{_process_href(process.id, "/ballot")}">{_e(texts["go_ballot"])}</a>'
        )
    if process.type != "budget":
        next_steps.append(
            f'<a class="button-link" href="{_process_href(process.id, "/proposals")}">{_e(texts["go_proposals"])}</a>'
        )
    if process.status == "closed":
        next_steps.append(
            f'<a class="button-link" href="{_process_href(process.id, "/results")}">{_e(texts["go_results"])}</a>'
        )
    if next_steps:
        content.append(f'<p class="actions">{" ".join(next_steps)}</p>')
    return _page(language, _title(process.title, language), "\n".join(content))


def _rules_list(language: str, process: participation.ProcessOut) -> str:
    texts = translations()[language]
    rules = process.rules
    items = []
    if process.type == "challenge":
        # A challenge's options are proposals: no cost and no district, so only the count rules apply.
        items.append(_say(texts, "rule_text_min_choices", count=rules.min_projects))
        if rules.max_projects is not None:
            items.append(_say(texts, "rule_text_max_choices", count=rules.max_projects))
    else:
        if rules.budget_cap is not None:
            items.append(_say(texts, "rule_text_budget_cap", amount=_amount(rules.budget_cap, language)))
        items.append(_say(texts, "rule_text_min_projects", count=rules.min_projects))
        if rules.max_projects is not None:
            items.append(_say(texts, "rule_text_max_projects", count=rules.max_projects))
        if rules.min_projects_per_district is not None:
            items.append(_say(texts, "rule_text_min_per_district", count=rules.min_projects_per_district))
        if rules.max_projects_per_district is not None:
            items.append(_say(texts, "rule_text_max_per_district", count=rules.max_projects_per_district))
        if rules.max_districts is not None:
            items.append(_say(texts, "rule_text_max_districts", count=rules.max_districts))
    items.append(texts["rule_text_replacement_yes" if process.ballot_replacement else "rule_text_replacement_no"])
    return '<ul class="rules" id="rules">' + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def _projects_table(language: str, process: participation.ProcessOut) -> str:
    texts = translations()[language]
    rows = "".join(
        f'<tr><th scope="row">{_e(_title(project.title, language))}</th>'
        f"<td>{_e(project.district or texts['citywide'])}</td>"
        f'<td class="number">{_e(_amount(project.cost, language))}</td></tr>'
        for project in process.projects
    )
    return _section(
        "projects-heading",
        texts["projects_heading"],
        [
            '<div class="table-wrap" role="region" tabindex="0" aria-labelledby="projects-heading">'
            f'<table aria-labelledby="projects-heading"><thead><tr><th scope="col">{_e(texts["col_project"])}</th>'
            f'<th scope="col">{_e(texts["col_district"])}</th><th scope="col">{_e(texts["col_cost"])}</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        ],
    )


# -- proposals ------------------------------------------------------------------------------------------------------

SORTS: Final = ("supports", "newest", "random")


def _versions_list(
    language: str, proposal: participation.ProposalOut, versions: list[participation.ProposalVersionOut]
) -> str:
    """An edited proposal's earlier versions, each with its hash, the hash it follows and its notarised code."""
    earlier = [version for version in versions if version.version < proposal.version]
    if not earlier:
        return ""
    texts = translations()[language]
    items = "".join(
        f"<li>{_e(_say(texts, 'proposal_meta', version=version.version))} · {_e(version.title or '')} · "
        f'<a href="/verify/{quote(version.verification_code)}">{_e(version.verification_code)}</a>'
        f'<br><span class="small">{_e(texts["version_hash"])}: <code>{_e(version.version_hash)}</code></span></li>'
        for version in reversed(earlier)
    )
    note = _say(texts, "versions_note", hash=proposal.version_hash[:12])
    return (
        f'<details class="versions"><summary>{_e(_say(texts, "earlier_versions", count=len(earlier)))}</summary>'
        f'<p class="small">{_e(note)}</p><ol>{items}</ol></details>'
    )


def _propose_form(language: str, process: participation.ProcessOut) -> str:
    """A new proposal: the script publishes it through the API with the citizen's token."""
    texts = translations()[language]
    services = "".join(f'<option value="{_e(code)}">{_e(code)}</option>' for code in process.services)
    service_field = (
        f'<label for="propose-service">{_e(texts["propose_service"])}</label>'
        f'<select id="propose-service" name="service"><option value="">{_e(texts["filter_any"])}</option>'
        f"{services}</select>"
        if process.services
        else ""
    )
    newest = f"{_process_href(process.id, '/proposals')}?{urlencode({'lang': language, 'sort': 'newest'})}"
    return (
        f'<details class="card propose"><summary>{_e(texts["propose_heading"])}</summary>'
        f'<form id="propose" data-process="{_e(process.id)}" data-language="{language}" '
        f'data-newest="{_e(newest)}">'
        f'<label for="propose-title">{_e(texts["propose_title"])}</label>'
        '<input type="text" id="propose-title" name="title" required maxlength="300">'
        f'<label for="propose-body">{_e(texts["propose_body"])}</label>'
        f'<p class="help" id="propose-body-help">{_e(texts["propose_body_help"])}</p>'
        '<textarea id="propose-body" name="body" rows="5" required maxlength="10000" '
        'aria-describedby="propose-body-help"></textarea>'
        f"{service_field}"
        f'<p><button type="submit">{_e(texts["propose_send"])}</button></p>'
        '<p id="propose-message" role="status"></p></form></details>'
    )


def _can_support(process: participation.ProcessOut) -> bool:
    """As the API decides: while the process is open, and in its proposals phase when it has one."""
    if process.status != "open":
        return False
    return _phase_of(process, "proposals") is None or process.current_phase == "proposals"


def _supports_closed(language: str, process: participation.ProcessOut) -> str:
    texts = translations()[language]
    phase = _phase_of(process, "proposals")
    if process.status != "open" or phase is None:
        return texts["supports_closed"]
    return _say(
        texts,
        "supports_phase",
        starts=_plain_moment(phase.starts_at, language),
        ends=_plain_moment(phase.ends_at, language),
    )


def proposals_page(
    language: str,
    process: participation.ProcessOut,
    page: participation.ProposalPage,
    *,
    text: str | None,
    service: str | None,
    sort: str,
    seed: str,
    offset: int,
    limit: int,
    versions: Mapping[str, list[participation.ProposalVersionOut]] | None = None,
) -> str:
    """`/participation/processes/{id}/proposals`: search, filter by service, sort, and support; `versions`, by
    proposal id, the versions of those edited."""
    texts = translations()[language]
    content = _process_header(language, process, "/proposals")
    services = "".join(
        f'<option value="{_e(code)}"{" selected" if code == service else ""}>{_e(code)}</option>'
        for code in process.services
    )
    sorts = "".join(
        f'<option value="{name}"{" selected" if name == sort else ""}>{_e(texts[f"sort_{name}"])}</option>'
        for name in SORTS
    )
    service_filter = (
        f'<div class="field"><label for="service">{_e(texts["filter_service"])}</label>'
        f'<select id="service" name="service"><option value="">{_e(texts["filter_any"])}</option>'
        f"{services}</select></div>"
        if process.services
        else ""
    )
    content.append(
        f'<form class="search card" method="get" action="{_process_href(process.id, "/proposals")}" role="search" '
        f'aria-label="{_e(texts["search_label"])}">'
        f'<input type="hidden" name="lang" value="{language}"><input type="hidden" name="seed" value="{_e(seed)}">'
        f'<div class="field"><label for="q">{_e(texts["search_words"])}</label>'
        f'<input type="search" id="q" name="q" value="{_e(text or "")}" maxlength="200"></div>'
        f"{service_filter}"
        f'<div class="field"><label for="sort">{_e(texts["sort_label"])}</label>'
        f'<select id="sort" name="sort">{sorts}</select></div>'
        f'<div class="field"><button type="submit">{_e(texts["search_button"])}</button></div></form>'
    )
    supporting = _can_support(process)
    if not supporting:
        content.append(
            f'<p class="notice notice-warn" id="supports-closed">{_e(_supports_closed(language, process))}</p>'
        )
    else:
        content.append(_propose_form(language, process))
    content.append(f'<p id="proposals-count" role="status">{_e(_say(texts, "proposals_count", count=page.total))}</p>')
    items = []
    for proposal in page.items:
        heading_id = f"proposal-{proposal.id}"
        if proposal.hidden:
            items.append(
                f'<li class="card proposal proposal-hidden" aria-labelledby="{heading_id}">'
                f'<h2 id="{heading_id}">{_e(texts["hidden_title"])}</h2>'
                f"<p>{_e(_say(texts, 'hidden_reason', reason=proposal.hidden_reason or ''))}</p>"
                + (
                    f'<p class="muted small">{_e(texts["hidden_code"])}: '
                    f'<a href="/verify/{quote(proposal.hidden_verification_code)}">'
                    f"{_e(proposal.hidden_verification_code)}</a></p>"
                    if proposal.hidden_verification_code
                    else ""
                )
                + "</li>"
            )
            continue
        support_label = _say(texts, "support_label", title=proposal.title or "")
        of_version = _say(texts, "supports_of_version", count=proposal.supports_of_version)
        service_note = f" · {_e(texts['col_service'])}: {_e(proposal.service)}" if proposal.service else ""
        items.append(
            f'<li class="card proposal" aria-labelledby="{heading_id}" data-proposal="{_e(proposal.id)}">'
            f'<h2 id="{heading_id}">{_e(proposal.title or "")}</h2>'
            f'<p class="muted">{_e(_say(texts, "proposal_meta", version=proposal.version))} · '
            f"{_time(proposal.created_at, language)}{service_note}</p>"
            f'<p class="proposal-body">{_e(proposal.body or "")}</p>'
            f'<p class="supports"><span class="support-count" data-support-count>'
            f"{_e(_say(texts, 'supports_count', count=proposal.supports))}</span> "
            + (
                f'<span class="muted" data-version-count="{proposal.supports_of_version}">{_e(of_version)}</span> '
                if proposal.version > 1
                else ""
            )
            + (
                f'<button type="button" data-support="{_e(proposal.id)}" data-version="{_e(proposal.version_hash)}" '
                f'aria-label="{_e(support_label)}">{_e(texts["support"])}</button></p>'
                f'<p class="support-message" data-support-message role="status"></p>'
                if supporting
                else "</p>"
            )
            + f'<p class="muted small">{_e(texts["version_code"])}: '
            f'<a href="/verify/{quote(proposal.verification_code)}">{_e(proposal.verification_code)}</a></p>'
            + _versions_list(language, proposal, (versions or {}).get(proposal.id, []))
            + "</li>"
        )
    if items:
        content.append(f'<ol class="proposals">{"".join(items)}</ol>')
    pager = []
    base = {
        "lang": language,
        "sort": sort,
        "seed": seed,
        **({"q": text} if text else {}),
        **({"service": service} if service else {}),
    }
    if offset > 0:
        previous = urlencode({**base, "offset": max(0, offset - limit)})
        pager.append(f'<a href="?{_e(previous)}" rel="prev">{_e(texts["previous_page"])}</a>')
    if offset + limit < page.total:
        following = urlencode({**base, "offset": offset + limit})
        pager.append(f'<a href="?{_e(following)}" rel="next">{_e(texts["next_page"])}</a>')
    if pager:
        content.append(f'<nav class="pager" aria-label="{_e(texts["pages_label"])}">{" ".join(pager)}</nav>')
    query = {key: str(value) for key, value in base.items() if key != "lang"}
    return _page(language, texts["nav_proposals"], "\n".join(content), query=query)


# -- the budget ballot ----------------------------------------------------------------------------------------------


def _voting_closed_notice(language: str, process: participation.ProcessOut, now: datetime) -> str | None:
    """Why no ballot can be cast now, when none can: closed, no vote, or outside the voting phase."""
    texts = translations()[language]
    if not _votes(process) or process.status != "open":
        return texts["ballot_unavailable"]
    voting = _phase_of(process, "voting")
    if voting is None or voting.starts_at <= now < voting.ends_at:
        return None
    key = "voting_not_yet" if now < voting.starts_at else "voting_over"
    return _say(
        texts, key, starts=_plain_moment(voting.starts_at, language), ends=_plain_moment(voting.ends_at, language)
    )


def _voting_dates(language: str, process: participation.ProcessOut) -> str:
    voting = _phase_of(process, "voting")
    if voting is None:
        return ""
    texts = translations()[language]
    text = _say(
        texts,
        "voting_open",
        starts=_plain_moment(voting.starts_at, language),
        ends=_plain_moment(voting.ends_at, language),
    )
    return f'<p class="notice notice-ok" id="voting-dates">{_e(text)}</p>'


def _budget_choices(language: str, process: participation.ProcessOut) -> str:
    texts = translations()[language]
    districts: dict[str, list[Any]] = {}
    for project in process.projects:
        districts.setdefault(project.district or "", []).append(project)
    groups = []
    for index, district in enumerate(sorted(districts, key=lambda name: (name == "", name.lower()))):
        legend = district or texts["citywide"]
        boxes = "".join(
            f'<div class="project"><input type="checkbox" id="project-{_e(project.id)}" name="choice" '
            f'value="{_e(project.id)}" data-cost="{project.cost}" data-district="{_e(project.district or "")}" '
            f'aria-describedby="project-{_e(project.id)}-cost">'
            f'<label for="project-{_e(project.id)}">{_e(_title(project.title, language))}</label>'
            f'<span class="cost" id="project-{_e(project.id)}-cost">{_e(_amount(project.cost, language))}</span></div>'
            for project in districts[district]
        )
        groups.append(
            f'<fieldset class="district" id="district-{index}"><legend>{_e(legend)}</legend>{boxes}</fieldset>'
        )
    return "".join(groups)


def _challenge_choices(language: str, options: list[participation.OptionLabel]) -> str:
    texts = translations()[language]
    boxes = "".join(
        f'<div class="project"><input type="checkbox" id="option-{index}" name="choice" '
        f'value="{_e(option.version_hash)}" '
        f'aria-describedby="option-{index}-version">'
        f'<label for="option-{index}">{_e(option.title or "")}</label>'
        f'<span class="cost" id="option-{index}-version">{_e(_say(texts, "proposal_meta", version=option.version))}'
        f"</span></div>"
        for index, option in enumerate(options)
    )
    if not boxes:
        return f'<p role="status">{_e(texts["no_options"])}</p>'
    return f'<fieldset class="district" id="options"><legend>{_e(texts["options_legend"])}</legend>{boxes}</fieldset>'


def ballot_page(
    language: str,
    process: participation.ProcessOut,
    now: datetime,
    options: list[participation.OptionLabel] | None = None,
) -> str:
    """`/participation/processes/{id}/ballot`: choose projects (a budget) or proposals (a challenge), with the
    running total and the rules checked as you go; the script casts the ballot with the citizen's token and shows
    the receipt. Outside the voting phase, when it opens or when it closed."""
    texts = translations()[language]
    content = _process_header(language, process, "/ballot")
    closed = _voting_closed_notice(language, process, now)
    if closed is not None:
        content.append(f'<p class="notice notice-warn" role="status" id="ballot-unavailable">{_e(closed)}</p>')
        if process.phases:
            content.append(_phases_table(language, process, now))
        return _page(language, texts["nav_ballot"], "\n".join(content))
    content.append(_voting_dates(language, process))
    content.append(_section("rules-heading", texts["rules_heading"], [_rules_list(language, process)]))
    if process.type == "challenge":
        current = [option for option in options or [] if option.current and not option.hidden]
        choices, nothing_chosen = _challenge_choices(language, current), _say(texts, "total_label_challenge", count=0)
    else:
        choices = _budget_choices(language, process)
        nothing_chosen = _say(texts, "total_label", total=_amount(0, language), count=0)
    rules = process.rules.model_dump(mode="json")
    content.append(
        f'<form id="ballot" class="ballot" data-process="{_e(process.id)}" data-kind="{process.type}" '
        f'data-check-url="{_process_href(process.id, "/check")}?{urlencode({"lang": language})}" novalidate>'
        f'<script type="application/json" id="ballot-rules">{pages.json_for_script(rules)}</script>'
        + choices
        + '<div class="ballot-summary card" id="ballot-summary">'
        f'<p class="total" id="ballot-total" aria-live="polite">{_e(nothing_chosen)}</p>'
        f'<ul class="problems" id="ballot-problems" aria-live="polite"></ul>'
        f'<p><button type="submit" id="cast">{_e(texts["cast"])}</button></p>'
        f'<div id="ballot-message" role="status"></div>'
        "</div></form>"
    )
    content.append(
        '<section id="receipt" class="card receipt" hidden tabindex="-1" aria-labelledby="receipt-heading">'
        f'<h2 id="receipt-heading">{_e(texts["receipt_heading"])}</h2></section>'
    )
    return _page(language, texts["nav_ballot"], "\n".join(content))


# -- check my ballot --------------------------------------------------------------------------------------------------


def option_names(
    language: str, process: participation.ProcessOut, options: list[participation.OptionLabel] | None
) -> dict[str, str]:
    """What each option of a ballot is called, by its id: a project's title, a proposal version's title (with its
    version when the proposal has several)."""
    texts = translations()[language]
    if process.type != "challenge":
        return {project.id: _title(project.title, language) for project in process.projects}
    versions: dict[str, int] = {}
    for option in options or []:
        versions[option.proposal] = versions.get(option.proposal, 0) + 1
    names = {}
    for option in options or []:
        name = texts["hidden_title"] if option.hidden or option.title is None else option.title
        if versions[option.proposal] > 1:
            name = f"{name} ({_say(texts, 'proposal_meta', version=option.version)})"
        names[option.version_hash] = name
    return names


def check_page(
    language: str,
    process: participation.ProcessOut,
    receipt: str | None,
    problem: str | None,
    names: Mapping[str, str],
) -> str:
    """`/participation/processes/{id}/check?receipt=...`: is my ballot among the published ones? The browser
    checks it (`static/participation.js`): the ballot's record hashes to the receipt, its proof leads to the
    ballots' root, that root's notarisation leads to a batch root, and the chain holds that batch root."""
    texts = translations()[language]
    content = _process_header(language, process, "/check")
    content.append(f'<p class="intro">{_e(texts["check_intro"])}</p>')
    invalid = ' aria-invalid="true"' if problem == "check_malformed" else ""
    content.append(
        f'<form class="card" method="get" action="{_process_href(process.id, "/check")}" id="check-form" '
        f'data-process="{_e(process.id)}">'
        f'<input type="hidden" name="lang" value="{language}">'
        f'<label for="receipt-input">{_e(texts["check_label"])}</label>'
        f'<p class="help" id="receipt-help">{_e(texts["check_help"])}</p>'
        f'<input type="text" id="receipt-input" name="receipt" value="{_e(receipt or "")}" maxlength="64" '
        f'autocomplete="off" spellcheck="false" aria-describedby="receipt-help"{invalid}>'
        f'<p><button type="submit">{_e(texts["check_button"])}</button></p></form>'
    )
    if problem is not None:
        tone = "warn" if problem == "check_not_closed" else "bad"
        content.append(
            f'<div class="notice notice-{tone}" role="alert" id="check-result"><p>{_e(texts[problem])}</p></div>'
        )
    elif receipt is not None:
        content.append(
            f'<section class="card check" id="check-result" aria-labelledby="check-heading" aria-live="polite" '
            f'data-receipt="{_e(receipt)}" data-process="{_e(process.id)}" '
            f'data-administration="{_e(process.administration)}" data-state="progress">'
            f'<h2 id="check-heading">{_e(texts["verify_progress"])}</h2>'
            f"<noscript><p>{_e(texts['verify_noscript'])}</p></noscript></section>"
            f'<script type="application/json" id="option-names">{pages.json_for_script(dict(names))}</script>'
        )
    content.append(
        f'<p class="help">{_e(texts["verify_what_not"])} <code>segell tally verify {_e(process.id)}</code></p>'
    )
    query = {"receipt": receipt} if receipt else {}
    return _page(language, texts["nav_check"], "\n".join(content), query=query)


# -- results --------------------------------------------------------------------------------------------------------


def results_page(
    language: str, process: participation.ProcessOut, options: list[participation.OptionLabel] | None = None
) -> str:
    """`/participation/processes/{id}/results`: the result computed from the published ballots, as a chart and a
    table, with where to download both and recount them."""
    texts = translations()[language]
    content = _process_header(language, process, "/results")
    tally = process.tally
    if tally is None:
        content.append(f'<p role="status">{_e(texts["results_not_yet"])}</p>')
        return _page(language, texts["nav_results"], "\n".join(content))
    names = option_names(language, process, options)
    costs = {project.id: project.cost for project in process.projects}
    entries = list(tally.tally)
    if process.type == "challenge":
        # Every version of every proposal is an option of the published result; a version no ballot could choose
        # any more (edited, or hidden) and that got no vote says nothing to a citizen.
        shown = {option.version_hash for option in options or [] if option.current and not option.hidden}
        entries = [entry for entry in entries if entry.option in shown or entry.votes > 0]
    labels = [names.get(entry.option, entry.option[:12]) for entry in entries]
    chart_data = {
        "labels": labels,
        "votes": [entry.votes for entry in entries],
        "funded": [bool(entry.funded) for entry in entries],
        "label": texts["chart_votes"],
    }
    head = [texts["col_proposal" if process.type == "challenge" else "col_project"], texts["col_votes"]]
    if process.type == "budget":
        head += [texts["col_cost"], texts["col_funded"]]
    head_html = "".join(f'<th scope="col">{_e(text)}</th>' for text in head)
    body = []
    for entry, label in zip(entries, labels, strict=True):
        cells = [f'<td class="number">{_e(portal.format_number(entry.votes, language))}</td>']
        if process.type == "budget":
            cells.append(f'<td class="number">{_e(_amount(costs.get(entry.option, 0), language))}</td>')
            cells.append(f"<td>{_e(texts['yes'] if entry.funded else texts['no'])}</td>")
        funded = ' data-funded="true"' if entry.funded else ""
        body.append(
            f'<tr data-option="{_e(entry.option)}"{funded}><th scope="row">{_e(label)}</th>{"".join(cells)}</tr>'
        )
    caption_id = "results-caption"
    suffix = "_challenge" if process.type == "challenge" else ""
    content.append(
        _section(
            "results-heading",
            texts["results_heading"],
            [
                f"<p>{_e(_say(texts, 'results_intro', count=portal.format_number(tally.ballots_count, language)))}</p>",
                f'<figure class="chart" aria-labelledby="{caption_id}"><figcaption id="{caption_id}">'
                f"{_e(texts[f'results_caption{suffix}'])}</figcaption>"
                f'<div class="chart-box"><canvas id="results-chart" role="img" '
                f'aria-label="{_e(texts[f"results_chart_label{suffix}"])}" '
                f'data-votes-chart="results-chart-data"></canvas></div>'
                f'<script type="application/json" id="results-chart-data">{pages.json_for_script(chart_data)}</script>'
                f'<div class="table-wrap" role="region" tabindex="0" aria-labelledby="{caption_id}">'
                f'<table class="figures" id="results-table" aria-labelledby="{caption_id}">'
                f"<thead><tr>{head_html}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table></div></figure>",
            ],
        )
    )
    proof = [
        (texts["check_root"], f"<code>{_e(tally.ballots_root)}</code>"),
        (
            texts["results_ballots_code"],
            f'<a href="/verify/{quote(tally.ballots_receipt.verification_code)}">'
            f"{_e(tally.ballots_receipt.verification_code)}</a>",
        ),
        (
            texts["results_result_code"],
            f'<a href="/verify/{quote(tally.result_receipt.verification_code)}">'
            f"{_e(tally.result_receipt.verification_code)}</a>",
        ),
        (
            texts["results_downloads"],
            f'<a href="{_e(tally.ballots_url)}">ballots.json</a> · <a href="{_e(tally.result_url)}">result.json</a>',
        ),
    ]
    content.append(
        _section(
            "recount-heading",
            texts["recount_heading"],
            [
                f"<p>{_e(texts['recount_intro'])}</p>",
                '<dl class="facts">'
                + "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in proof)
                + "</dl>",
                f"<p><code>segell tally verify {_e(process.id)}</code></p>",
            ],
        )
    )
    return _page(language, texts["nav_results"], "\n".join(content))


def not_found_page(language: str) -> str:
    texts = translations()[language]
    content = (
        f'<p class="back"><a href="/participation">{_e(texts["back"])}</a></p>'
        f"<h1>{_e(texts['not_found_heading'])}</h1><p>{_e(texts['not_found_text'])}</p>"
    )
    return _page(language, texts["not_found_heading"], content)
