"""Vietnamese-aware text helpers: NFC normalisation, search folding and sort keys."""

import math
import unicodedata

# Letter modifiers that make a distinct Vietnamese letter (ă, â, ê, ô, ơ, ư).
_MODIFIERS = {"\u0306": "\u0306", "\u0302": "\u0302", "\u031b": "\u031b"}
# Tone marks in dictionary order: none, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": "1", "\u0309": "2", "\u0303": "3", "\u0301": "4", "\u0323": "5"}
_ALPHABET = [
    "a", "a\u0306", "a\u0302", "b", "c", "d", "đ", "e", "e\u0302", "f", "g", "h", "i", "j",
    "k", "l", "m", "n", "o", "o\u0302", "o\u031b", "p", "q", "r", "s", "t", "u", "u\u031b",
    "v", "w", "x", "y", "z",
]
_RANK = {letter: chr(0x41 + i) for i, letter in enumerate(_ALPHABET)}


def nfc(value):
    """Return the text in Unicode NFC with surrounding and repeated spaces removed."""
    return " ".join(unicodedata.normalize("NFC", value or "").split())


def fold(value):
    """Lower-case ASCII form for search: 'Nguyễn Văn Hùng' -> 'nguyen van hung'."""
    decomposed = unicodedata.normalize("NFD", (value or "").replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def _letters(word):
    """Split a word into (base letter with Vietnamese modifier, tone digit) pairs."""
    out = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        if ch in _MODIFIERS and out:
            out[-1][0] += ch
        elif ch in _TONES and out:
            out[-1][1] = _TONES[ch]
        elif not unicodedata.combining(ch):
            out.append([ch, "0"])
    return out


def _primary(text):
    parts = []
    for word in text.split():
        parts.append("".join(_RANK.get(letter, _other(letter)) for letter, _ in _letters(word)))
    return " ".join(parts)


def _other(ch):
    return ch if ch.isdigit() else "~"


def sort_key(full_name):
    """Key that orders names the Vietnamese way: given name first (tones break ties),
    the alphabet's ă, â, đ, ê, ô, ơ, ư as letters of their own."""
    name = nfc(full_name)
    words = name.split()
    given = words[-1] if words else ""
    return f"{_primary(given)}!{_tones(given)}!{_primary(name)}!{_tones(name)}"[:255]


def _tones(text):
    return "".join(tone for word in text.split() for _, tone in _letters(word))


def alpha_key(text):
    """Plain Vietnamese alphabetical order (for unit names and other non-person text)."""
    text = nfc(text)
    return f"{_primary(text)}!{_tones(text)}"


def whole_percent(ratio):
    """A ratio as whole percent rounded down, as the reports show it: 0.29 is 29 (not the
    28 that flooring the float 28.999999999999996 gives), 0.799 is 79 (below an 80% target
    it must not read 80)."""
    return math.floor(round(ratio * 100, 6))
