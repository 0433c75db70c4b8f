"""What each call metric means: the one place every page, export and the API take it from.

Counting
    dials            every recorded call attempt.
    connects         calls that reached the lead in person: a conversation, a call
                     back request, a meeting, a qualification, a "not interested" or a
                     "do not call". A voicemail, a gatekeeper, a wrong number are not.
    conversations    connects where the lead talked business: conversation, call back,
                     meeting booked, qualified.
    meetings         calls whose outcome booked a meeting.
    qualified        calls that qualified the lead (a booked meeting qualifies too).
    callbacks set    calls whose outcome asked to be called back.
    callbacks kept   callbacks due in the period whose lead was called within
                     ``CALLBACK_GRACE`` of the promised time.

Rates (``None``, shown as "—", whenever the denominator is zero)
    connect rate = connects / dials; conversation rate = conversations / dials;
    meetings and qualified per 100 dials; dials per hour = dials / active hours,
    an active hour being a clock hour in which the caller made at least one call.

Per lead
    attempts to first connect   the number of the call (1st, 2nd, …) that first
                                connected a lead, averaged over leads first connected
                                in the period.
    speed-to-lead               from the lead's first ``assignment`` activity to its
                                first call, averaged over leads first called in the
                                period (leads never assigned are left out).

Funnel
    new → contacted → connected → qualified → handed off: leads that reached each
    stage or a later one, by their status now. Disqualified leads count as
    contacted when they were ever dialled. "won" comes from the pipeline database
    through ``set_won_source``; until a source is set the funnel ends at handed off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from leads.dial_models import OutcomeCategory as C
from leads.models import LeadStatus

CONNECTED = frozenset(
    {C.CONVERSATION, C.CALL_BACK, C.MEETING_BOOKED, C.QUALIFIED, C.NOT_INTERESTED, C.DO_NOT_CALL}
)
CONVERSATIONS = frozenset({C.CONVERSATION, C.CALL_BACK, C.MEETING_BOOKED, C.QUALIFIED})
MEETINGS = frozenset({C.MEETING_BOOKED})
QUALIFIED = frozenset({C.QUALIFIED, C.MEETING_BOOKED})
CALLBACKS = frozenset({C.CALL_BACK})
CALLBACK_GRACE = timedelta(hours=1)

# Drill-down groups: a figure's link names one of these and shows exactly its calls.
CALL_GROUPS: dict[str, frozenset[str]] = {
    "dials": frozenset(C),
    "connects": CONNECTED,
    "conversations": CONVERSATIONS,
    "meetings": MEETINGS,
    "qualified": QUALIFIED,
    "callbacks": CALLBACKS,
}

FUNNEL_STAGES = (
    LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.CONNECTED,
    LeadStatus.QUALIFIED, LeadStatus.HANDED_OFF,
)  # fmt: skip

# The additive sums a tally carries besides its per-category dial counts; the
# rollup tables have one column per name (leads.metrics_models._CallSums).
SUM_NAMES = (
    "talk_seconds", "active_hours", "first_calls", "first_connects",
    "first_connect_attempts", "speed_to_lead_calls", "speed_to_lead_seconds",
)  # fmt: skip


def ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    """part / whole × scale, or None when there is nothing to divide by."""
    return part * scale / whole if whole else None


@dataclass
class Tally:
    """The call figures of one slice (a rep, a list, a day, a whole period)."""

    by_category: Counter[str] = field(default_factory=Counter)
    sums: Counter[str] = field(default_factory=Counter)

    def add(self, category: str, calls: int, sums: Mapping[str, int]) -> None:
        self.by_category[category] += calls
        mine = self.sums
        for name in SUM_NAMES:
            if value := sums.get(name):
                mine[name] += value

    def merge(self, other: Tally) -> None:
        self.by_category.update(other.by_category)
        self.sums.update(other.sums)

    def count(self, categories: frozenset[str]) -> int:
        counts = self.by_category
        return sum(counts[category] for category in categories if category in counts)

    @property
    def dials(self) -> int:
        return sum(self.by_category.values())

    @property
    def connects(self) -> int:
        return self.count(CONNECTED)

    @property
    def conversations(self) -> int:
        return self.count(CONVERSATIONS)

    @property
    def meetings(self) -> int:
        return self.count(MEETINGS)

    @property
    def qualified(self) -> int:
        return self.count(QUALIFIED)

    @property
    def callbacks_set(self) -> int:
        return self.count(CALLBACKS)

    @property
    def connect_rate(self) -> float | None:
        return ratio(self.connects, self.dials)

    @property
    def conversation_rate(self) -> float | None:
        return ratio(self.conversations, self.dials)

    @property
    def meetings_per_100(self) -> float | None:
        return ratio(self.meetings, self.dials, 100)

    @property
    def qualified_per_100(self) -> float | None:
        return ratio(self.qualified, self.dials, 100)

    @property
    def dials_per_hour(self) -> float | None:
        return ratio(self.dials, self.sums["active_hours"])

    @property
    def attempts_to_first_connect(self) -> float | None:
        return ratio(self.sums["first_connect_attempts"], self.sums["first_connects"])

    @property
    def speed_to_lead_seconds(self) -> float | None:
        return ratio(self.sums["speed_to_lead_seconds"], self.sums["speed_to_lead_calls"])

    @property
    def talk_seconds(self) -> int:
        return self.sums["talk_seconds"]


@dataclass(frozen=True)
class Callbacks:
    due: int
    kept: int

    @property
    def kept_rate(self) -> float | None:
        return ratio(self.kept, self.due)


@dataclass(frozen=True)
class FunnelStage:
    label: str
    leads: int
    share: float | None  # of the leads at the first stage


def funnel(
    status_counts: Mapping[str, int], dialled_disqualified: int, won: int | None = None
) -> list[FunnelStage]:
    """Leads that reached each stage or a later one; ``won`` is appended when known."""
    reached: list[tuple[str, int]] = []
    for rank, stage in enumerate(FUNNEL_STAGES):
        later = {s.value for s in FUNNEL_STAGES[rank:]}
        count = sum(n for status, n in status_counts.items() if status in later)
        if rank == 0:
            count += status_counts.get(LeadStatus.DISQUALIFIED.value, 0)
        elif stage is LeadStatus.CONTACTED:
            count += dialled_disqualified
        reached.append((stage.label, count))
    if won is not None:
        reached.append(("Won", won))
    top = reached[0][1]
    return [FunnelStage(label, count, ratio(count, top)) for label, count in reached]


# The pipeline (a higher package) tells metrics how many deals were won, and for how
# much, without metrics importing it: it calls set_won_source once at start-up.
WonSource = Callable[[int, "object"], tuple[int, int]]
_won_source: list[WonSource] = []


def set_won_source(source: WonSource) -> None:
    """Register ``source(workspace_id, window) -> (deals won, value won)``."""
    _won_source[:] = [source]


def won_source() -> WonSource | None:
    return _won_source[0] if _won_source else None
