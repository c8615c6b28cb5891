"""Change detection: compare each tracker's new facts with its current value.

Facts are evaluated once, per tracker, in publication order. For every fact:

- the first value a tracker ever gets is its **baseline** (recorded, not alerted);
  so are the changes found in the same pass, and those in versions a source's first
  crawl archived (a first crawl backfills history; a later edit of such a document is
  news like any other);
- a value the same as the current one (within the tolerance; dates at the
  granularity both share; figures of different forms whose intervals overlap)
  **corroborates** the change that set it; a finer date that agrees with a
  coarser one ("September 2026" after "2026") is a **refinement** (not alerted);
- a value that repeats an older value of the tracker, or comes from a report
  published before the current value's report, is a **conflict** (a stale copy):
  recorded once per value, alerted only when ``changes.alert_conflicts`` is set;
- an edit of an archived article that changes its value is a **revision** (with a
  word diff of the edited passage);
- any other value is a **change**. It is alerted once **confirmed**
  (:func:`crawler.changes.rules.confirmed`): by an official voice, or by independent
  outlets within a window of report dates. Until then it is recorded as unconfirmed,
  and it does not move the tracker.

Every new version of a ``page`` source's document is a revision of that page (a page
monitor's promise), alerted with its diff, whatever facts it states.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from crawler.archive.changes import ChangeStore, diff_json
from crawler.archive.store import Archive
from crawler.changes.records import (
    ALERTED,
    NOT_COMPARABLE,
    TEXT_KIND,
    ChangeStatus,
    ChangeType,
    FactRecord,
)
from crawler.changes.rules import (
    confirmed,
    finer,
    repeats,
    replaced,
    same_value,
    within,
)
from crawler.changes.textdiff import changed_passage, word_diff
from crawler.config.model import Config, Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detected:
    """One change row written (or confirmed) by :func:`detect_changes`."""

    id: int
    tracker: str
    type: str
    old_display: str | None
    new_display: str
    alerts: int  # alert rows queued (one per channel)
    status: str = ChangeStatus.CONFIRMED.value
    alerted: bool = False  # news: it would alert (whatever channels are configured)


class Detector:
    """Evaluates unevaluated facts against the trackers' current values."""

    def __init__(self, archive: Archive, config: Config):
        self.store = ChangeStore(archive)
        self.config = config
        self.trackers: dict[str, Tracker] = config.trackers
        self.channels = config.alerts.channels
        self.newest_version = 0  # the newest version this pass evaluates
        self._backfill_until: dict[str, int | None] = {}  # per tracker, read once a pass

    def run(self) -> list[Detected]:
        self.store.mark_untracked()
        pending = self.store.unevaluated()
        self.newest_version = max((f.version_id for f in pending), default=0)
        detected = [d for d in (self._evaluate(f) for f in pending) if d is not None]
        detected += self._page_revisions()
        if detected:
            log.info("detected %d change(s)", sum(d.alerted for d in detected))
        return detected

    # -------------------------------------------------------------- evaluation

    def _history(self, tracker: Tracker, fact: FactRecord) -> bool:
        """Whether the fact is history, recorded but never alerted.

        A source's first crawl is history; so is every fact the pass that set a tracker's
        baseline evaluated: a first crawl of feeds holding months of reports records them, it
        does not alert them. The baseline row keeps that pass's newest version, so a pass
        killed half-way stays history when the next one finishes it.
        """
        if tracker.name not in self._backfill_until:
            self._backfill_until[tracker.name] = self.store.backfill_until(tracker.name)
        until = self._backfill_until[tracker.name]
        return fact.history or until is None or fact.version_id <= until

    def _ambiguous(self, fact: FactRecord, siblings: list[FactRecord], tolerance: float
                   ) -> bool:
        """Whether the fact's version (its ``siblings``) states other values for the
        tracker too ("2,000" in one sentence, "1,500" in another): which one is the news
        is a guess, so neither is."""
        return any(not same_value(fact, o, tolerance) and not self._followed_in_sentence(o)
                   for o in siblings if o.granularity not in NOT_COMPARABLE)

    def _evaluate(self, fact: FactRecord) -> Detected | None:
        tracker = self.trackers.get(fact.tracker or "")
        if tracker is None or fact.granularity in NOT_COMPARABLE:
            self.store.mark(fact)
            return None
        tolerance = (
            tracker.tolerance if tracker.tolerance is not None else self.config.changes.tolerance
        )
        if self._followed_in_sentence(fact):
            # "from about 2,500 to fewer than 2,000": the first figure is where it came
            # from; the last one is the news.
            self.store.mark(fact)
            return None
        siblings = self.store.version_facts(fact)  # (read once: nothing written until a return)
        if self._ambiguous(fact, siblings, tolerance):
            log.info("%s: %s left alone: its report states other values too (%s)",
                     tracker.name, fact.display, fact.url)
            self.store.mark(fact)
            return None
        current = self.store.current(tracker.name)
        if current is None:
            return self._record(fact, tracker, ChangeType.BASELINE, None)
        change_id, cur = current
        before = self.store.previous_version_facts(fact)
        revising = self.config.changes.revisions and bool(before)
        if (revising and cur.doc == fact.doc and cur.version_id < fact.version_id
                and not any(same_value(o, cur, tolerance)
                            for o in [fact, *siblings])):
            # The article that set the current value was edited and no longer states it.
            return self._record(fact, tracker, ChangeType.REVISION, cur)
        if any(same_value(fact, b, tolerance) for b in before):
            self.store.mark(fact)  # unchanged in this revision: evaluated with the earlier one
            return None
        if same_value(fact, cur, tolerance):
            if finer(fact, cur) and fact.day >= cur.day:
                return self._record(fact, tracker, ChangeType.REFINEMENT, cur)
            self.store.corroborate(change_id, fact, cur)
            return None
        # A stale copy: an older report (but an edit of an older article is news), or a
        # restatement of a value the current one replaced (not one it merely refined).
        older: list[FactRecord] | None = None  # the values the tracker held before, read once

        def older_values() -> list[FactRecord]:
            nonlocal older
            if older is None:
                older = self.store.older_values(tracker.name, cur)
            return older

        stale = (not before and fact.day < cur.day) or any(
            repeats(fact, old, tolerance) and not same_value(old, cur, tolerance)
            for old in older_values()
        )
        if stale:
            earlier = next((cid for cid, f in self.store.conflict_with(tracker.name)
                            if repeats(fact, f, tolerance)), None)
            if earlier is not None:  # the same stale value again: one conflict, more copies
                self.store.corroborate(earlier, fact, cur)
                return None
            return self._record(fact, tracker, ChangeType.CONFLICT, cur)
        if revising:
            old = replaced(fact, before)
            if any(same_value(old, v, tolerance)
                   for v in [cur, *older_values()]):
                # the edit moves a value the tracker held: a revision, with its diff
                return self._record(fact, tracker, ChangeType.REVISION, old)
        # (an edit of a statement the tracker never took is a new statement like any other)
        return self._new_value(fact, tracker, cur, tolerance)

    def _new_value(self, fact: FactRecord, tracker: Tracker, cur: FactRecord,
                   tolerance: float) -> Detected | None:
        """A value other than the current one: confirmed now, later, or not yet.

        A pending change of the same value takes the fact as one more statement; the
        window counts from any of its statements, and only statements within the window of
        this one count as voices.
        """
        rule = self.config.changes.confirm
        for pending in self.store.pending(tracker.name, self.store.base(tracker.name)):
            first = pending.statements[0]
            if not same_value(fact, first, tolerance):
                continue
            recent = [s for s in pending.statements if within(fact, s, rule.window)]
            if not recent:
                continue  # too long ago: a change of its own
            if not confirmed([*recent, fact], cur, rule):
                self.store.corroborate(pending.change_id, fact, first)
                return None
            alerted = not self._history(tracker, fact)
            channels = self.channels if alerted else []
            self.store.confirm(pending.change_id, fact, cur, channels)
            log.info("%s change confirmed: %s -> %s (%s)", tracker.name, cur.display,
                     first.display, fact.url)
            return Detected(pending.change_id, tracker.name, ChangeType.CHANGE.value,
                            cur.display, first.display, len(channels),
                            ChangeStatus.CONFIRMED.value, alerted)
        status = (ChangeStatus.CONFIRMED if confirmed([fact], cur, rule)
                  else ChangeStatus.UNCONFIRMED)
        return self._record(fact, tracker, ChangeType.CHANGE, cur, status)

    def _followed_in_sentence(self, fact: FactRecord) -> bool:
        """Whether the same sentence moves this tracker on to a later figure ("from X to Y")."""
        nxt = self.store.next_in_sentence(fact)
        if nxt is None:
            return False
        between = self.store.version_text(fact.version_id)[fact.end:nxt]
        return bool(re.search(r"\bto\b", between)) and len(between) < 80

    def _record(self, fact: FactRecord, tracker: Tracker, type_: ChangeType,
                old: FactRecord | None, status: ChangeStatus = ChangeStatus.CONFIRMED
                ) -> Detected:
        diff = None
        if type_ == ChangeType.REVISION and old is not None:
            diff = diff_json(self._diff(old.version_id, fact.version_id))
        news = (type_ in ALERTED and status == ChangeStatus.CONFIRMED) or (
            type_ == ChangeType.CONFLICT and self.config.changes.alert_conflicts)
        alerted = news and type_ != ChangeType.BASELINE and not self._history(tracker, fact)
        channels = self.channels if alerted else []
        change_id = self.store.record({
            "story": fact.story, "tracker": tracker.name, "kind": tracker.kind,
            "type": type_.value, "status": status.value,
            "old_value": old.value if old else None, "new_value": fact.value,
            "old_display": old.display if old else None, "new_display": fact.display,
            "old_fact_id": old.id if old else None, "new_fact_id": fact.id,
            "document_id": fact.doc, "diff": diff,
            "backfill_until": self.newest_version if type_ == ChangeType.BASELINE else None,
        }, channels, fact)
        if type_ == ChangeType.BASELINE:
            self._backfill_until[tracker.name] = self.newest_version
        log.log(logging.INFO if type_ != ChangeType.BASELINE else logging.DEBUG,
                "%s %s%s: %s -> %s (%s)", tracker.name, type_.value,
                " (unconfirmed)" if status == ChangeStatus.UNCONFIRMED else "",
                old.display if old else "-", fact.display, fact.url)
        return Detected(change_id, tracker.name, type_.value, old.display if old else None,
                        fact.display, len(channels), status.value, alerted)

    def _diff(self, old_version: int, new_version: int) -> list[tuple[str, str]]:
        ops = word_diff(self.store.version_text(old_version),
                        self.store.version_text(new_version))
        return changed_passage(ops)

    # -------------------------------------------------------------- watched pages

    def _page_revisions(self) -> list[Detected]:
        """Every new version of a `page` source's document is a revision alert."""
        pages = [s.name for s in self.config.sources if s.type == "page"]
        out = []
        for rev in self.store.page_revisions(pages):
            ops = self._diff(rev.previous_id, rev.version_id)
            alerted = not rev.history
            channels = self.channels if alerted else []
            change_id = self.store.record({
                "story": None, "tracker": rev.source, "kind": TEXT_KIND,
                "type": ChangeType.REVISION.value, "status": ChangeStatus.CONFIRMED.value,
                "old_value": str(rev.previous_id), "new_value": str(rev.version_id),
                "old_display": f"version {rev.previous_id}",
                "new_display": f"version {rev.version_id}",
                "document_id": rev.document_id, "diff": json.dumps([list(o) for o in ops]),
            }, channels, None)
            log.info("%s: page revised (version %d -> %d)", rev.source, rev.previous_id,
                     rev.version_id)
            out.append(Detected(change_id, rev.source, ChangeType.REVISION.value,
                                f"version {rev.previous_id}", f"version {rev.version_id}",
                                len(channels), ChangeStatus.CONFIRMED.value, alerted))
        return out


def detect_changes(archive: Archive, config: Config) -> list[Detected]:
    """Evaluate every fact not yet evaluated; returns the change rows written."""
    return Detector(archive, config).run()
