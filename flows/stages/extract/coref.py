"""Cross-document event coreference: reports of one event, from any outlet and any run, become one
canonical event.

Agreements match when their names agree (full name, short name, or a short name that is the full
name's initials) and their party sets nest (a report that names only some parties of the same named
agreement still merges), with dates at most `NAMED_DATE_GAP` apart; an unnamed agreement needs the
same non-empty party set and dates (or, without dates, report times) close together. Meetings need
two shared participants and close dates; exercises the same name; policy decisions the same actor,
object and amount. The warehouse's events take part as candidates, so a later run adds to them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flows.records import content_key
from flows.stages.extract.events import (
    ArticleEvent,
    EventHit,
    best_location,
    name_key,
    names_compatible,
)
from flows.stages.extract.gazetteer import EntityRef
from flows.stages.extract.patterns import STATUS_PROGRESS

NAMED_DATE_GAP = timedelta(days=400)
UNNAMED_DATE_GAP = timedelta(days=60)
UNDATED_REPORT_GAP = timedelta(days=60)
MEETING_DATE_GAP = timedelta(days=3)
MEETING_REPORT_GAP = timedelta(days=7)


@dataclass
class Report:
    """One article's view of an event."""

    article_id: str
    source: str
    seen_at: datetime
    event: ArticleEvent


@dataclass
class CanonicalEvent:
    event_id: str
    event_type: str
    names: Counter = field(default_factory=Counter)
    short_names: Counter = field(default_factory=Counter)
    parties: dict[str, EntityRef] = field(default_factory=dict)
    signers: dict[str, EntityRef] = field(default_factory=dict)
    key: str | None = None
    reports: list[Report] = field(default_factory=list)
    prior_row: dict | None = None
    prior_arguments: list[tuple[str, str]] = field(default_factory=list)
    # per prior article: (seen_at, source, status_in_article)
    prior_reports: dict[str, tuple[datetime | None, str | None, str | None]] = field(default_factory=dict)
    dates: list[tuple[datetime, date]] = field(default_factory=list)
    locations: list[EntityRef] = field(default_factory=list)

    party_support: Counter = field(default_factory=Counter)
    signer_support: Counter = field(default_factory=Counter)

    @property
    def name_keys(self) -> set[str]:
        return {name_key(n) for n in self.names}

    @property
    def short_keys(self) -> set[str]:
        return {s.casefold() for s in self.short_names}

    def supported_parties(self) -> list[EntityRef]:
        return _supported(self.parties, self.party_support)

    def supported_signers(self) -> list[EntityRef]:
        return _supported(self.signers, self.signer_support)

    @property
    def last_seen(self) -> datetime | None:
        times = [r.seen_at for r in self.reports] + [t for t, _, _ in self.prior_reports.values() if t]
        if self.prior_row and self.prior_row.get("last_seen"):
            times.append(self.prior_row["last_seen"])
        return max(times) if times else None

    def event_dates(self) -> list[date]:
        out = [d for _, d in self.dates]
        if self.prior_row and self.prior_row.get("event_date"):
            out.append(self.prior_row["event_date"])
        return out

    def add(self, report: Report) -> None:
        ev = report.event
        self.reports.append(report)
        self.names.update(ev.names)
        self.short_names.update(ev.short_names)
        for ref_id, ref in ev.parties.items():
            self.parties.setdefault(ref_id, ref)
            self.party_support[ref_id] += 1
        for ref_id, ref in ev.signers.items():
            self.signers.setdefault(ref_id, ref)
            self.signer_support[ref_id] += 1
        if ev.key and not self.key:
            self.key = ev.key
        if ev.event_date is not None:
            self.dates.append((report.seen_at, ev.event_date))
        if ev.location is not None:
            self.locations.append(ev.location)


# A party (or signer) named by fewer than this share of the reports that name the best-supported one is
# dropped from the canonical event: one article's misreading must not leak into the merged event.
MIN_SUPPORT_SHARE = 0.34


def _supported(refs: dict[str, EntityRef], support: Counter) -> list[EntityRef]:
    if not refs:
        return []
    top = max(support[r] for r in refs)
    return sorted(
        (ref for ref_id, ref in refs.items() if support[ref_id] >= MIN_SUPPORT_SHARE * top),
        key=lambda r: r.name,
    )


def merge_events(reports: list[Report], prior_events: list[CanonicalEvent]) -> list[CanonicalEvent]:
    """Assign every report to a canonical event (a prior one or a new one); returns the touched events."""
    candidates = list(prior_events)
    touched: dict[str, CanonicalEvent] = {}
    for report in sorted(reports, key=lambda r: (r.seen_at, r.article_id, r.event.hits[0].start)):
        best, best_score = None, 0.0
        for canonical in candidates:
            if canonical.event_type != report.event.event_type:
                continue
            score = _match_score(canonical, report)
            if score > best_score:
                best, best_score = canonical, score
        if best is None:
            first_hit: EventHit = report.event.hits[0]
            best = CanonicalEvent(
                content_key("event", report.event.event_type, report.article_id, str(first_hit.start)),
                report.event.event_type,
            )
            candidates.append(best)
        best.add(report)
        touched[best.event_id] = best
    return list(touched.values())


def _match_score(canonical: CanonicalEvent, report: Report) -> float:
    ev = report.event
    if canonical.event_type == "AGREE":
        return _agreement_score(canonical, report)
    have, new = set(canonical.parties), set(ev.parties)
    near = _reported_near(
        canonical, report.seen_at, MEETING_REPORT_GAP if ev.event_type == "MEET" else UNDATED_REPORT_GAP
    )
    if ev.event_type == "MEET":
        if len(have & new) < 2:
            return 0.0
        if not _dates_close(canonical, ev.event_date, MEETING_DATE_GAP, require_both=False) or (
            ev.event_date is None and not near
        ):
            return 0.0
        return 1.0 + len(have & new) / max(len(have | new), 1)
    if ev.event_type == "EXERCISE":
        if ev.key and canonical.key:
            return 2.0 if ev.key == canonical.key else 0.0
        if have and have == new and near:
            return 1.0
        return 0.0
    if ev.event_type == "POLICY":
        return 2.0 if ev.key and ev.key == canonical.key else 0.0
    return 0.0


def _agreement_score(canonical: CanonicalEvent, report: Report) -> float:
    ev = report.event
    same_name = names_compatible(canonical.name_keys, canonical.short_keys, ev.name_keys, ev.short_keys)
    if same_name is False:
        return 0.0
    have, new = set(canonical.parties), set(ev.parties)
    if same_name:
        if have and new and not (have <= new or new <= have):
            return 0.0
        if not _dates_close(canonical, ev.event_date, NAMED_DATE_GAP, require_both=False):
            return 0.0
        return 3.0 + (1.0 if have == new else 0.0)
    if len(have) < 2 or have != new:
        return 0.0  # an unnamed agreement is identified by its pair (or more) of parties, never by one
    if ev.event_date is not None and canonical.event_dates():
        return 2.0 if _dates_close(canonical, ev.event_date, UNNAMED_DATE_GAP, require_both=True) else 0.0
    return 1.5 if _reported_near(canonical, report.seen_at, UNDATED_REPORT_GAP) else 0.0


def _dates_close(canonical: CanonicalEvent, when: date | None, gap: timedelta, require_both: bool) -> bool:
    dates = canonical.event_dates()
    if when is None or not dates:
        return not require_both or (when is None and not dates)
    return any(abs(when - d) <= gap for d in dates)


def _reported_near(canonical: CanonicalEvent, seen_at: datetime, gap: timedelta) -> bool:
    last = canonical.last_seen
    return last is None or abs(seen_at - last) <= gap


def event_status(canonical: CanonicalEvent) -> str | None:
    """The status of the latest report by publication time; a tie goes to the later stage."""
    reports: list[tuple[datetime, int, str]] = []
    for report in canonical.reports:
        status = report.event.status
        if status:
            reports.append((report.seen_at, STATUS_PROGRESS[status], status))
    current = {r.article_id for r in canonical.reports}
    for article_id, (seen_at, _, status) in canonical.prior_reports.items():
        if status and seen_at and article_id not in current:
            reports.append((seen_at, STATUS_PROGRESS.get(status, 0), status))
    if not reports:
        return canonical.prior_row.get("status") if canonical.prior_row else None
    return max(reports)[2]


def event_date(canonical: CanonicalEvent) -> date | None:
    if canonical.dates:
        return max(canonical.dates)[1]  # what the latest dated report says
    return canonical.prior_row.get("event_date") if canonical.prior_row else None


def event_location(canonical: CanonicalEvent) -> tuple[str | None, EntityRef | None]:
    ref = best_location(canonical.locations)
    if ref is not None:
        return ref.name, ref
    return (canonical.prior_row.get("location") if canonical.prior_row else None), None
