"""Argument descriptions from a skill's docstring, read with `docstring_parser` (Google,
NumPy and reST styles) rather than a parser of our own."""

from __future__ import annotations

import contextlib
import inspect

from docstring_parser import Docstring, ParseError, numpydoc, rest
from docstring_parser.google import DEFAULT_SECTIONS, GoogleParser, Section, SectionType

__all__ = ["parse_docstring"]

# docstring_parser's Google parser plus the keyword sections skill authors also write
_GOOGLE = GoogleParser(
    [
        *DEFAULT_SECTIONS,
        Section("Keyword Args", "param", SectionType.MULTIPLE),
        Section("Keyword Arguments", "param", SectionType.MULTIPLE),
    ]
)
_PARAM_KEYS = frozenset({"param", "other_param"})


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (the text before the first section, paragraphs kept) and the
    parameter descriptions of a Google-style (`Args:`), NumPy-style (`Parameters`
    underlined) or reST (`:param x:`) docstring."""
    if not doc or not doc.strip():
        return "", {}
    text = inspect.cleandoc(doc)
    # like docstring_parser's auto style: the reading that finds the most sections wins
    # (Google first on a tie)
    readings: list[Docstring] = []
    for parse in (_GOOGLE.parse, numpydoc.parse, rest.parse):
        with contextlib.suppress(ParseError):
            readings.append(parse(text))
    if not readings:
        return text, {}
    parsed = max(readings, key=lambda d: len(d.meta))
    gap = "\n\n" if parsed.blank_after_short_description else "\n"
    description = gap.join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {
        p.arg_name.lstrip("*"): _one_line(p.description)
        for p in parsed.params
        if p.args[0] in _PARAM_KEYS
    }
    return description.strip(), params


def _one_line(text: str | None) -> str:
    return " ".join(line.strip() for line in (text or "").splitlines() if line.strip())
