"""One identity rule for every comparison of people and roles: maker-checker, the inbox, the audit, authorization.

A username or role is compared in its canonical form: Unicode NFKC (fullwidth and compatibility letters
become plain ones), case folding, and every default-ignorable code point removed (zero-width spaces and
joiners, the soft hyphen, bidi controls, variation selectors...), so fullwidth `mallory`, `Mal\u00adlory` and
`mal\u200blory` are all `mallory`. A name that needs this to look plain is refused where it enters
(`suspicious`): a token or message naming one is not trusted at all. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, Unicode 15), as ranges.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def ignorable(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE)


def canonical(name: str) -> str:
    """The form two names are compared in: NFKC, default-ignorables removed, case folded, NFKC again, trimmed."""
    folded = unicodedata.normalize("NFKC", name)
    folded = "".join(c for c in folded if not ignorable(c)).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def same(a: str, b: str) -> bool:
    return canonical(a) == canonical(b)


def holds(roles: Iterable[str], role: str) -> bool:
    """Whether `role` is among `roles`, compared canonically (the one way roles are compared anywhere)."""
    wanted = canonical(role)
    return any(canonical(r) == wanted for r in roles)


def suspicious(name: str) -> str | None:
    """Why `name` cannot be trusted as an identity or role (control, invisible or format characters, or empty
    once canonical), or None when it is plain."""
    if not canonical(name):
        return "it is empty"
    for char in name:
        if ignorable(char) or unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            return f"it contains the invisible or control character U+{ord(char):04X}"
    return None
