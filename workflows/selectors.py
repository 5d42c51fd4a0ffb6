"""Reads: who may see which contract, and whether a history chain is intact."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from .models import (
    GENESIS_HASH,
    Action,
    Contract,
    HistoryEntry,
    HistoryEvent,
    Signatory,
    User,
)


def contracts_visible_to(user: User) -> QuerySet[Contract]:
    """Contracts the user takes part in, in any role, or imported; staff see them all."""
    contracts = Contract.objects.all()
    if not user.is_authenticated:
        return contracts.none()
    if user.is_staff:
        return contracts
    takes_part = (
        Q(participants=user)
        | Q(coordinators=user)
        | Q(working_groups__leads=user)
        | Q(working_groups__members=user)
        | Q(steering_committee__members=user)
        | Q(steering_committee__chair=user)
        | Q(signatories__signer=user)
        | Q(signatories__represented_by=user)
        | Q(actions__pilot=user)
        # Whoever set the contract up may see it, even if the file does not name them.
        | Q(history__event=HistoryEvent.IMPORTED, history__actor=user)
    )
    return contracts.filter(pk__in=Contract.objects.filter(takes_part).values("pk"))


def transition_blockers(obj: Contract | Action, name: str) -> list[str] | None:
    """Why FSM transition `name` cannot fire now: None when it does not leave the current
    state at all, else the refusal messages of its unmet guards (empty when it may fire)."""
    fsm_transition = getattr(type(obj), name)._django_fsm.get_transition(obj.status)
    if fsm_transition is None:
        return None
    return [
        str(condition.refusal_message)
        for condition in fsm_transition.conditions
        if not condition(obj)
    ]


def contract_with_details(contracts: QuerySet[Contract]) -> QuerySet[Contract]:
    """Contracts with their actions and signatories, in a fixed number of queries."""
    return contracts.prefetch_related(
        Prefetch(
            "actions", queryset=Action.objects.select_related("theme", "working_group", "pilot")
        ),
        Prefetch(
            "signatories",
            queryset=Signatory.objects.select_related("organisation", "signer", "represented_by"),
        ),
    )


def contract_is_visible_to(contract: Contract, user: User) -> bool:
    return contracts_visible_to(user).filter(pk=contract.pk).exists()


@dataclass(frozen=True)
class ChainVerification:
    contract: Contract
    entries: int
    first_bad_seq: int | None
    problem: str = ""

    @property
    def valid(self) -> bool:
        return self.first_bad_seq is None


def history_verify(contract: Contract) -> ChainVerification:
    """Recompute the contract's chain: an edited, inserted or removed entry breaks it."""
    entries = HistoryEntry.objects.filter(contract=contract).select_related("contract")
    count = entries.count()
    previous_hash = GENESIS_HASH
    for expected_seq, entry in enumerate(entries.order_by("seq").iterator(), start=1):
        if entry.seq != expected_seq:
            return ChainVerification(
                contract, count, expected_seq, f"entry #{expected_seq} is missing"
            )
        if entry.prev_hash != previous_hash:
            return ChainVerification(
                contract, count, entry.seq, f"entry #{entry.seq} does not follow the previous one"
            )
        if entry.compute_hash() != entry.hash:
            return ChainVerification(contract, count, entry.seq, f"entry #{entry.seq} was altered")
        previous_hash = entry.hash
    return ChainVerification(contract, count, None)


def history_of(contract: Contract) -> QuerySet[HistoryEntry]:
    return contract.history.select_related("actor", "on_behalf_of").order_by("seq")


def user_may_import_contracts(user: User) -> bool:
    """Coordinators set contracts up: staff, or people granted the add-contract permission."""
    return user.is_authenticated and (user.is_staff or user.has_perm("workflows.add_contract"))
