"""The languages Segell speaks to people: Catalan (the default), Spanish and English.

Everything a citizen reads (the verification page, the SMS with a one-time code) is in one of them.
"""

from typing import Final, Literal, get_args

Language = Literal["ca", "es", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "ca"
# Each language's own name, as a choice of language shows it.
LANGUAGE_NAMES: Final[dict[Language, str]] = {"ca": "Català", "es": "Español", "en": "English"}

# Past this many entries an Accept-Language header is not read further: browsers send a handful.
_MAX_ACCEPTED = 32


def parse_accept_language(header: str | None) -> Language | None:
    """The language of ours an `Accept-Language` header (RFC 9110 §12.5.4) prefers, or None when it names none.

    Tags are weighed by their `q` (1 when absent; 0 means "not this one"), ties in the order given; a tag counts by
    its primary subtag (`es-ES` is `es`); `*` stands for any language, so for the default one.
    """
    if not header:
        return None
    weighed: list[tuple[float, int, str]] = []
    for position, entry in enumerate(header.split(",")[:_MAX_ACCEPTED]):
        tag, *parameters = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if not tag or not 0 < quality <= 1:
            continue
        weighed.append((-quality, position, tag.split("-", 1)[0].lower()))
    for _, _, primary in sorted(weighed):
        if primary == "*":
            return DEFAULT_LANGUAGE
        if primary in LANGUAGES:
            return primary
    return None
