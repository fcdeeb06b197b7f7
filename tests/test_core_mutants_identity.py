"""router/core/identity.py under mutation: the edges of the ignorable ranges and every refused character class.

The behaviour tests and the properties spell names with a soft hyphen and a zero-width space, each inside a range;
mutation testing showed the range bounds and most of the character categories were never exercised.
"""

from __future__ import annotations

import pytest

from router.core.identity import _IGNORABLE, canonical, ignorable, suspicious


@pytest.mark.parametrize("code", sorted({c for low, high in _IGNORABLE for c in (low, high)}))
def test_both_ends_of_every_ignorable_range_are_ignorable(code: int) -> None:
    """The first and the last code point of each Default_Ignorable range are removed from names."""
    assert ignorable(chr(code))
    assert canonical(f"mal{chr(code)}lory") == "mallory"


@pytest.mark.parametrize(
    "code",
    sorted(
        {c for low, high in _IGNORABLE for c in (low - 1, high + 1)}
        - {c for low, high in _IGNORABLE for c in range(low, high + 1)}
    ),
)
def test_the_code_points_just_outside_each_range_are_not_ignorable(code: int) -> None:
    """Just before and just after each range: kept."""
    assert not ignorable(chr(code))


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("bo\x07b", "Cc"),
        ("bo\u0600b", "Cf"),
        ("bo\ue000b", "Co"),
        ("bo\ud800b", "Cs"),
        ("bo\u2028b", "Zl"),
        ("bo\u2029b", "Zp"),
    ],
)
def test_a_name_with_a_control_format_private_surrogate_or_separator_character_is_suspicious(
    name: str, category: str
) -> None:
    """Each refused category, with a character that is not also default-ignorable, names the character."""
    code = next(c for c in name if not c.isalpha())
    assert not ignorable(code)
    assert suspicious(name) == f"it contains the invisible or control character U+{ord(code):04X}"


def test_a_name_that_is_empty_once_canonical_is_suspicious_as_empty() -> None:
    """Blank, or nothing but invisible characters: the reason says it is empty."""
    assert suspicious(" \u200b ") == "it is empty"
    assert suspicious("mallory") is None
