"""File names made from titles, uploaded names and verification codes: safe to save under anywhere."""

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segell.services.file_names import MAX_FILE_NAME_BYTES, content_disposition, safe_file_name

# Characters no name of ours may carry: path separators, Windows' reserved ones, shell-awkward ones, controls and
# bidirectional formatting characters (which can make "fdp.exe" read as "exe.pdf").
UNSAFE = set('/\\:*?"<>|$~=`&;!#%{}[]@^') | {chr(c) for c in range(32)} | {"\x7f", "\u202e", "\u2066", "\u200f"}
RESERVED_ON_WINDOWS = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))}


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Certificat de residència.pdf", "Certificat de residència.pdf"),
        ("Decret 4/2026: text*.pdf", "Decret 4-2026- text.pdf"),
        ("../../etc/passwd", "etc-passwd"),
        ("C:\\Users\\joana\\acta.pdf", "C-Users-joana-acta.pdf"),
        ("ABCD-EFGH-JKMN-PQRS-*.segell.json", "ABCD-EFGH-JKMN-PQRS.segell.json"),
        ("ABCD-EFGH-JKMN-PQRS-$.pdf", "ABCD-EFGH-JKMN-PQRS.pdf"),
        ("ABCD-EFGH-JKMN-PQRS-7.segell.json", "ABCD-EFGH-JKMN-PQRS-7.segell.json"),
        (".bashrc", "bashrc"),
        ("acta.pdf.", "acta.pdf"),
        ("\u202eevil\u202dfdp.exe", "evil-fdp.exe"),
        ("CON.txt", "CON-file.txt"),
        ("lpt1", "lpt1-file"),
        ("x\x00y\ttab.pdf", "x-y-tab.pdf"),
        ("résumé   (1).PDF", "résumé (1).PDF"),
        ("Αίτηση.pdf", "Αίτηση.pdf"),
        ("Llicència d'obres.pdf", "Llicència d'obres.pdf"),
    ],
)
def test_unsafe_characters_become_hyphens_and_names_stay_readable(name: str, safe: str) -> None:
    assert safe_file_name(name) == safe


@pytest.mark.parametrize("name", ["", "   ", "..", "~$=*", "/", "\u202e"])
def test_nothing_left_falls_back(name: str) -> None:
    assert safe_file_name(name) == "document"
    assert safe_file_name(name, fallback="ABCD-EFGH-JKMN-PQRS-*") == "ABCD-EFGH-JKMN-PQRS"


def test_long_names_keep_their_extension_within_the_limit() -> None:
    safe = safe_file_name("à" * 300 + ".pdf")
    assert safe.endswith(".pdf") and len(safe.encode()) <= MAX_FILE_NAME_BYTES
    assert safe.startswith("àààà")
    no_extension = safe_file_name("b" * 500)
    assert no_extension == "b" * MAX_FILE_NAME_BYTES


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=250))
def test_any_name_is_made_safe(name: str) -> None:
    safe = safe_file_name(name)
    assert safe and not (set(safe) & UNSAFE)
    assert not safe.startswith((".", " ", "-")) and not safe.endswith((".", " "))
    assert len(safe.encode()) <= MAX_FILE_NAME_BYTES
    assert safe.partition(".")[0].upper() not in RESERVED_ON_WINDOWS
    # Written where it is asked to be, never elsewhere.
    assert Path("/tmp/downloads", safe).parent == Path("/tmp/downloads")
    assert safe_file_name(safe) == safe


def test_content_disposition_names_the_file_in_utf_8_and_in_ascii() -> None:
    assert content_disposition("Resolució 2026/7: llicència*.pdf") == (
        'attachment; filename="Resolucio 2026-7- llicencia.pdf"; '
        "filename*=UTF-8''Resoluci%C3%B3%202026-7-%20llic%C3%A8ncia.pdf"
    )
    greek = content_disposition("Αίτηση.pdf")
    assert greek.startswith("attachment; filename=\"document.pdf\"; filename*=UTF-8''%CE%91")
    header = content_disposition('a"b\\c\r\nSet-Cookie: x=1')
    assert "\r" not in header and "\n" not in header and header.count('"') == 2
    assert all(character in string.printable for character in header)
