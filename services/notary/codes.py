"""Verification codes: what a citizen types to check a document, like the Spanish CSV (Ley 40/2015, art. 42).

A code is 16 Crockford base32 symbols (80 bits from `secrets`) and one check symbol, the value of the 80 bits
modulo 37 in Crockford's check alphabet, shown as ``XXXX-XXXX-XXXX-XXXX-C`` and stored without separators.
37 is prime and larger than the alphabet, so every single-symbol substitution and every transposition of two
adjacent symbols changes the check: a mistyped code is told apart from an unknown one.

Input is forgiving, as Crockford specifies: case, spaces and hyphens are ignored, ``I`` and ``L`` read as ``1``,
``O`` as ``0``.
"""

import secrets
from typing import Final

SYMBOLS: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The 5 extra check symbols stand for the values 32..36.
CHECK_SYMBOLS: Final = SYMBOLS + "*~$=U"
DATA_LENGTH: Final = 16
LENGTH: Final = DATA_LENGTH + 1
BITS: Final = 5 * DATA_LENGTH
# What `parse_code` reads, short of the check symbol: 16 data symbols and a check symbol in either case (I, L and O
# stand for 1, 1 and 0), spaces and hyphens anywhere. The check itself is the OpenAPI format `verification-code`.
PATTERN: Final = r"^[ -]*([0-9A-TV-Za-tv-z][ -]*){16}[0-9A-Za-z*~$=][ -]*$"
OPENAPI_FORMAT: Final = "verification-code"

# A new code takes one random byte per symbol and keeps its low 5 bits (256 is a multiple of 32, so every symbol
# is equally likely), read both as a symbol and as a digit of `int(..., 32)` for the check.
_SYMBOL_OF_BYTE: Final = bytes.maketrans(bytes(range(256)), bytes(SYMBOLS.encode()[b % 32] for b in range(256)))
_DIGIT_OF_BYTE: Final = bytes.maketrans(
    bytes(range(256)), bytes(b"0123456789abcdefghijklmnopqrstuv"[b % 32] for b in range(256))
)
_VALUE: Final = {symbol: value for value, symbol in enumerate(CHECK_SYMBOLS)}
_READ_AS: Final = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


class InvalidCodeError(ValueError):
    """Not a verification code. `mistyped` is True when the code is well formed but its check symbol disagrees."""

    def __init__(self, message: str, *, mistyped: bool = False) -> None:
        super().__init__(message)
        self.mistyped = mistyped


def _check_symbol(data: str) -> str:
    value = 0
    for symbol in data:
        value = value * 32 + _VALUE[symbol]
    return CHECK_SYMBOLS[value % 37]


def generate_codes(count: int) -> list[str]:
    """`count` new codes in stored form (17 symbols, no separators)."""
    raw = secrets.token_bytes(DATA_LENGTH * count)
    symbols, digits = raw.translate(_SYMBOL_OF_BYTE).decode(), raw.translate(_DIGIT_OF_BYTE)
    return [
        symbols[DATA_LENGTH * i : DATA_LENGTH * (i + 1)]
        + CHECK_SYMBOLS[int(digits[DATA_LENGTH * i : DATA_LENGTH * (i + 1)], 32) % 37]
        for i in range(count)
    ]


def generate_code() -> str:
    """One new code in stored form."""
    return generate_codes(1)[0]


def format_code(code: str) -> str:
    """``XXXX-XXXX-XXXX-XXXX-C`` from the stored form."""
    return f"{code[0:4]}-{code[4:8]}-{code[8:12]}-{code[12:16]}-{code[16:]}"


def parse_code(text: str) -> str:
    """The stored form of a code as a person typed it; `InvalidCodeError` says what is wrong with it.

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
    wrong = sorted({symbol for symbol in data if symbol not in SYMBOLS} | ({check} - set(CHECK_SYMBOLS)))
    if wrong:
        raise InvalidCodeError(f"A verification code has no {', '.join(repr(symbol) for symbol in wrong)}.")
    if _check_symbol(data) != check:
        raise InvalidCodeError(
            "One character of the verification code is mistyped (its check character does not match the others): "
            "compare each character with the document.",
            mistyped=True,
        )
    return code


def is_valid_code(text: str) -> bool:
    try:
        parse_code(text)
    except InvalidCodeError:
        return False
    return True
