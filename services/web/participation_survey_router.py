"""The after-transaction survey's page (left out of the API schema, like the other pages): a plain HTML form, which
works without JavaScript; its single-use link is its only credential."""

import re
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from segell.services.deps import RuntimeDep, SessionDep
from segell.services.errors import Conflict, Gone, NotFound
from segell.services.languages import Language
from segell.services.participation import api as participation
from segell.services.web import pages
from segell.services.web import participation_pages as render

site = APIRouter(include_in_schema=False)

LanguageQuery = Annotated[str | None, Query(alias="lang", max_length=8)]
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def _survey_language(request: Request, requested: str | None, view: participation.SurveyView) -> Language:
    # The language the citizen completed the procedure in, unless they chose another here.
    remembered = request.cookies.get(pages.LANGUAGE_COOKIE)
    return pages.choose_language(requested, view.language or remembered, request.headers.get("accept-language"))


def _view(session: Session, token: str) -> participation.SurveyView | None:
    if not _TOKEN.fullmatch(token):
        return None
    try:
        return participation.survey_view(session, token)
    except NotFound:
        return None


@site.get("/participation/survey/{token}", response_class=HTMLResponse)
def survey_page(
    request: Request, token: Annotated[str, Path(max_length=64)], session: SessionDep, lang: LanguageQuery = None
) -> HTMLResponse:
    """The survey a single-use link leads to."""
    view = _view(session, token)
    if view is None:
        language = pages.request_language(request, lang)
        return pages.html_page(request, lang, language, render.survey_not_found_page(language), status_code=404)
    language = _survey_language(request, lang, view)
    return pages.html_page(request, lang, language, render.survey_page(language, token, view))


@site.post("/participation/survey/{token}", response_class=HTMLResponse)
def answer_survey_page(
    request: Request,
    token: Annotated[str, Path(max_length=64)],
    runtime: RuntimeDep,
    rating: Annotated[str, Form(max_length=8)] = "",
    idea: Annotated[str, Form(max_length=4000)] = "",
    lang: LanguageQuery = None,
) -> HTMLResponse:
    """The survey's form, sent: the answer recorded (once per link), or the form again saying what is missing."""
    with runtime.transaction() as session:
        view = _view(session, token)
    if view is None:
        language = pages.request_language(request, lang)
        return pages.html_page(request, lang, language, render.survey_not_found_page(language), status_code=404)
    language = _survey_language(request, lang, view)
    try:
        answer = participation.SurveyAnswer(rating=int(rating) if rating.isdigit() else 0, idea=idea or None)
    except ValidationError as error:
        problem = "survey_idea_too_long" if any(e["loc"] == ("idea",) for e in error.errors()) else "survey_no_rating"
        body = render.survey_page(language, token, view, problem=problem)
        return pages.html_page(request, lang, language, body, status_code=422)
    try:
        with runtime.transaction() as session:
            answered = participation.answer_survey(session, runtime.master_key, token, answer)
    except (Conflict, Gone):
        with runtime.transaction() as session:
            view = participation.survey_view(session, token)
        return pages.html_page(request, lang, language, render.survey_page(language, token, view), status_code=409)
    return pages.html_page(request, lang, language, render.survey_page(language, token, view, answered=answered), 201)


router = site
