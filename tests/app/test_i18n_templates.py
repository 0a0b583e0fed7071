"""No template shows a person words that bypass the catalogue.

Each template is cut into Jinja's own tokens: only the raw "data" between {{ }} and {% %} can
hold an untranslated literal (text inside an expression is either `_("…")` or a value). The
data, with every Jinja tag replaced by a neutral marker, is then read by an HTML parser, which
reports text nodes and the attributes people read or hear. A literal there with a letter in it
fails, unless it is in the allow-list below.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# Attributes whose value a person reads (or a screen reader speaks).
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "aria-description",
                   "aria-roledescription", "label", "summary"}
# Words that are the same in every language: names and codes, not prose.
ALLOWED = {
    "twestival",          # the product's name
    "Twestival",
    "Stripe", "PayPal",   # providers' names
    "CSV", "JSON", "QR", "API", "URL", "ID", "IBAN", "EUR", "SVG", "PNG", "CVC", "UTC",  # formats, codes
    "SHA-256", "sha256",  # the name of a hash function
    "×", "%",
}
LETTER = re.compile(r"[^\W\d_]")
# Stands for a {{ }} or {% %} in the HTML handed to the parser; shaped like an attribute name
# so that `<option {% if x %}selected{% endif %}>` still parses as one tag.
MARK = " _jinja_ "
# Blocks that fill an attribute the page does not show (`{% block body_class %}wide{% endblock %}`).
ATTRIBUTE_BLOCKS = {"body_class"}
# Literal code a person copies (commands, embed snippets) is the same in every language.
CODE_TAGS = {"script", "style", "code", "kbd", "samp", "pre", "textarea"}


def _data_only(source: str) -> list[tuple[int, str]]:
    """The template's raw text with each Jinja tag replaced by MARK, and the line it began on."""
    out: list[tuple[int, str]] = []
    tokens = list(Environment().lex(source))
    hidden = 0   # inside an attribute-only block
    for i, (lineno, kind, value) in enumerate(tokens):
        if kind == "block_begin":
            names = [v for _, k, v in tokens[i + 1:i + 5] if k == "name"]
            if names[:1] == ["block"] and names[1:] and names[1] in ATTRIBUTE_BLOCKS:
                hidden += 1
            elif names[:1] == ["endblock"] and hidden:
                hidden -= 1
        if kind == "data" and not hidden:
            out.append((lineno, value))
        elif kind in ("variable_begin", "block_begin"):
            out.append((lineno, MARK))
        if kind == "variable_begin" and not hidden:
            out.extend((lineno, literal + MARK) for literal in _bare_strings(tokens, i + 1))
    return out


def _bare_strings(tokens, start: int) -> list[str]:
    """String literals a {{ }} prints as they are: `{{ 'Untick' if done else 'Tick off' }}`.

    Strings inside brackets are arguments (`_("…")`, `url_for('…')`) or keys, so only those
    at bracket depth 0 count.
    """
    expression = []
    for _, kind, value in tokens[start:]:
        if kind == "variable_end":
            break
        if kind != "whitespace":
            expression.append((kind, value))
    found, depth = [], 0
    for i, (kind, value) in enumerate(expression):
        if kind == "operator" and value in "([{":
            depth += 1
        elif kind == "operator" and value in ")]}":
            depth -= 1
        elif kind == "string" and depth == 0 and not _compared(expression, i):
            found.append(value[1:-1])   # the raw token keeps its quotes
    return found


def _compared(expression, i: int) -> bool:
    """`item.state == 'done'`: a string compared with, not printed."""
    around = expression[max(0, i - 1):i] + expression[i + 1:i + 2]
    return any(value in ("==", "!=", "in", "not") for _, value in around)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.skip = 0
        self.offset_line = 0

    def _check(self, text: str) -> None:
        for piece in text.split(MARK):
            piece = piece.strip()
            if not LETTER.search(piece):
                continue
            words = [w for w in re.split(r"[\s·–—:,.()/|+]+", piece) if w]
            if all(w in ALLOWED or not LETTER.search(w) for w in words):
                continue
            self.found.append((self.getpos()[0], piece))

    def handle_starttag(self, tag, attrs):
        if tag in CODE_TAGS:
            self.skip += 1
        for name, value in attrs:
            if value is None:
                continue
            if name in READ_ATTRIBUTES or (name == "value" and tag in ("button", "input")
                                           and dict(attrs).get("type") in ("submit", "button", "reset")):
                self._check(value)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in CODE_TAGS:
            self.skip -= 1

    def handle_endtag(self, tag):
        if tag in CODE_TAGS:
            self.skip = max(0, self.skip - 1)

    def handle_data(self, data):
        if not self.skip:
            self._check(data)


def untranslated_literals(path: Path) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    chunks = _data_only(source)
    text = "".join(value for _, value in chunks)
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.found


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")),
                         ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_holds_an_untranslated_literal(path):
    assert untranslated_literals(path) == []


def test_the_reader_catches_literals_and_spares_translated_text(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('{% extends "base.html" %}<h1>{{ _("Hello") }}</h1><p>Hello there</p>'
                    '<input placeholder="Search" value="{{ q }}"><img alt="{{ _("Logo") }}">'
                    '<button value="x">{{ _("Go") }}</button><a title="Open it">→</a>'
                    '<script>var s = "not read";</script><span>twestival · {{ n }} EUR</span>'
                    '{# a comment #}<td>{{ a }} / {{ b }}</td><p class="{{ \'on\' if a }}">'
                    '{{ "Done" if a else _("Open") }}{{ url_for("x.y") }}</p>')
    assert [text for _, text in untranslated_literals(page)] == ["Hello there", "Search",
                                                                 "Open it", "Done"]
