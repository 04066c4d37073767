"""File names made from what people typed (titles, uploaded file names) or from verification codes, safe to save
under on any common system and to send in a ``Content-Disposition`` header.

`safe_file_name` keeps letters and digits of any script, ``. _ - ( ) , +``, apostrophes (``d'obres``) and spaces;
anything else (path
separators, control and formatting characters, ``* ? : " < > | $ ~ =`` and the like) becomes a hyphen, so a name
never leads out of the folder it is saved in. It never starts with a dot (no hidden files, no ``..``), never ends
with a dot or a space (Windows drops them), avoids the device names Windows reserves (``CON``, ``NUL``, ``COM1``,
...) and stays within `MAX_FILE_NAME_BYTES` in UTF-8, keeping the extension::

    >>> safe_file_name("../Decret 4/2026: text*.pdf")
    'Decret 4-2026- text.pdf'
    >>> safe_file_name("ABCD-EFGH-JKMN-PQRS-*.segell.json")
    'ABCD-EFGH-JKMN-PQRS.segell.json'
"""

import re
import unicodedata
from typing import Final
from urllib.parse import quote

__all__ = ["MAX_FILE_NAME_BYTES", "content_disposition", "safe_file_name"]

# Most file systems allow 255 bytes; what is left is room for a browser's " (1)" or a tool's suffix.
MAX_FILE_NAME_BYTES: Final = 200
_KEPT_PUNCTUATION: Final = frozenset("._-(),+'\u2019")
_RESERVED_ON_WINDOWS: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))}
)
_REPEATED_HYPHENS: Final = re.compile(r"-{2,}")
_SPACES: Final = re.compile(r" {2,}")
# Separators next to a dot only blur the extension: "CODE-.segell.json" reads as "CODE.segell.json".
_SEPARATORS_AROUND_DOT: Final = re.compile(r"[ _-]*\.[ _-]*")
_REPEATED_DOTS: Final = re.compile(r"\.{2,}")
_LONGEST_EXTENSION: Final = 16


def _kept(character: str) -> str:
    category = unicodedata.category(character)
    if category[0] in "LNM" or character in _KEPT_PUNCTUATION:
        return character
    if category == "Zs":
        return " "
    return "-"


def _within(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


def _cleaned(name: str) -> str:
    """`name` made safe; empty when nothing of it is left."""
    text = "".join(_kept(character) for character in unicodedata.normalize("NFC", name))
    text = _SPACES.sub(" ", _REPEATED_HYPHENS.sub("-", text))
    text = _REPEATED_DOTS.sub(".", _SEPARATORS_AROUND_DOT.sub(".", text)).strip(" .-_")
    if not text:
        return ""
    stem, dot, extension = text.partition(".")
    if stem.upper() in _RESERVED_ON_WINDOWS:
        text = f"{stem}-file{dot}{extension}"
    if len(text.encode()) > MAX_FILE_NAME_BYTES:
        stem, dot, extension = text.rpartition(".")
        if not dot or len(extension) > _LONGEST_EXTENSION:
            stem, dot, extension = text, "", ""
        stem = _within(stem, MAX_FILE_NAME_BYTES - len(dot) - len(extension.encode())).rstrip(" .-_")
        text = f"{stem}{dot}{extension}"
    return text


def safe_file_name(name: str, *, fallback: str = "document") -> str:
    """`name` as a file name safe everywhere; `fallback` (made safe the same way) when nothing of it is left."""
    return _cleaned(name) or _cleaned(fallback) or "document"


def content_disposition(name: str, *, fallback: str = "document") -> str:
    """``attachment`` with `name` made safe: as ``filename*`` (UTF-8) and, for older clients, an ASCII ``filename``."""
    safe = safe_file_name(name, fallback=fallback)
    stem, dot, extension = safe.rpartition(".") if "." in safe else (safe, "", "")
    # Letters without their accents; a stem with nothing left in ASCII becomes the fallback's.
    ascii_stem, ascii_extension = (
        _cleaned(unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode()) for part in (stem, extension)
    )
    ascii_stem = ascii_stem or _cleaned(fallback) or "document"
    ascii_safe = f"{ascii_stem}.{ascii_extension}" if ascii_extension else ascii_stem
    return f"attachment; filename=\"{ascii_safe}\"; filename*=UTF-8''{quote(safe, safe='')}"
