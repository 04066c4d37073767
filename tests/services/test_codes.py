"""Verification codes: every single mistyped character and every swap of neighbours is caught."""

import math
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segell.services.notary.codes import (
    BITS,
    CHECK_SYMBOLS,
    DATA_LENGTH,
    SYMBOLS,
    InvalidCodeError,
    format_code,
    generate_code,
    generate_codes,
    is_valid_code,
    parse_code,
)

FORMATTED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z*~$=U]$")


def codes_from_bits() -> st.SearchStrategy[str]:
    """Codes built from arbitrary 80-bit values, so edge values (all zeros, all ones) are covered too."""

    def code_of(value: int) -> str:
        data = "".join(SYMBOLS[(value >> (5 * (DATA_LENGTH - 1 - i))) & 31] for i in range(DATA_LENGTH))
        return data + CHECK_SYMBOLS[value % 37]

    return st.integers(min_value=0, max_value=2**BITS - 1).map(code_of)


def test_codes_carry_at_least_80_random_bits() -> None:
    assert BITS >= 80
    assert len(SYMBOLS) == 32 and DATA_LENGTH * math.log2(len(SYMBOLS)) >= 80
    codes = generate_codes(20_000)
    assert len(set(codes)) == len(codes)
    # Every symbol position is uniform over the 32 symbols: each appears about 20000/32 = 625 times.
    for position in (0, 7, 15):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set(SYMBOLS)
        assert all(500 < count < 750 for count in counts.values()), counts


def test_generated_codes_are_valid_and_formatted() -> None:
    for code in generate_codes(1000) + [generate_code()]:
        assert len(code) == 17
        assert FORMATTED.fullmatch(format_code(code))
        assert parse_code(format_code(code)) == code
        assert is_valid_code(code)


@settings(max_examples=300, deadline=None)
@given(codes_from_bits())
def test_every_single_substitution_is_detected(code: str) -> None:
    assert parse_code(code) == code
    for position, symbol in enumerate(code):
        alphabet = SYMBOLS if position < DATA_LENGTH else CHECK_SYMBOLS
        for other in alphabet:
            if other == symbol:
                continue
            typo = code[:position] + other + code[position + 1 :]
            with pytest.raises(InvalidCodeError) as raised:
                parse_code(typo)
            assert raised.value.mistyped, typo


@settings(max_examples=300, deadline=None)
@given(codes_from_bits())
def test_every_adjacent_transposition_is_detected(code: str) -> None:
    for position in range(len(code) - 1):
        a, b = code[position], code[position + 1]
        if a == b:
            continue
        swapped = code[:position] + b + a + code[position + 2 :]
        with pytest.raises(InvalidCodeError) as raised:
            parse_code(swapped)
        # Only a check-only symbol (* ~ $ = U) moved into the data is refused as malformed rather than mistyped.
        assert raised.value.mistyped or b not in SYMBOLS
        # Also when typed with the separators, where the last two symbols straddle one.
        with pytest.raises(InvalidCodeError):
            parse_code(format_code(swapped))


def test_normalisation_ignores_case_spaces_and_hyphens_and_reads_look_alikes() -> None:
    code = "01L1O0ABCDEFGHJK"
    data = code.replace("L", "1").replace("O", "0")
    stored = data + _check(data)
    typed = [
        format_code(stored),
        format_code(stored).lower(),
        stored,
        " ".join(stored[i : i + 4] for i in range(0, 17, 4)),
        "01L1-O0AB-CDEF-GHJK-" + stored[-1],  # L read as 1, O as 0
        "0Il1-o0ab-cdef-ghjk " + stored[-1].lower(),  # I and l read as 1
        "--" + stored + "--",
    ]
    for text in typed:
        assert parse_code(text) == stored, text


def _check(data: str) -> str:
    return CHECK_SYMBOLS[int("".join(f"{SYMBOLS.index(s):05b}" for s in data), 2) % 37]


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "17 characters"),
        ("ABCD-EFGH-JKMN-PQRS", "17 characters"),
        ("ABCD-EFGH-JKMN-PQRS-TT", "17 characters"),
        ("ABCD-EFGH-JKMN-PQRU-0", "no 'U'"),
        ("ABCD-EFGH-JKMN-PQR*-0", "no '*'"),
        ("ABCD-EFGH-JKMN-PQRS-!", "no '!'"),
    ],
)
def test_malformed_codes_are_refused_but_not_as_mistyped(typed: str, problem: str) -> None:
    with pytest.raises(InvalidCodeError, match=re.escape(problem)) as raised:
        parse_code(typed)
    assert not raised.value.mistyped


def test_mistyped_code_message_says_a_character_is_mistyped() -> None:
    code = generate_code()
    typo = ("1" if code[3] != "1" else "2").join([code[:3], code[4:]])
    with pytest.raises(InvalidCodeError, match="mistyped") as raised:
        parse_code(typo)
    assert raised.value.mistyped


def test_check_symbols_cover_all_37_values() -> None:
    assert len(CHECK_SYMBOLS) == 37 and len(set(CHECK_SYMBOLS)) == 37
    seen = {generate_code()[-1] for _ in range(3000)}
    assert seen <= set(CHECK_SYMBOLS)
    assert len(seen) > 30
