"""Domain errors: one family, turned into 4xx answers by the API and into messages by pages."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A request Accord refuses for a reason the user can understand and act upon."""

    status_code = 400

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.extra = extra or {}


class NotAllowed(ApplicationError):
    """The caller may not do this (403)."""

    status_code = 403


class Conflict(ApplicationError):
    """Not possible in the object's current state, or already done by someone else (409)."""

    status_code = 409


# A problem's place in a contract file: keys and list indices from the document's root.
Place = tuple[str | int, ...]


class InvalidContractFile(ApplicationError):
    """A contract file with problems; ``errors`` lists each with its place in the file.

    ``places`` gives the same problems as (place, message) pairs when they are known, so that
    a form can show each beside its field.
    """

    def __init__(
        self, message: str, errors: list[str], places: list[tuple[Place, str]] | None = None
    ) -> None:
        super().__init__(message, {"errors": errors})
        self.errors = errors
        self.places = places or []


class ContractFileTooLarge(ApplicationError):
    status_code = 413


class AttachmentTooLarge(ApplicationError):
    status_code = 413


class DocumentChanged(Conflict):
    """The document changed between the seal's preparation (after the last signature's
    commit, outside any transaction) and its storing, at every attempt: the prepared seal
    covers a stale revision and is never stored (``signatures.tasks`` retries it)."""


class ServiceUnavailable(ApplicationError):
    """A remote service Accord depends on (the time-stamping authority) did not answer: the
    request changed nothing and may be tried again (503)."""

    status_code = 503
