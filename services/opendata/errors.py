"""The catalogue's refusals, as CKAN's Action API names them (``error.__type``) and answers them:

ActionFailed
├── BadRequest (400)          "Bad request": a body that is not a JSON object, an unknown action
├── SearchQueryError (400)    "Search Query Error": a `q`, `fq` or `sort` package_search cannot read
├── AuthorizationError (403)  "Authorization Error": no valid key, or not the caller's dataset
├── NotFoundError (404)       "Not Found Error"
├── ValidationError (409)     "Validation Error": each field with its messages
└── UploadTooLarge (413)      "Validation Error" on `upload`: the file is larger than the catalogue takes
"""


class ActionFailed(Exception):
    status_code = 500
    error_type = "Internal Error"

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(
            message or "; ".join(f"{field}: {' '.join(messages)}" for field, messages in (fields or {}).items())
        )
        self.message = message
        self.fields = fields or {}

    def error(self) -> dict[str, object]:
        body: dict[str, object] = {"__type": self.error_type}
        if self.message is not None:
            body["message"] = self.message
        body.update(self.fields)
        return body


class BadRequest(ActionFailed):
    status_code, error_type = 400, "Bad request"


class SearchQueryError(ActionFailed):
    status_code, error_type = 400, "Search Query Error"


class AuthorizationError(ActionFailed):
    status_code, error_type = 403, "Authorization Error"


class NotFoundError(ActionFailed):
    status_code, error_type = 404, "Not Found Error"


class ValidationError(ActionFailed):
    status_code, error_type = 409, "Validation Error"


class UploadTooLarge(ActionFailed):
    status_code, error_type = 413, "Validation Error"
