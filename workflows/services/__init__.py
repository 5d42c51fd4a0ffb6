"""The verbs: what people do to a contract, one public function each, and the only door.

Pages, the API and the commands call these and nothing else to change a contract. Each one
does all its verb means: it opens a ``UnitOfWork`` (``workflows.history``: one transaction
that first locks the contract's row, so that two people acting on the same contract at once
are served one after the other, and the second sees what the first did), checks who acts
(the permission declared on the FSM transition, or who holds the task), fires the transitions
(``workflows.transitions``), drives the flows (``workflows.flows``: tasks opened, held,
cancelled) and records the history, to which the notifications and the signatures react when
the unit finishes.

- ``contracts``: launch the review, record the deliberation, suspend, resume, withdraw,
  close; close the committee's vote; follow an action up.
- ``tasks``: decide a task.
- ``account``: a person's own two-factor authentication (enrol, recovery codes, remove).
- ``absences``: declare or cancel an absence; hand tasks over (daily).
- ``imports``: create a contract from a contract file.
- ``authoring``: create a draft contract in Accord, write its parts, add its action sheets.
- ``sheets``: write an action sheet (every save a version).
- ``amendments``: open an amendment on a signed contract, write its proposals (sheets added,
  modified, removed; signatories added; the period extended), withdraw it; launch its
  circuit, suspend and resume it, close its committee vote (the chair), record its
  deliberation.
- ``follow_up``: record an indicator's value for a year (signed contracts); a pilot's annual
  report (its steps, run by ``tasks.task_decide``).
- ``annual``: launch a year's annual review, close its collection of reports, close the
  committee's vote on the annual report.
- ``convention``: adjust the contract's convention text (preamble, articles) while a draft.
- ``attachments``: join a file to a contract or to an action's sheet.
- ``meetings``: convene the steering committee, change or cancel its meeting.
- ``observers``: add or remove a contract's observers; comment on an action sheet.
- ``reminders``: remind the holders of tasks due soon or overdue, alert the coordinators.
"""

from ..selectors import draft_problems
from ..transitions import CONTRACT_TRANSITION_NOT_ALLOWED, NOT_A_COORDINATOR
from .absences import delegation_cancel, delegation_declare, delegations_apply
from .amendments import (
    amendment_action_add,
    amendment_action_change,
    amendment_action_remove,
    amendment_change_discard,
    amendment_close_vote,
    amendment_edit,
    amendment_launch_review,
    amendment_open,
    amendment_record_deliberation,
    amendment_resume,
    amendment_signatory_add,
    amendment_signatory_remove,
    amendment_suspend,
    amendment_withdraw,
)
from .annual import (
    ALREADY_LAUNCHED,
    NO_ACTION_RUNNING,
    NOT_SIGNED,
    AnnualReviewNotFound,
    close_report_collection,
    close_report_vote,
    launch_annual_review,
)
from .attachments import attachment_add
from .authoring import action_add, action_remove, contract_create, contract_edit
from .contracts import (
    action_follow_up,
    close,
    close_vote,
    fire_coordinator_transition,
    launch_review,
    record_deliberation,
    require_coordinator,
    resume,
    suspend,
    withdraw,
)
from .convention import convention_update
from .follow_up import Measure, indicator_value_record
from .imports import contract_import
from .meetings import committee_of, meeting_cancel, meeting_schedule, meeting_update
from .observers import comment_add, observer_add, observer_remove
from .opinions import opinion_ask
from .reminders import reminders_send
from .sheets import action_sheet_save
from .tasks import (
    NOT_YOUR_TASK,
    OPEN_STATUSES,
    TASK_ALREADY_DONE,
    TASK_BEING_COMPLETED,
    TASK_CANCELLED,
    TASK_ON_HOLD,
    ClientInfo,
    Decision,
    SignaturePasswordRefused,
    SigningCodeMissing,
    SigningCodeRefused,
    SigningLockedOut,
    holder_refusal,
    state_refusal,
    task_decide,
    task_undo,
)

__all__ = [
    "ALREADY_LAUNCHED",
    "CONTRACT_TRANSITION_NOT_ALLOWED",
    "NOT_A_COORDINATOR",
    "NOT_SIGNED",
    "NOT_YOUR_TASK",
    "NO_ACTION_RUNNING",
    "OPEN_STATUSES",
    "TASK_ALREADY_DONE",
    "TASK_BEING_COMPLETED",
    "TASK_CANCELLED",
    "TASK_ON_HOLD",
    "AnnualReviewNotFound",
    "ClientInfo",
    "Decision",
    "Measure",
    "SignaturePasswordRefused",
    "SigningCodeMissing",
    "SigningCodeRefused",
    "SigningLockedOut",
    "action_add",
    "action_follow_up",
    "action_remove",
    "action_sheet_save",
    "amendment_action_add",
    "amendment_action_change",
    "amendment_action_remove",
    "amendment_change_discard",
    "amendment_close_vote",
    "amendment_edit",
    "amendment_launch_review",
    "amendment_open",
    "amendment_record_deliberation",
    "amendment_resume",
    "amendment_signatory_add",
    "amendment_signatory_remove",
    "amendment_suspend",
    "amendment_withdraw",
    "attachment_add",
    "close",
    "close_report_collection",
    "close_report_vote",
    "close_vote",
    "comment_add",
    "committee_of",
    "contract_create",
    "contract_edit",
    "contract_import",
    "convention_update",
    "delegation_cancel",
    "delegation_declare",
    "delegations_apply",
    "draft_problems",
    "fire_coordinator_transition",
    "holder_refusal",
    "indicator_value_record",
    "launch_annual_review",
    "launch_review",
    "meeting_cancel",
    "meeting_schedule",
    "meeting_update",
    "observer_add",
    "observer_remove",
    "opinion_ask",
    "record_deliberation",
    "reminders_send",
    "require_coordinator",
    "resume",
    "state_refusal",
    "suspend",
    "task_decide",
    "task_undo",
    "withdraw",
]
