"""Errors the domain raises for people to read. The web and CLI layers map them to 4xx / exit 2."""


class DomainError(Exception):
    """Base: the message is one sentence fit to show to a user.

    The English text is also the catalogue's msgid: values go in as named arguments
    (`InvalidInput("at most %(limit)s characters", limit=200)`), so the web and CLI layers can
    say it in the reader's language (`translated`). `message` is the English sentence.
    """
    status = 422

    def __init__(self, message: str, **values):
        self.template, self.values = message, values
        self.message = message % values if values else message
        super().__init__(self.message)

    def translated(self, gettext) -> str:
        text = gettext(self.template)
        try:
            return text % self.values if self.values else text
        except (KeyError, ValueError, TypeError):   # a broken translation never hides the error
            return self.message


class InvalidInput(DomainError, ValueError):
    status = 422


class BadRequest(InvalidInput):
    """Malformed rather than wrong: unparseable body, missing required header."""
    status = 400


class NotFound(DomainError, LookupError):
    status = 404


class Conflict(DomainError):
    status = 409
