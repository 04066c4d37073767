"""Verification codes: the check symbol comes from the code's own alphabet, every single mistyped character and
every swap of neighbours is caught, and codes issued with the legacy check are still read."""

import math
import re
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segell.services.notary.codes import (
    BITS,
    DATA_LENGTH,
    LEGACY_CHECK_SYMBOLS,
    SYMBOLS,
    InvalidCodeError,
    check_symbol,
    format_code,
    generate_code,
    generate_codes,
    is_legacy,
    is_valid_code,
    new_code_array,
    parse_code,
)

FORMATTED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z]$")


def data_of(value: int) -> str:
    return "".join(SYMBOLS[(value >> (5 * (DATA_LENGTH - 1 - i))) & 31] for i in range(DATA_LENGTH))


def legacy_check(data: str) -> str:
    """The check symbol codes were issued with before: the 80 bits modulo 37."""
    return LEGACY_CHECK_SYMBOLS[int("".join(f"{SYMBOLS.index(s):05b}" for s in data), 2) % 37]


def codes_from_bits() -> st.SearchStrategy[str]:
    """Codes built from arbitrary 80-bit values, so edge values (all zeros, all ones) are covered too."""
    return st.integers(min_value=0, max_value=2**BITS - 1).map(data_of).map(lambda data: data + check_symbol(data))


def caught(typo: str) -> bool:
    """Whether a typo of a new code is refused as mistyped, or left to the lookup to refuse: a code only the legacy
    check takes that no document holds is answered `invalid_code` (`services.notary.service.check_unknown_code`)."""
    try:
        stored = parse_code(typo)
    except InvalidCodeError as exc:
        return exc.mistyped
    return is_legacy(stored)


def _codes_of_array(count: int) -> list[str]:
    """`new_code_array`'s codes (those of a bulk request) as strings."""
    text = new_code_array(count).tobytes().decode()
    return [text[17 * i : 17 * (i + 1)] for i in range(count)]


# Codes one at a time and codes of a bulk request, computed apart: both must have the same properties.
GENERATORS = pytest.mark.parametrize("generate", [generate_codes, _codes_of_array], ids=["one_by_one", "array"])


@GENERATORS
def test_codes_carry_at_least_80_random_bits(generate: Callable[[int], list[str]]) -> None:
    assert BITS >= 80
    assert len(SYMBOLS) == 32 and DATA_LENGTH * math.log2(len(SYMBOLS)) >= 80
    codes = generate(20_000)
    assert len(set(codes)) == len(codes)
    # Every symbol position is uniform over the 32 symbols: each appears about 20000/32 = 625 times.
    for position in (0, 7, 15):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set(SYMBOLS)
        assert all(500 < count < 750 for count in counts.values()), counts


@GENERATORS
def test_check_symbols_are_the_codes_own_symbols_and_uniform(generate: Callable[[int], list[str]]) -> None:
    # Not one of * ~ $ = U, which 98 codes in 1,000 ended in: awkward on a phone, in a URL and in a file name.
    checks = Counter(code[-1] for code in generate(20_000))
    assert set(checks) == set(SYMBOLS)
    assert all(500 < count < 750 for count in checks.values()), checks


@GENERATORS
def test_generated_codes_are_valid_and_formatted(generate: Callable[[int], list[str]]) -> None:
    for code in generate(1000) + [generate_code()]:
        assert len(code) == 17
        assert FORMATTED.fullmatch(format_code(code))
        assert parse_code(format_code(code)) == code
        assert is_valid_code(code) and not is_legacy(code)


def test_check_of_known_values() -> None:
    # The weighted sum over GF(2^5) with x^5 + x^2 + 1: all zeros check as 0; a single 1 in the last data place
    # weighs α, which is 2; in the first, α^16 = x^16 mod (x^5 + x^2 + 1) = x^4 + x^3 + x + 1, which is 27 ("V").
    assert check_symbol("0" * 16) == "0"
    assert check_symbol("0" * 15 + "1") == "2"
    assert check_symbol("1" + "0" * 15) == SYMBOLS[0b11011]


@settings(max_examples=200, deadline=None)
@given(codes_from_bits())
def test_every_single_substitution_is_caught(code: str) -> None:
    assert parse_code(code) == code
    for position, symbol in enumerate(code):
        for other in SYMBOLS:
            if other != symbol:
                typo = code[:position] + other + code[position + 1 :]
                assert caught(typo), typo


@settings(max_examples=300, deadline=None)
@given(codes_from_bits())
def test_every_adjacent_and_jump_transposition_is_caught(code: str) -> None:
    for position in range(len(code) - 1):
        a, b = code[position], code[position + 1]
        if a != b:
            assert caught(code[:position] + b + a + code[position + 2 :])
            # Also when typed with the separators, where the last two symbols straddle one.
            assert caught(format_code(code[:position] + b + a + code[position + 2 :]))
    for position in range(len(code) - 2):
        a, b = code[position], code[position + 2]
        if a != b:
            assert caught(code[:position] + b + code[position + 1] + a + code[position + 3 :])


def test_every_twin_error_is_caught() -> None:
    # "aa" typed as "bb", in the data and at the check symbol.
    for data in generate_codes(60):
        for position in (0, 7, 15):
            twin = data[:position] + data[position] * 2 + data[position + 2 :]
            code = twin[:16] + check_symbol(twin[:16])
            if code[position] != code[position + 1]:
                continue
            for other in SYMBOLS:
                if other != code[position]:
                    assert caught(code[:position] + other * 2 + code[position + 2 :])


def test_codes_issued_with_the_legacy_check_are_still_read() -> None:
    seen = set()
    for value in [0, 2**BITS - 1, *range(1, 2**BITS, 2**BITS // 4000)]:
        data = data_of(value)
        legacy = data + legacy_check(data)
        assert parse_code(format_code(legacy)) == legacy
        seen.add(legacy[-1])
        assert is_legacy(legacy) == (legacy_check(data) != check_symbol(data))
    # Among them the five legacy check symbols no new code ends in.
    assert set("*~$=U") <= seen


def test_normalisation_ignores_case_spaces_and_hyphens_and_reads_look_alikes() -> None:
    code = "01L1O0ABCDEFGHJK"
    data = code.replace("L", "1").replace("O", "0")
    stored = data + check_symbol(data)
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


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "17 characters"),
        ("ABCD-EFGH-JKMN-PQRS", "17 characters"),
        ("ABCD-EFGH-JKMN-PQRS-TT", "17 characters"),
        ("ABCD-EFGH-JKMN-PQRU-0", "no 'U'"),
        ("ABCD-EFGH-JKMN-PQR*-0", "no '*'"),
        ("ABCD-EFGH-JKMN-PQRS-!", "no '!'"),
        ("ABCD-EFGH-JKMN-PQRS-ß", "no 'ß'"),
    ],
)
def test_malformed_codes_are_refused_but_not_as_mistyped(typed: str, problem: str) -> None:
    with pytest.raises(InvalidCodeError, match=re.escape(problem)) as raised:
        parse_code(typed)
    assert not raised.value.mistyped


def test_mistyped_code_message_says_a_character_is_mistyped() -> None:
    data = generate_code()[:16]
    wrong = next(symbol for symbol in SYMBOLS if symbol not in (check_symbol(data), legacy_check(data)))
    with pytest.raises(InvalidCodeError, match="mistyped") as raised:
        parse_code(data + wrong)
    assert raised.value.mistyped
