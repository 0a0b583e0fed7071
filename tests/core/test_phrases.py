"""Phrases keep a sentence as msgid and values to say it later in any language; what is stored
loads back the same, and text stored before phrases existed reads as it was written."""
from __future__ import annotations

import json

from twestival.languages import translator
from twestival.phrases import Phrase
from twestival.streams.files.rows import MAX_ERRORS_SHOWN, MalformedFile, at_line

GERMAN = translator("de").gettext


def test_a_nested_phrase_is_said_in_one_language_and_survives_json():
    phrase = at_line(7, Phrase("amount %(amount)r is not a number", {"amount": "twenty"}))
    assert str(phrase) == "line 7: amount 'twenty' is not a number"
    assert phrase.translated(GERMAN) == "Zeile 7: der Betrag 'twenty' ist keine Zahl"
    again = Phrase.load(json.loads(json.dumps(phrase.stored())))
    assert again == phrase and again.translated(GERMAN) == phrase.translated(GERMAN)


def test_plain_text_stored_before_reads_as_written():
    assert Phrase.load("3 free order(s), 100% sure").translated(GERMAN) == \
        "3 free order(s), 100% sure"
    # One that is a msgid as it stands is even said in the reader's language.
    assert Phrase.load("the file has no header row").translated(GERMAN) == \
        "die Datei hat keine Kopfzeile"


def test_a_broken_translation_falls_back_to_english():
    phrase = Phrase("line %(line)s: %(error)s", {"line": 2, "error": "x"})
    assert phrase.translated(lambda _text: "Zeile %(zeile)s") == "line 2: x"


def test_a_refusal_keeps_its_first_rows_and_how_many_more():
    rows = [at_line(n, Phrase("no order number")) for n in range(2, MAX_ERRORS_SHOWN + 7)]
    refusal = MalformedFile("the file was refused, nothing was recorded", rows)
    loaded = MalformedFile.load(json.loads(json.dumps(refusal.stored())))
    assert (len(loaded.errors), loaded.more) == (MAX_ERRORS_SHOWN, 5)
    assert loaded.message == refusal.message and loaded.message.endswith("(and 5 more)")
    assert loaded.translated(GERMAN).startswith(
        "die Datei wurde abgelehnt, nichts wurde verbucht: Zeile 2: keine Bestellnummer; ")
