"""What the other domains may use of the participation domain (`tests/services/test_domain_boundaries.py` holds
them to it): the survey page's reads and answer (`survey_view`, `answer_survey`, with their schemas)."""

from segell.services.participation.survey_schemas import SurveyAnswer, SurveyAnswerOut, SurveyView
from segell.services.participation.survey_service import answer_survey, survey_view

__all__ = ["SurveyAnswer", "SurveyAnswerOut", "SurveyView", "answer_survey", "survey_view"]
