"""Sentences kept for later: a catalogue msgid and its named values, said when someone reads them.

An import's report is written once and read many times (on its result page, then reopened from
the history, by people who read different languages), so its notes and per-row errors are kept
as ``Phrase``: the English msgid, which is also the catalogue's key, and the values that fill
it. A value may itself be a Phrase (a row's error inside "line %(line)s: %(error)s"), said in
the same language. Stored as JSON ``{"msgid": ..., "values": {...}}``; a plain string stored
before phrases existed loads as a phrase without values and reads as it was written.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

Gettext = Callable[[str], str]


def _english(text: str) -> str:
    return text


@dataclasses.dataclass(frozen=True, slots=True)
class Phrase:
    msgid: str
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def translated(self, gettext: Gettext = _english) -> str:
        # A value may be said too: a phrase, or a live DomainError (never stored).
        values = {name: value.translated(gettext) if hasattr(value, "translated") else value
                  for name, value in self.values.items()}
        text = gettext(self.msgid)
        if not values:
            return text
        try:
            return text % values
        except (KeyError, ValueError, TypeError):   # a broken translation never hides the text
            return self.msgid % values

    def __str__(self) -> str:
        return self.translated()

    def stored(self) -> dict:
        """JSON-ready, nested phrases included."""
        return {"msgid": self.msgid,
                "values": {name: value.stored() if isinstance(value, Phrase) else value
                           for name, value in self.values.items()}}

    @classmethod
    def load(cls, stored: str | Mapping) -> Phrase:
        if isinstance(stored, str):
            return cls(stored)
        return cls(stored["msgid"], {
            name: cls.load(value) if isinstance(value, Mapping) and "msgid" in value else value
            for name, value in (stored.get("values") or {}).items()})

    @classmethod
    def of(cls, error) -> Phrase:
        """A DomainError's sentence, kept to be said later."""
        return cls(error.template, dict(error.values))
