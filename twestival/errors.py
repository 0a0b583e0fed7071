"""Errors the domain raises for people to read. The web and CLI layers map them to 4xx / exit 2."""


class DomainError(Exception):
    """Base: the message is one sentence fit to show to a user."""
    status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError, ValueError):
    status = 422


class BadRequest(InvalidInput):
    """Malformed rather than wrong: unparseable body, missing required header."""
    status = 400


class NotFound(DomainError, LookupError):
    status = 404


class Conflict(DomainError):
    status = 409
