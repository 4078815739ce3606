"""Sentence segmentation for whole news articles in any language.

``split_sentences`` turns an article (often with web-page boilerplate around it: headlines,
bylines, captions, cookie banners, share buttons) into sentences and returns character spans into
the ORIGINAL string, so that a web page can highlight them.

Approach (standard library only, one linear pass per rule, no backtracking-prone patterns):

1. Candidate boundaries come from two independent sources and are unioned:

   * **Punctuation.** A single regular expression finds runs of terminal punctuation
     (``. ! ? …`` and the terminators of Arabic, Devanagari, CJK, Burmese, Ethiopic, Armenian,
     Khmer scripts). Closing quotes/brackets glued to the run stay with the sentence. Each run is
     then judged on a few characters of context:

     - *strong* terminators of scripts without letter case (``。 ؟ । ။ ።`` ...) always end a
       sentence, even without a following space;
     - *weak* terminators (``. ! ? …``) need whitespace after them and must not be followed by a
       lowercase letter of a cased script (so ``"We are leaving." said the mayor`` and
       ``e.g. this`` stay together);
     - a lone ``.`` additionally goes through the abbreviation rules: titles (``Dr.``), always
       non-final abbreviations (``e.g.``), "soft" abbreviations that may end a sentence
       (``Inc.``, ``etc.``, ``U.S.``, initials: they end it only before a typical sentence
       starter such as "The" or at a line break), numeric abbreviations (``No. 5``), ordinals
       (German ``am 3. Oktober``) and list markers (``1. Item``).

   * **Line breaks.** A line that does not end in terminal punctuation is its own sentence
     (headlines, captions, bylines, "0 Comment(s)"), unless the next line starts with a lowercase
     Latin/Cyrillic/Greek/Armenian letter or the line ends with a comma (hard-wrapped text).
     Blank lines always separate sentences.

2. The text between consecutive boundaries is stripped of whitespace (and zero-width spaces /
   BOMs); empty pieces are dropped.

3. Pieces longer than ``max_chars`` are cut at the last whitespace inside the limit, else after
   the last comma-like mark, else exactly at the limit (stepping back over combining marks so a
   grapheme is not torn apart).

Everything is bounded: look-behind/look-ahead around a candidate inspects at most a few dozen
characters, so the run time is linear in the input size.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "ALWAYS_ABBREVIATIONS",
    "DEFAULT_MAX_CHARS",
    "NUMERIC_ABBREVIATIONS",
    "SOFT_ABBREVIATIONS",
    "TITLE_ABBREVIATIONS",
    "SentenceSpan",
    "split_sentences",
]

DEFAULT_MAX_CHARS = 1000


@dataclass(frozen=True)
class SentenceSpan:
    """One sentence: ``original[start:end] == text``, with no surrounding whitespace."""

    start: int
    end: int
    text: str


# --------------------------------------------------------------------------------------------
# Character classes
# --------------------------------------------------------------------------------------------

# Exactly the characters for which str.isspace() is true (verified by a test) ...
_UNICODE_SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# ... plus invisible characters that scraped pages are full of (zero-width space, word joiner,
# BOM, Mongolian vowel separator). They are treated as whitespace so they never form a sentence.
INVISIBLE_SPACE_CHARS = "\u200b\u2060\ufeff\u180e"
SPACE_CHARS = _UNICODE_SPACES + INVISIBLE_SPACE_CHARS
_SPACE_SET = frozenset(SPACE_CHARS)

# Line breaks as understood by str.splitlines(); U+2029 is a paragraph separator.
_LINE_BREAK_CHARS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK_SET = frozenset(_LINE_BREAK_CHARS)

# Terminators that need whitespace after them and lose to a following lowercase letter.
# U+037E is the Greek question mark (canonically equal to ';').
WEAK_TERMINATORS = ".!?…‼⁇⁈⁉\u037e"
# Terminators of scripts without letter case: they always end a sentence.
STRONG_TERMINATORS = (
    "。｡！？．"  # CJK (full-width and half-width forms)
    "\u061f\u06d4\u061d"  # Arabic question mark, Arabic full stop (Urdu), end of text mark
    "\u0964\u0965"  # Devanagari danda, double danda
    "\u104b"  # Burmese section mark (sentence end); U+104A (၊) is a comma
    "\u1362\u1367\u1368"  # Ethiopic full stop, question mark, paragraph separator
    "\u0589"  # Armenian full stop
    "\u17d4\u17d5"  # Khmer khan, bariyoosan
    "\u166e"  # Canadian syllabics full stop
)
# Keyboard substitutes count only after a letter of their script: ';' after Greek (question
# mark, weak), ':' after Armenian (full stop) and '|' after Indic letters (danda), both strong.
_CONTEXTUAL_STRONG = ":|"
_STRONG_SET = frozenset(STRONG_TERMINATORS + _CONTEXTUAL_STRONG)
_TERMINATOR_SET = frozenset(WEAK_TERMINATORS + STRONG_TERMINATORS)

# Closing quotes and brackets that stay with the sentence when glued to its terminator.
# Opening-looking quotes are included because German („…“) and Danish (»…«) close with them.
CLOSING_PUNCTUATION = "\"'”’»›«‹“‘)]}」』〉》】〕〗〙〛）］｝＂＇"
# Skipped when looking for the first letter of the next sentence.
_LEADING_PUNCTUATION = frozenset("\"'“‘„‚«‹»›”’([{「『〈《【〔〖〘〚（［｛＂＇¿¡-‐‑‒–—―•·*")
# A line ending in one of these continues on the next line (hard-wrapped text).
LINE_CONTINUATION_ENDINGS = ",;\u060c\u061b\uff0c\u3001"
# Where an over-long piece without whitespace may be cut (after the mark).
_SOFT_CUT_MARKS = ",;\u060c\u061b\uff0c\u3001\uff1b\u104a\u1363"

_GREEK_RANGE = "\u0370-\u03ff\u1f00-\u1fff"
_ARMENIAN_RANGE = "\u0531-\u058f"
_INDIC_RANGE = "\u0900-\u0dff"  # Devanagari ... Sinhala


def _char_class(chars: str) -> str:
    return "[" + "".join(re.escape(c) for c in chars) + "]"


_SPACE_CLASS = "[\\s" + INVISIBLE_SPACE_CHARS + "]"
_LINE_BREAK = re.compile("\r\n|" + _char_class(_LINE_BREAK_CHARS))
# A line break plus all whitespace after it (blank lines included): the gap between two lines.
_LINE_GAP = re.compile("(?:\r\n|" + _char_class(_LINE_BREAK_CHARS) + ")" + _SPACE_CLASS + "*")
_LETTERS = re.compile(r"[^\W\d_]{1,32}")

_MAX_TOKEN = 48  # longest word inspected before a period; longer ones (URLs) are plain words
_MAX_LEADING = 16  # how many quotes/dashes/spaces to skip when looking at the next sentence


def _build_candidate_re(greek_semicolon: bool) -> re.Pattern[str]:
    """One match per terminator run, with everything needed to judge it.

    The match starts at the run of terminators; group 1 holds the closing quotes/brackets glued to
    it (also French "« Nous partons. »" with a space before the guillemet) and group 2 the
    whitespace after it. The match then skips up to _MAX_LEADING opening quotes/dashes, so
    ``match.end()`` is the first character of the following sentence.

    The pattern starts with a plain character class so that the regex engine can skip quickly
    to candidates; the contextual substitutes (';' ':' '|') are validated by fixed-width
    look-behinds. Everything after the run is optional and greedy: no backtracking.
    """
    core = _char_class(WEAK_TERMINATORS + STRONG_TERMINATORS)
    checks = [
        f"(?<={core})",
        f"(?<=[{_GREEK_RANGE}];)",
        f"(?<=[{_ARMENIAN_RANGE}]:)",
        f"(?<=[{_INDIC_RANGE}]\\|)",
        f"(?<=[{_INDIC_RANGE}] \\|)",
    ]
    if greek_semicolon:
        checks.append("(?<=;)")
    candidate = _char_class(WEAK_TERMINATORS + STRONG_TERMINATORS + ";:|")
    terminator = f"{candidate}(?:{'|'.join(checks)})"
    closer = _char_class(CLOSING_PUNCTUATION + WEAK_TERMINATORS + STRONG_TERMINATORS)
    spaced_guillemet = "(?:[ \xa0\u202f\u2009]{1,2}[»›](?![^\\W_]))"
    leading = _char_class("".join(sorted(_LEADING_PUNCTUATION)))
    return re.compile(
        f"{terminator}(?:{terminator})*"
        f"({closer}*(?:{spaced_guillemet}{closer}*)?)"
        f"({_SPACE_CLASS}*)"
        f"(?:{leading}|{_SPACE_CLASS}){{0,{_MAX_LEADING}}}"
    )


# --------------------------------------------------------------------------------------------
# Abbreviations (lowercase, without the final period). Per language so that a `lang` hint can
# avoid collisions with other languages; with lang=None the union of all tables is used.
# --------------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Titles before a name: never end a sentence, but only when written capitalised ("Dr.", not "dr.").
TITLE_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": _words(
        "mr mrs ms messrs dr gen gens col lt sgt capt cpl pvt maj adm brig cmdr gov sen sens "
        "rep reps pres prof st mt ft rev hon supt insp det fr sr"
    ),
    "fr": _words("m mm mme mmes mlle mlles me pr dr st ste mgr"),
    "es": _words("sr sra srta sres dr dra lic ing arq gral prof"),
    "pt": _words("sr sra srs dr dra exmo exma eng prof"),
    "de": _words("hr hrn fr dr prof st"),
    "it": _words("sig sigg dott avv ing prof on"),
}
# Never end a sentence, whatever the case.
ALWAYS_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": _words("e.g i.e vs approx cf viz ca ibid incl"),
    "fr": _words("env cf p.ex"),
    "es": _words("aprox p.ej"),
    "de": _words("z.b d.h u.a bzw vgl ggf evtl inkl sog ca"),
    "ru": _words("т.е т.к т.н ул пер пл корп проф акад ген тов"),
    "uk": _words("т.зв вул пров проф акад ген"),
    "hi": _words("डॉ प्रो"),
}
# May end a sentence: they do only before a typical sentence starter or at a line break.
SOFT_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": _words(
        "inc ltd co corp bros jr etc al a.m p.m ph.d ave blvd rd dept govt est "
        "jan feb mar apr jun jul aug sep sept oct nov dec"
    ),
    "fr": _words("etc av bd janv févr avr juil sept oct nov déc"),
    "es": _words("etc ene feb abr jun jul ago sep sept oct nov dic ee uu"),
    "pt": _words("etc jan fev abr jun jul ago set out nov dez"),
    "de": _words("usw o.ä str mio mrd tsd jh jan feb apr jun jul aug sep sept okt nov dez"),
    "it": _words("ecc"),
    "ru": _words("г гг т.д т.п им тыс млн млрд руб долл"),
    "uk": _words("р рр т.д т.п ім тис млн млрд грн"),
}
# Do not end a sentence when a number follows ("No. 5", "Art. 12", "ст. 3").
NUMERIC_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": _words("no nos nr art arts p pp vol vols ch fig figs sec para"),
    "fr": _words("n no p art vol"),
    "es": _words("núm pág págs art"),
    "pt": _words("n pág art"),
    "de": _words("nr abs s art bd"),
    "ru": _words("ст п стр рис гл ч"),
    "uk": _words("ст п стор"),
}

# Capitalised words that typically open a sentence (lowercase here). After a soft abbreviation
# ("U.S.", "Inc.", "etc.") only these make the period a sentence end.
SENTENCE_STARTERS = _words(
    # English
    "the a an he she it they we you this that these those there his her its their our my "
    "but and or so yet however meanwhile in on at as after before when while if since although "
    "though for from with also earlier later last then now today yesterday what why how who "
    "where some many most several one two three officials police authorities "
    # French
    "le la les l un une des il elle ils elles on nous ce cette ces mais selon dans en au aux "
    "pour par depuis après avant lors "
    # Spanish / Portuguese / Italian
    "el los las unos unas él ella ellos ellas se pero según por para desde tras este esta "
    "estos estas o os um uma ele ela eles elas mas segundo em no na lo gli lui lei loro ma "
    "nel nella "
    # German
    "der die das ein eine er sie es wir ich man aber und nach laut im am auf bei seit diese "
    "dieser dies "
    # Russian / Ukrainian
    "он она оно они это этот эта в во на но а и по как мы я его её их він вона воно вони це "
    "цей ця у але і та ми за"
)

# Languages that write ordinal numbers with a period ("3. Armee", "28. januar").
ORDINAL_LANGUAGES = _words("de da nb nn no fi is fo cs sk pl sl hr sr bs hu et lv lt tr")
# Without a lang hint, "12. X" is an ordinal only next to one of these words.
ORDINAL_PRECEDERS = _words(
    "am im vom zum zur beim der die das des dem den ab bis seit vor nach für ihr ihre sein seine"
)
ORDINAL_FOLLOWERS = _words(
    "januar jänner februar märz april mai juni juli august september oktober november dezember"
)


class _Abbreviations(NamedTuple):
    titles: frozenset[str]
    always: frozenset[str]
    soft: frozenset[str]
    numeric: frozenset[str]


class _Context(NamedTuple):
    candidates: re.Pattern[str]
    abbreviations: _Abbreviations
    ordinal_language: bool


def _merge(table: dict[str, frozenset[str]], languages: tuple[str, ...] | None) -> frozenset[str]:
    if languages is None:
        return frozenset().union(*table.values())
    return frozenset().union(*(table.get(lang, frozenset()) for lang in languages))


def _normalise_lang(lang: str | None) -> str | None:
    if not isinstance(lang, str) or not lang.strip():
        return None
    return lang.strip().lower().replace("_", "-").split("-")[0]


@lru_cache(maxsize=64)
def _context(lang: str | None) -> _Context:
    known = {*TITLE_ABBREVIATIONS, *ALWAYS_ABBREVIATIONS, *SOFT_ABBREVIATIONS, *NUMERIC_ABBREVIATIONS}
    # English abbreviations appear in every language's international news; unknown languages
    # (and no hint at all) get every table.
    languages = (lang, "en") if lang in known else None
    abbreviations = _Abbreviations(
        titles=_merge(TITLE_ABBREVIATIONS, languages),
        always=_merge(ALWAYS_ABBREVIATIONS, languages),
        soft=_merge(SOFT_ABBREVIATIONS, languages),
        numeric=_merge(NUMERIC_ABBREVIATIONS, languages),
    )
    return _Context(
        candidates=_build_candidate_re(greek_semicolon=lang == "el"),
        abbreviations=abbreviations,
        ordinal_language=lang in ORDINAL_LANGUAGES,
    )


# --------------------------------------------------------------------------------------------
# Character predicates
# --------------------------------------------------------------------------------------------


def _is_space(ch: str) -> bool:
    return ch in _SPACE_SET


def _is_cased_lower(ch: str) -> bool:
    """Lowercase letter of a script where case marks sentence starts (Latin, Greek, Cyrillic,
    Armenian). Georgian Mkhedruli is "lowercase" for Unicode but has no sentence case."""
    if not ch.islower():
        return False
    o = ord(ch)
    return (
        o < 0x0590
        or 0x1C80 <= o < 0x1C90
        or 0x1D00 <= o < 0x2000
        or 0x2C60 <= o < 0x2C80
        or 0xA640 <= o < 0xA6A0
        or 0xA720 <= o < 0xA800
        or 0xAB30 <= o < 0xAB70
        or 0xFB00 <= o < 0xFB18
        or 0xFF41 <= o <= 0xFF5A
    )


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o < 0x3100
        or 0x3400 <= o < 0xA000
        or 0xAC00 <= o < 0xD7B0
        or 0xF900 <= o < 0xFB00
        or 0x20000 <= o < 0x30000
    )


def _is_mark(ch: str) -> bool:
    """Combining mark or joiner: a cut before it would tear a grapheme apart."""
    return ch in "\u200c\u200d" or unicodedata.category(ch).startswith("M")


def _is_wordlike(text: str) -> bool:
    return bool(text) and all(unicodedata.category(c)[0] in "LM" for c in text)


# --------------------------------------------------------------------------------------------
# What follows a terminator
# --------------------------------------------------------------------------------------------

_END, _LOWER, _UPPER, _DIGIT, _OTHER = range(5)


class _Next(NamedTuple):
    kind: int  # one of _END, _LOWER, _UPPER, _DIGIT, _OTHER
    pos: int  # index of the first character of the next sentence (len(text) at the end)
    newline: bool  # the whitespace before it contains a line break


def _classify(ch: str) -> int:
    if ch.islower() and _is_cased_lower(ch):
        return _LOWER
    if ch.isupper() or ch.istitle():
        return _UPPER
    if ch.isdigit():
        return _DIGIT
    return _OTHER


def _next_word(text: str, after: _Next) -> tuple[str, bool]:
    """The next word, lowercased, and whether it is an initial (one letter and a period)."""
    match = _LETTERS.match(text, after.pos)
    if match is None:
        return "", False
    word = match.group()
    is_initial = len(word) == 1 and text[match.end() : match.end() + 1] == "."
    return word.lower(), is_initial


# --------------------------------------------------------------------------------------------
# The period: abbreviations, initials, ordinals
# --------------------------------------------------------------------------------------------


def _token_before(text: str, dot: int) -> tuple[int, str] | None:
    """The word before the period at ``dot`` (leading quotes/brackets removed) and where it starts.
    None when it is longer than _MAX_TOKEN (a URL or similar: treated as a plain word)."""
    lo = max(0, dot - _MAX_TOKEN)
    parts = text[lo:dot].rsplit(None, 1)
    tail = parts[-1] if parts else ""
    start = dot - len(tail)
    if start == lo and lo > 0 and not text[lo - 1].isspace():
        return None
    while start < dot and not text[start].isalnum():
        start += 1
    return start, text[start:dot]


def _previous_word(text: str, pos: int) -> str:
    k = pos
    lo = max(0, pos - 8)
    while k > lo and _is_space(text[k - 1]):
        k -= 1
    end = k
    lo = max(0, end - 20)
    while k > lo and text[k - 1].isalpha():
        k -= 1
    return text[k:end].lower()


def _at_line_start(text: str, pos: int) -> bool:
    k = pos
    lo = max(0, pos - _MAX_LEADING)
    while k > lo and text[k - 1] in " \t\xa0\u3000":
        k -= 1
    return k == 0 or text[k - 1] in _LINE_BREAK_SET


def _is_initial_or_acronym(token: str) -> bool:
    """'J', 'U.S', 'EE.UU', 'т.е': single letters, or dotted groups of one or two letters."""
    if len(token) == 1:
        return token.isalpha()
    parts = token.split(".")
    return len(parts) > 1 and all(len(p) <= 2 and _is_wordlike(p) for p in parts)


def _soft_abbreviation_continues(text: str, after: _Next) -> bool:
    if after.newline:
        return False
    if after.kind == _UPPER:
        word, is_initial = _next_word(text, after)
        return is_initial or word not in SENTENCE_STARTERS
    # Numbers ("Jan. 28"), symbols ("U.S. $5") and letters of caseless scripts (Arabic "د.")
    return after.kind in (_DIGIT, _OTHER)


def _is_ordinal(text: str, token_start: int, after: _Next, ctx: _Context) -> bool:
    if after.kind != _UPPER:
        return False
    if ctx.ordinal_language or _next_word(text, after)[0] in ORDINAL_FOLLOWERS:
        return True
    return _previous_word(text, token_start) in ORDINAL_PRECEDERS


def _period_continues(text: str, dot: int, after: _Next, ctx: _Context) -> bool:
    """True when the single period at ``dot`` does NOT end the sentence."""
    if dot == 0 or text[dot - 1] in _SPACE_SET:
        return False
    found = _token_before(text, dot)
    if found is None:
        return False
    token_start, token = found
    if not token:
        return False
    lower = token.lower()
    abbr = ctx.abbreviations
    if token[0].isupper() and lower in abbr.titles:
        return True
    if lower in abbr.always:
        return True
    if lower in abbr.numeric and after.kind == _DIGIT:
        return True
    short_marker = (token.isdigit() and len(token) <= 3) or len(token) == 1
    if short_marker and _at_line_start(text, token_start):
        return True  # list item: "1. Ukraine ...", "a. ..."
    if lower in abbr.soft or _is_initial_or_acronym(token):
        return _soft_abbreviation_continues(text, after)
    if token.isdigit() and len(token) <= 3:
        return _is_ordinal(text, token_start, after, ctx)
    return False


# --------------------------------------------------------------------------------------------
# Boundaries
# --------------------------------------------------------------------------------------------


def _glued_cjk_break(text: str, run_start: int, run: str, after_pos: int) -> bool:
    """Half-width '!'/'?' inside Chinese/Japanese text, with no space after it."""
    if run_start == 0 or after_pos >= len(text) or not set(run) <= {"!", "?"}:
        return False
    nxt = text[after_pos]
    return _is_cjk(text[run_start - 1]) and (_is_cjk(nxt) or nxt in _LEADING_PUNCTUATION)


def _is_decimal_point(text: str, run_start: int, run_end: int) -> bool:
    """A full-width full stop between digits: "３．５"."""
    return run_start > 0 and run_end < len(text) and text[run_start - 1].isdigit() and text[run_end].isdigit()


def _is_sentence_end(text: str, match: re.Match[str], ctx: _Context) -> bool:
    run_start, run_end = match.start(), match.start(1)
    run = text[run_start:run_end]
    if not _STRONG_SET.isdisjoint(run):
        return run != "．" or not _is_decimal_point(text, run_start, run_end)
    gap_start, gap_end = match.span(2)
    if gap_start == gap_end:
        # "3.5", "U.S.-led", "example.com", "Yahoo!News": no space, no break.
        return gap_start == len(text) or _glued_cjk_break(text, run_start, run, gap_start)
    pos = match.end()
    if pos == len(text):
        return True
    kind = _classify(text[pos])
    if kind == _LOWER:
        return False
    if run != ".":
        return True
    after = _Next(kind, pos, not _LINE_BREAK_SET.isdisjoint(match.group(2)))
    return not _period_continues(text, run_start, after, ctx)


# A boundary is a pair (end of a sentence, start of the next one): both sit next to non-space
# characters, so the text between two boundaries needs no stripping.
_Boundary = tuple[int, int]


def _punctuation_breaks(text: str, ctx: _Context) -> list[_Boundary]:
    return [m.span(2) for m in ctx.candidates.finditer(text) if _is_sentence_end(text, m, ctx)]


def _line_continues(line: str, next_char: str) -> bool:
    """Whether a single line break between ``line`` and the next line is NOT a boundary."""
    if _is_cased_lower(next_char):
        return True  # hard-wrapped running text
    last = line.rstrip(CLOSING_PUNCTUATION)[-1:]
    if not last:
        return False
    if last in LINE_CONTINUATION_ENDINGS:
        return True
    # Lines ending in punctuation are judged by the punctuation rules (abbreviations etc.).
    return last in _TERMINATOR_SET and last not in _STRONG_SET


def _line_breaks(text: str) -> list[_Boundary]:
    breaks: list[_Boundary] = []
    n = len(text)
    line_start = 0
    for gap in _LINE_GAP.finditer(text):
        gap_start, gap_end = gap.span()
        line = text[line_start:gap_start].rstrip(SPACE_CHARS)
        if line and gap_end < n:
            paragraph = "\u2029" in gap.group() or len(_LINE_BREAK.findall(gap.group())) >= 2
            if paragraph or not _line_continues(line, text[gap_end]):
                breaks.append((line_start + len(line), gap_end))
        line_start = gap_end
    return breaks


# --------------------------------------------------------------------------------------------
# Spans
# --------------------------------------------------------------------------------------------


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip(SPACE_CHARS))
    right = len(piece.rstrip(SPACE_CHARS))
    if right <= left:
        return None
    return start + left, start + right


def _find_cut(text: str, start: int, limit: int) -> int:
    """Cut position in (start, limit] for a piece starting at ``start`` (non-space)."""
    window = text[start + 1 : limit + 1]
    last_space = max(window.rfind(c) for c in SPACE_CHARS)
    if last_space >= 0:
        return start + 1 + last_space
    last_mark = max(window[:-1].rfind(c) for c in _SOFT_CUT_MARKS)
    if last_mark >= 0:
        return start + 2 + last_mark
    cut = limit
    # Step back over combining marks (Burmese, Devanagari) but never too far.
    while cut > start + 1 and limit - cut < 8 and _is_mark(text[cut]):
        cut -= 1
    return cut


def _limited_spans(text: str, start: int, end: int, max_chars: int) -> Iterator[SentenceSpan]:
    while end - start > max_chars:
        cut = _find_cut(text, start, start + max_chars)
        piece = _strip(text, start, cut)
        if piece is not None:  # always true: text[start] is not whitespace
            yield SentenceSpan(piece[0], piece[1], text[piece[0] : piece[1]])
        rest = _strip(text, cut, end)
        if rest is None:
            return
        start = rest[0]
    yield SentenceSpan(start, end, text[start:end])


def split_sentences(
    text: str, lang: str | None = None, *, max_chars: int = DEFAULT_MAX_CHARS
) -> list[SentenceSpan]:
    """Split ``text`` into sentences with offsets into ``text``.

    ``lang`` is an optional language hint (ISO 639-1 such as "de" or "en-GB"); it narrows the
    abbreviation tables, enables period ordinals ("3. Armee") and, for "el", ';' as a question
    mark. Pieces never exceed ``max_chars`` characters. Blank input gives []; any str is
    accepted (control characters and lone surrogates are ordinary characters here).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    ctx = _context(_normalise_lang(lang))
    boundaries = _punctuation_breaks(text, ctx) + _line_breaks(text)
    boundaries.sort()
    start = len(text) - len(text.lstrip(SPACE_CHARS))
    boundaries.append((len(text.rstrip(SPACE_CHARS)), len(text)))
    spans: list[SentenceSpan] = []
    for end, next_start in boundaries:
        # Boundaries from both sources can coincide or nest inside the same whitespace gap.
        if end > start:
            if end - start <= max_chars:
                spans.append(SentenceSpan(start, end, text[start:end]))
            else:
                spans.extend(_limited_spans(text, start, end, max_chars))
        start = max(start, next_start)
    return spans
