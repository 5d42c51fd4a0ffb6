"""The chair's closing of a steering committee's vote, whatever the committee votes on.

The committee votes on the contract, on an annual report and on an amendment, each in its
own flow (``ContractFlow``, ``AnnualReviewFlow``, ``AmendmentFlow``) but by the same rules:
a vote is decided early once its outcome cannot change (``flows._vote_is_decided``), and the
chair may end it once the quorum is reached. These are the parts of the three verbs
(``contracts.close_vote``, ``annual.close_report_vote``, ``amendments.amendment_close_vote``)
that do not depend on what is voted on; each verb checks its own object's state in between.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..errors import Conflict, NotAllowed
from ..history import UnitOfWork
from ..models import CommitteeVote, Contract, Process, User
from ..nodes import Gather

# Stable messages, so that tests and API clients can rely on them.
NOT_THE_CHAIR = gettext_noop("Only the chair of the steering committee may close the vote.")
QUORUM_NOT_REACHED = gettext_noop(
    "The quorum is not reached: %(cast)d vote(s) cast, %(quorum)d needed."
)
NOBODY_VOTED = gettext_noop("No member has voted yet: there is no vote to close.")


def require_chair(contract: Contract, actor: User) -> None:
    """Refuse (403) anyone but the chair; a contract without a committee has no chair."""
    committee = getattr(contract, "steering_committee", None)
    if committee is None or committee.chair_id != actor.pk:
        raise NotAllowed(_(NOT_THE_CHAIR))


def close_committee_vote(
    unit: UnitOfWork, *, process: Process, votes_in: Gather, actor: User
) -> CommitteeVote:
    """End the vote that ``process`` is gathering at ``votes_in`` (409 below the quorum or
    before the first vote): the votes not cast are cancelled and the flow concludes it, its
    history naming the chair (``vote.closed_by``)."""
    unit.drive(process)
    vote = CommitteeVote.objects.get(pk=process.data["vote"])
    cast = vote.tally().cast  # abstentions count toward the quorum
    if cast < vote.quorum:
        raise Conflict(_(QUORUM_NOT_REACHED) % {"cast": cast, "quorum": vote.quorum})
    vote.closed_by = actor
    vote.save(update_fields=["closed_by"])
    # The round's join exists from the first vote cast on (nodes.GatherActivation).
    if not votes_in.close(process):
        raise Conflict(_(NOBODY_VOTED))
    return vote
