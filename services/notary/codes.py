"""Verification codes: what a citizen types to check a document, like the Spanish CSV (Ley 40/2015, art. 42).

A code is 16 Crockford base32 symbols (80 bits from `secrets`) and one check symbol of the same alphabet, shown as
``XXXX-XXXX-XXXX-XXXX-C`` and stored without separators. Every symbol is a digit or an upper-case letter: nothing
awkward to type on a phone keypad, to put in a URL or in a file name.

The check is the pure system of ISO 7064 carried over to the field with 32 elements, GF(2^5) (ISO 7064's pure
systems need a prime modulus, and 32 is not one): reading the symbols as elements of the field, the sum of
``α^(n-i) · s_i`` over the 17 symbols is zero, where α is a generator of the field (a root of x^5 + x^2 + 1).
Since α^k is never 0 nor 1 for 0 < k < 31, every single-symbol substitution, every transposition of two
adjacent symbols (the check symbol included), every jump transposition (``abc`` read as ``cba``) and every twin
error (``aa`` typed as ``bb``) changes the sum: a mistyped code is told apart from an unknown one. (The hybrid
system ISO 7064 MOD 33,32 misses 64 of the 31,744 adjacent transpositions, as 33 is not prime.)

Codes issued before carry the legacy check: the value of the 80 bits modulo 37, one of 37 symbols (the 32 and
``* ~ $ = U``). They are still accepted (`is_legacy`); a code valid only under the legacy check that matches no
stored document is taken as mistyped, so that the legacy check does not let typos of new codes through unnoticed.

Input is forgiving, as Crockford specifies: case, spaces and hyphens are ignored, ``I`` and ``L`` read as ``1``,
``O`` as ``0``.
"""

import secrets
from typing import Final

import numpy as np
import numpy.typing as npt

SYMBOLS: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The check symbols of codes issued before: the 5 extra ones stand for the values 32..36 of the modulo-37 check.
LEGACY_CHECK_SYMBOLS: Final = SYMBOLS + "*~$=U"
DATA_LENGTH: Final = 16
LENGTH: Final = DATA_LENGTH + 1
BITS: Final = 5 * DATA_LENGTH
# What `parse_code` reads, short of the check symbol: 16 data symbols and a check symbol in either case (I, L and O
# stand for 1, 1 and 0; a legacy check symbol is accepted), spaces and hyphens anywhere. The check itself is the
# OpenAPI format `verification-code`.
PATTERN: Final = r"^[ -]*([0-9A-TV-Za-tv-z][ -]*){16}[0-9A-Za-z*~$=][ -]*$"
OPENAPI_FORMAT: Final = "verification-code"

# x^5 + x^2 + 1, primitive over GF(2): multiplying by α (x) runs through all 31 non-zero elements.
_FIELD_POLYNOMIAL: Final = 0b100101

# A new code takes one random byte per symbol and keeps its low 5 bits (256 is a multiple of 32, so every symbol
# is equally likely).
_SYMBOL_OF_BYTE: Final = bytes.maketrans(bytes(range(256)), bytes(SYMBOLS.encode()[b % 32] for b in range(256)))
_VALUE: Final = {symbol: value for value, symbol in enumerate(LEGACY_CHECK_SYMBOLS)}
_READ_AS: Final = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


def _times_alpha(value: int) -> int:
    value <<= 1
    return value ^ _FIELD_POLYNOMIAL if value & 0b100000 else value


# α·v for every element v: one table look-up per symbol.
_TIMES_ALPHA: Final = tuple(_times_alpha(value) for value in range(32))


MISTYPED: Final = (
    "One character of the verification code is mistyped (its check character does not match the others): "
    "compare each character with the document."
)


class InvalidCodeError(ValueError):
    """Not a verification code. `mistyped` is True when the code is well formed but its check symbol disagrees."""

    def __init__(self, message: str, *, mistyped: bool = False) -> None:
        super().__init__(message)
        self.mistyped = mistyped


def _weighted_sum(symbols: str) -> int:
    total = 0
    for symbol in symbols:
        total = _TIMES_ALPHA[total] ^ _VALUE[symbol]
    return total


def check_symbol(data: str) -> str:
    """The check symbol of 16 data symbols: the one that makes the code's weighted sum zero."""
    return SYMBOLS[_TIMES_ALPHA[_weighted_sum(data)]]


def _legacy_check_symbol(data: str) -> str:
    value = 0
    for symbol in data:
        value = value * 32 + _VALUE[symbol]
    return LEGACY_CHECK_SYMBOLS[value % 37]


def generate_codes(count: int) -> list[str]:
    """`count` new codes in stored form (17 symbols, no separators)."""
    symbols = secrets.token_bytes(DATA_LENGTH * count).translate(_SYMBOL_OF_BYTE).decode()
    data = [symbols[DATA_LENGTH * i : DATA_LENGTH * (i + 1)] for i in range(count)]
    return [part + check_symbol(part) for part in data]


def _weighted() -> npt.NDArray[np.uint8]:
    """α^(16-i)·v for data symbol i and every element v: the check symbol is the sum (XOR) of those of its data."""
    table = np.zeros((DATA_LENGTH, 32), np.uint8)
    for position in range(DATA_LENGTH):
        for value in range(32):
            product = value
            for _ in range(DATA_LENGTH - position):
                product = _TIMES_ALPHA[product]
            table[position, value] = product
    return table


_WEIGHTED: Final = _weighted()
_SYMBOL_BYTES: Final = np.frombuffer(SYMBOLS.encode(), np.uint8)


def new_code_array(count: int) -> npt.NDArray[np.uint8]:
    """`generate_codes` as a (count, 17) array of the codes' ASCII symbols, computed column by column."""
    values = np.frombuffer(secrets.token_bytes(DATA_LENGTH * count), np.uint8).reshape(count, DATA_LENGTH) & 31
    check = np.bitwise_xor.reduce(_WEIGHTED[np.arange(DATA_LENGTH), values], axis=1)
    codes = np.empty((count, LENGTH), np.uint8)
    codes[:, :DATA_LENGTH] = _SYMBOL_BYTES[values]
    codes[:, DATA_LENGTH] = _SYMBOL_BYTES[check]
    return codes


def generate_code() -> str:
    """One new code in stored form."""
    return generate_codes(1)[0]


def format_code(code: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX-C`` from the stored form."""
    return f"{code[0:4]}-{code[4:8]}-{code[8:12]}-{code[12:16]}-{code[16:]}"


def parse_code(text: str) -> str:
    """The stored form of a code as a person typed it; `InvalidCodeError` says what is wrong with it.

    A code with a legacy check symbol is accepted too (`is_legacy` tells it).

    >>> parse_code("abcd-efgh-jkmn-pqrs-x") == parse_code(" ABCDEFGHJKMNPQRSX ")
    True
    """
    if not text.isascii():
        # Before upper(), which reads some other letters as ASCII ones: "ß" as "SS", the dotless "ı" as "I".
        wrong = sorted({symbol for symbol in text if not symbol.isascii()})
        raise InvalidCodeError(f"A verification code has no {', '.join(repr(symbol) for symbol in wrong)}.")
    code = text.upper().translate(_READ_AS)
    if len(code) != LENGTH:
        raise InvalidCodeError(
            f"A verification code has {LENGTH} characters (XXXX-XXXX-XXXX-XXXX-C); this one has {len(code)}."
        )
    data, check = code[:DATA_LENGTH], code[DATA_LENGTH]
    wrong = sorted({symbol for symbol in data if symbol not in SYMBOLS} | ({check} - set(LEGACY_CHECK_SYMBOLS)))
    if wrong:
        raise InvalidCodeError(f"A verification code has no {', '.join(repr(symbol) for symbol in wrong)}.")
    if check_symbol(data) != check and _legacy_check_symbol(data) != check:
        raise InvalidCodeError(MISTYPED, mistyped=True)
    return code


def is_legacy(code: str) -> bool:
    """Whether a code in stored form (as `parse_code` answers it) is valid only under the legacy check: a code
    issued before, or a new one mistyped in a way only the legacy check lets through."""
    return check_symbol(code[:DATA_LENGTH]) != code[DATA_LENGTH:]


def is_valid_code(text: str) -> bool:
    try:
        parse_code(text)
    except InvalidCodeError:
        return False
    return True
