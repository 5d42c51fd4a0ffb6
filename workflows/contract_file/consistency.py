"""What a JSON Schema cannot say about a contract file: how its parts fit together.

Every code and username referred to is defined in the file, and defined once; signers and
representatives belong to their signatory's organisation, which has one signatory only; the
steering committee's chair sits in it and its quorum fits it; the period runs forwards; amounts
are exact euros. From the database: the reference is free, and an existing account belongs to
the organisation the file says.

The schema reports what is broken in the document; the checks here read only values of the
expected type and skip the others, and a reference into a section that is itself broken is not
reported as unknown, since the entry it names may be the broken one.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from ..models import Contract, User
from .amounts import amount_problem
from .problems import Path, Problem, place


def reference_taken_error(reference: str) -> str:
    """The problem line for a reference already in use (also raised on a concurrent import)."""
    return str(reference_taken_problem(reference))


def reference_taken_problem(reference: str) -> Problem:
    return Problem(("reference",), _reference_taken(reference))


def _reference_taken(reference: str) -> str:
    return _('contract "%(reference)s" already exists') % {"reference": reference}


def consistency_problems(document: dict, *, contract: Contract | None = None) -> list[Problem]:
    """Every inconsistency of a document, whatever shape the schema found it in.

    ``contract``: the contract the document describes, when it exists (a draft being written
    in Accord): its own reference is not taken.
    """
    check = _Checker(document, contract)
    check.header()
    check.people()
    check.diagnosis()
    check.working_groups()
    check.themes()
    check.steering_committee()
    check.coordinators()
    check.signatories()
    check.visas()
    return check.problems


def _name(value: Any) -> str | None:
    """A code or username to look up; None for a value the schema refuses anyway."""
    return value if isinstance(value, str) and value.strip() else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _objects(value: Any, path: Path) -> Iterator[tuple[Path, dict]]:
    """The objects of a list, each with its place; the schema reports the other items."""
    for index, item in enumerate(_list(value)):
        if isinstance(item, dict):
            yield (*path, index), item


def _date(value: Any) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class _Defined(dict[str, Path]):
    """What a section defines, code or username -> its place.

    ``complete`` is False when the section or one of its entries is broken: a name not found
    may then be that entry's, and is not reported, since the entry's problem already is.
    """

    complete = True

    def refers(self, name: str) -> bool | None:
        """True when defined, False when surely unknown, None when there is no telling."""
        if name in self:
            return True
        return False if self.complete else None


class _Checker:
    """Collects the problems section by section, once the sections defining names are read."""

    def __init__(self, document: dict, contract: Contract | None) -> None:
        self.document = document
        self.contract = contract
        self.problems: list[Problem] = []
        # username -> the code of its organisation when known (set by ``people``).
        self.organisation_of: dict[str, str | None] = {}
        # Sections that define what others refer to are read first, wherever they are.
        self.organisation_codes = self._define(
            "organisations",
            "code",
            _('duplicate organisation code "%(value)s" (first at %(first)s)'),
        )
        self.usernames = self._define(
            "people", "username", _('duplicate username "%(value)s" (first at %(first)s)')
        )
        self.group_codes = self._define(
            "working_groups",
            "code",
            _('duplicate working group code "%(value)s" (first at %(first)s)'),
        )

    def problem(self, path: Path, message: str, **params: Any) -> None:
        self.problems.append(Problem(path, message % params if params else message))

    def _define(self, section: str, key: str, duplicate: str) -> _Defined:
        defined = _Defined()
        entries = self.document.get(section)
        defined.complete = isinstance(entries, list)
        for index, entry in enumerate(_list(entries)):
            name = _name(entry.get(key)) if isinstance(entry, dict) else None
            if name is None:
                defined.complete = False
            else:
                self.unique(defined, name, (section, index, key), duplicate)
        return defined

    def unique(self, seen: dict[str, Path], name: str | None, path: Path, message: str) -> None:
        """Report ``name`` if an earlier entry had it; ``seen`` maps names to their place."""
        if name is None:
            return
        if name in seen:
            self.problem(path, message, value=name, first=place(seen[name]))
        else:
            seen[name] = path

    # --- References -----------------------------------------------------------------------

    def _refer(
        self, defined: _Defined, value: Any, path: Path, unknown: str, param: str
    ) -> str | None:
        """The name when it is defined; reported when surely not."""
        name = _name(value)
        known = None if name is None else defined.refers(name)
        if known is False:
            self.problem(path, unknown, **{param: name})
        return name if known else None

    def organisation(self, value: Any, path: Path) -> str | None:
        return self._refer(
            self.organisation_codes, value, path, _('unknown organisation "%(code)s"'), "code"
        )

    def person(self, value: Any, path: Path) -> str | None:
        return self._refer(
            self.usernames, value, path, _('unknown person "%(username)s"'), "username"
        )

    def organisation_list(self, values: Any, path: Path) -> None:
        for index, value in enumerate(_list(values)):
            self.organisation(value, (*path, index))

    def person_list(self, values: Any, path: Path) -> list[str | None]:
        """Each username of a list, None where unknown (or not knowable)."""
        return [self.person(value, (*path, index)) for index, value in enumerate(_list(values))]

    # --- Sections -------------------------------------------------------------------------

    def header(self) -> None:
        reference = _name(self.document.get("reference"))
        others = Contract.objects.all()
        if self.contract is not None:
            others = others.exclude(pk=self.contract.pk)
        if reference and others.filter(reference=reference).exists():
            self.problem(("reference",), _reference_taken(reference))
        period = self.document.get("period")
        if isinstance(period, dict):
            start, end = _date(period.get("start")), _date(period.get("end"))
            if start and end and end < start:
                self.problem(("period", "end"), _("the period ends before it starts"))

    def people(self) -> None:
        places: dict[str, Path] = {}  # username -> place of its known organisation
        for path, person in _objects(self.document.get("people"), ("people",)):
            organisation = self.organisation(person.get("organisation"), (*path, "organisation"))
            username = _name(person.get("username"))
            if username is not None and username not in self.organisation_of:
                self.organisation_of[username] = organisation
                if organisation is not None:
                    places[username] = (*path, "organisation")

        # An existing account is reused as it is: it must belong to the organisation the file says.
        existing = User.objects.filter(username__in=places).select_related("organisation")
        for user in existing:
            expected = self.organisation_of[user.username]
            actual = user.organisation.code if user.organisation else None
            if actual == expected:
                continue
            # Which organisation the account belongs to is not the importer's to learn.
            self.problem(
                places[user.username],
                _(
                    'the username "%(username)s" is already taken by an account that does not'
                    ' belong to "%(code)s"'
                ),
                username=user.username,
                code=expected,
            )

    def diagnosis(self) -> None:
        diagnosis = self.document.get("diagnosis")
        if isinstance(diagnosis, dict):
            self.organisation(diagnosis.get("author"), ("diagnosis", "author"))

    def working_groups(self) -> None:
        for path, group in _objects(self.document.get("working_groups"), ("working_groups",)):
            self.person_list(group.get("leads"), (*path, "leads"))
            self.person_list(group.get("members"), (*path, "members"))

    def themes(self) -> None:
        theme_codes: dict[str, Path] = {}
        action_codes: dict[str, Path] = {}  # unique across themes: one contract, one numbering
        for path, theme in _objects(self.document.get("themes"), ("themes",)):
            self.unique(
                theme_codes,
                _name(theme.get("code")),
                (*path, "code"),
                _('duplicate theme code "%(value)s" (first at %(first)s)'),
            )
            for action_path, action in _objects(theme.get("actions"), (*path, "actions")):
                self.action(action, action_path, action_codes)

    def action(self, action: dict, path: Path, codes: dict[str, Path]) -> None:
        self.unique(
            codes,
            _name(action.get("code")),
            (*path, "code"),
            _('duplicate action code "%(value)s" (first at %(first)s)'),
        )
        self.person(action.get("pilot"), (*path, "pilot"))
        self._refer(
            self.group_codes,
            action.get("working_group"),
            (*path, "working_group"),
            _('unknown working group "%(code)s"'),
            "code",
        )
        self.organisation_list(action.get("partners"), (*path, "partners"))
        for line_path, line in _objects(action.get("funding"), (*path, "funding")):
            self.organisation(line.get("funder"), (*line_path, "funder"))
            problem = amount_problem(line.get("amount"))
            if problem:
                self.problem((*line_path, "amount"), problem)

    def steering_committee(self) -> None:
        path: Path = ("steering_committee",)
        committee = self.document.get("steering_committee")
        if not isinstance(committee, dict):
            return
        chair = self.person(committee.get("chair"), (*path, "chair"))
        members = self.person_list(committee.get("members"), (*path, "members"))
        # With a member unknown, or no list at all, the committee's size is unknown.
        if not isinstance(committee.get("members"), list) or None in members:
            return
        if chair is not None and chair not in members:
            self.problem(
                (*path, "chair"),
                _('the chair "%(username)s" is not a member of the committee'),
                username=chair,
            )
        quorum, size = committee.get("quorum"), len(set(members))
        if isinstance(quorum, int) and not isinstance(quorum, bool) and quorum > size:
            self.problem(
                (*path, "quorum"),
                _("the quorum (%(quorum)d) is above the committee's size (%(size)d)"),
                quorum=quorum,
                size=size,
            )

    def coordinators(self) -> None:
        self.person_list(self.document.get("coordinators"), ("coordinators",))

    def signatories(self) -> None:
        seen: dict[str, Path] = {}  # organisation code -> place of its signatory
        for path, signatory in _objects(self.document.get("signatories"), ("signatories",)):
            organisation = self.organisation(signatory.get("organisation"), (*path, "organisation"))
            if organisation is not None and organisation in seen:
                self.problem(
                    (*path, "organisation"),
                    _('organisation "%(code)s" already has a signatory (%(first)s)'),
                    code=organisation,
                    first=place(seen[organisation]),
                )
            elif organisation is not None:
                seen[organisation] = path

            # Whoever signs, in person or as representative, does so for their own organisation.
            for key in ("signer", "represented_by"):
                username = self.person(signatory.get(key), (*path, key))
                belongs_to = self.organisation_of.get(username) if username else None
                if organisation and belongs_to and belongs_to != organisation:
                    self.problem(
                        (*path, key),
                        _('"%(username)s" is not a member of organisation "%(code)s"'),
                        username=username,
                        code=organisation,
                    )

    def visas(self) -> None:
        """An internal visa circuit (an organisation's, a signatory's) names people of that
        organisation, each once."""
        circuits = [
            (path, entry.get("code"), entry)
            for path, entry in _objects(self.document.get("organisations"), ("organisations",))
        ] + [
            (path, entry.get("organisation"), entry)
            for path, entry in _objects(self.document.get("signatories"), ("signatories",))
        ]
        for path, code, entry in circuits:
            organisation = _name(code)
            seen: dict[str, Path] = {}
            for index, value in enumerate(_list(entry.get("visas"))):
                where = (*path, "visas", index)
                username = self.person(value, where)
                self.unique(
                    seen, username, where, _('"%(value)s" gives a visa twice (first at %(first)s)')
                )
                belongs_to = self.organisation_of.get(username) if username else None
                if organisation and belongs_to and belongs_to != organisation:
                    self.problem(
                        where,
                        _('"%(username)s" is not a member of organisation "%(code)s"'),
                        username=username,
                        code=organisation,
                    )
