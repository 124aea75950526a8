//! The write thread's side of the links: applying what peers send (events, summaries,
//! certificates, revocations, reference data) and queueing what they need (welcomes,
//! restores, renumbered outboxes).

use crate::frame::{Item, Payload, PayloadKind, Record};
use crate::{codec, sign, CaseSummary, Event, EventBody, EventId, Hlc, NodeCode};
use tracing::{error, info, warn};

use ed25519_dalek::VerifyingKey;

use super::{Change, EngineError, Receipt, Writer};
use crate::case::Case;
use crate::reference::Kind;
use crate::relay::Revoked;
use crate::relay::{event_bytes, DirectoryError};
use crate::store::{NodeMeta, Queued};
use crate::verify::{Checked, Decoded};

/// An event item as it came off a link.
struct Arrival<'a> {
    from: NodeCode,
    item: &'a Item,
    /// The key the link's check verified the event with, if it did.
    verified_with: Option<VerifyingKey>,
}

impl Writer {
    /// Applies a batch from `from`, item by item; one bad item is skipped on its own.
    pub(super) fn receive(
        &mut self,
        from: NodeCode,
        checked: Checked,
    ) -> Result<Receipt, EngineError> {
        let Checked { batch, mut items } = checked;
        // A link with nothing received yet takes the peer's numbering as it comes (a restored
        // node starts empty while its parent's sequence goes on).
        let expected = match self.router.received(from) {
            0 => batch.first,
            n => n + 1,
        };
        let plan = batch.check_sequence(expected).map_err(EngineError::Link)?;
        let mut rejected = Vec::new();
        for (seq, item) in batch.fresh(&plan) {
            let decoded = items
                .get_mut((seq - batch.first) as usize)
                .and_then(Option::take);
            match self.receive_item(from, seq, item, decoded) {
                Ok(()) => {}
                Err(EngineError::Invalid(reason)) => {
                    warn!(node = %self.code, peer = %from, seq, %reason, "item rejected");
                    self.commit(
                        self.meta,
                        Change {
                            received: Some((from, seq)),
                            ..Change::default()
                        },
                    );
                    rejected.push(reason);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Receipt {
            ack_upto: plan.ack_upto(),
            rejected,
        })
    }

    /// Applies one item; `decoded` is what the link's check made of it, if anything.
    fn receive_item(
        &mut self,
        from: NodeCode,
        seq: u64,
        item: &Item,
        decoded: Option<Decoded>,
    ) -> Result<(), EngineError> {
        let (payload, verified_with) = match decoded {
            Some(d) => (d.payload, d.verified_with),
            None => {
                let payload = item
                    .decode()
                    .map_err(|e| EngineError::Invalid(format!("item {seq} from {from}: {e}")))?;
                (payload, None)
            }
        };
        let mut change = Change {
            received: Some((from, seq)),
            ..Change::default()
        };
        let mut meta = self.meta;
        match payload {
            Payload::Event(event) => {
                let arrival = Arrival {
                    from,
                    item,
                    verified_with,
                };
                self.receive_event(arrival, event, &mut meta, &mut change)?
            }
            // This node's own summary, sent back by its parent with a restore's copy: only its
            // clock is taken. The summaries this node wrote before its disk was lost may be
            // dated later than anything the copy's events carry (a sweep on a clock that ran
            // ahead); its next summaries must be dated after them, or the ancestors, which keep
            // the latest of as many events, would keep the lost store's (found by
            // tests/simulation.rs, seed 1979 of a long run: a deadline moved by a calendar
            // notice never reached the city).
            Payload::Summary(summary)
                if Some(from) == self.router.parent && summary.owner == self.code =>
            {
                meta.hlc = Hlc::tick(Hlc::observe(meta.hlc, summary.as_of), 0);
            }
            Payload::Summary(summary) => self.receive_summary(from, item, summary, &mut change)?,
            Payload::Record(Record::Certificate { code, der }) => {
                self.take_certificate(code, der, Some(from), &mut change)?
            }
            Payload::Record(Record::Revocation {
                code,
                serials,
                revoked_at,
            }) => {
                if Some(from) != self.router.parent {
                    return Err(EngineError::Invalid(format!(
                        "revocation of {code} from {from}: revocations come only from above"
                    )));
                }
                let entry = Revoked {
                    code,
                    serials,
                    revoked_at,
                };
                self.take_revocation(entry, Some(from), &mut change)?;
            }
            Payload::Record(Record::Catalog(text)) => {
                self.take_reference(Kind::Catalog, text, from, &mut change)?
            }
            Payload::Record(Record::Calendar(text)) => {
                self.take_reference(Kind::Calendar, text, from, &mut change)?
            }
        }
        self.commit(meta, change);
        Ok(())
    }

    fn receive_event(
        &mut self,
        arrival: Arrival<'_>,
        event: Event,
        meta: &mut NodeMeta,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let Arrival { from, item, .. } = arrival;
        let origin = event.id.origin;
        let key = self.router.directory.key(origin).ok_or_else(|| {
            EngineError::Invalid(format!(
                "event {origin}:{} has no certificate for its origin in the directory",
                event.id.seq
            ))
        })?;
        // Checked on the link with the key the directory still holds: nothing to redo.
        if arrival.verified_with.as_ref() != Some(key) {
            sign::verify(&event, key)
                .map_err(|e| EngineError::BadSignature(format!("{e} (relayed by {from})")))?;
        }
        // `(origin, seq)` names one event. Another one, validly signed, under an id held
        // already means two nodes sign as `origin` — a cloned node, or one whose store was lost
        // and that started afresh instead of being restored. It used to be dropped silently as
        // a duplicate (tests/attacks.rs, `two_nodes_with_the_same_code_raise_an_alert`). The
        // event held first stays; this one is rejected and passed on to nobody, loudly. The
        // link stays up: the peer that brought it may be an honest relay.
        let held = self.event(&event.id)?;
        if held.as_ref().is_some_and(|held| *held != event) {
            let id = format!("{origin}:{}", event.id.seq);
            error!(node = %self.code, peer = %from, alert = "equivocation", event = %id,
                "ALERT: two different events signed as {id}: two nodes use the key of {origin}");
            return Err(EngineError::Invalid(format!(
                "event {id} differs from the event held under the same id: two nodes sign as \
                 {origin} (a cloned node, or a store lost and not restored?)"
            )));
        }
        self.router
            .route_event(&item.bytes, &item.to, Some(from), &mut change.queue)?;
        if held.is_some() {
            return Ok(());
        }
        // Past everything seen, by one count: the summary written below must be newer than
        // any this node wrote before, even when the event sorts earlier (a late arrival). Only
        // the counter moves: the wall part follows the events, not this node's clock.
        meta.hlc = Hlc::tick(Hlc::observe(meta.hlc, event.hlc), 0);
        if origin == self.code {
            // Our own event coming back: a restore from the parent's copy. Never reuse its
            // sequence number, nor the case number of a submission. (The case numbers of
            // submissions the copy lacks are skipped when the restore completes:
            // `numbering.rs`.)
            meta.last_seq = meta.last_seq.max(event.id.seq);
            if let EventBody::Submit(_) = event.body {
                let no = event.case_no;
                if meta.case_day.is_none_or(|d| d < no.date) {
                    (meta.case_day, meta.case_seq) = (Some(no.date), no.seq);
                } else if meta.case_day == Some(no.date) {
                    meta.case_seq = meta.case_seq.max(no.seq);
                }
            }
        }
        let before = self.case(&event.case_no)?;
        let case = self.fold_in(before.clone(), &event)?;
        self.relay_to_involved(from, item, &event, before.as_ref(), case.as_ref(), change)?;
        if let Some(case) = &case {
            self.summarise(case, meta.hlc, change)?;
            self.summarise_dropped(before.as_ref(), case, change);
        }
        change.event = Some((event, case));
        Ok(())
    }

    /// A node that an event has just dropped from a case — a late event rejected on refold the
    /// forward or joint review that had involved it — keeps one last summary of its fold, dated
    /// at the case's latest event.
    ///
    /// Why: while involved it wrote its own summaries, dated by its own hybrid clock, which
    /// may run ahead of the owner's (another node's events, a clock set forward). Dropped, it
    /// stops writing them, and its last one — e.g. "joint review, owned by the county" — kept
    /// beating the owner's later summaries ("withdrawn, owned by the township") by date: the
    /// city supervised a state the case no longer had, for good (found by tests/chaos.rs).
    /// Dated at the case's latest event, this summary gives way to any the owner sends later.
    fn summarise_dropped(&self, before: Option<&Case>, after: &Case, change: &mut Change) {
        let was_involved = before.is_some_and(|c| c.involved().contains(&self.code));
        if !was_involved || after.involved().contains(&self.code) {
            return;
        }
        let latest = after.log.iter().map(|l| l.hlc).max().unwrap_or(Hlc::ZERO);
        change.summary = Some(self.summary_of(after, latest));
    }

    /// Passes an event that has just arrived here for the first time on to the nodes involved
    /// in its case as this node knows it — before or after folding the event in — that the
    /// author did not address through this hop.
    ///
    /// Why: an author addresses an event to the nodes involved *as it knows the case*, which
    /// may be out of date. A township's withdrawal authored while its county was opening a
    /// joint review with a seat at the city (or forwarding the case on) went to the county
    /// only; the city, which had the case's history from the county before the withdrawal
    /// arrived there, never saw it and kept showing the review open while every other node
    /// showed the case withdrawn, for good (found by tests/chaos.rs). The nodes involved
    /// *before* the event count as well: an event that sorts earlier can get that review or
    /// forward rejected on refold, and the nodes it had involved must learn so. A node relays
    /// an event only when it is new to it, and a receiver that holds it already keeps it once,
    /// so nothing loops; our own events (a restore) were routed when we authored them.
    fn relay_to_involved(
        &self,
        from: NodeCode,
        item: &Item,
        event: &Event,
        before: Option<&Case>,
        after: Option<&Case>,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let origin = event.id.origin;
        if origin == self.code {
            return self.reroute_held_to_newcomers(event, before, after, change);
        }
        let mut targets: Vec<NodeCode> = Vec::new();
        for node in before.into_iter().chain(after).flat_map(Case::involved) {
            let addressed = node == self.code || node == from || node == origin;
            if !addressed && !item.to.contains(&node) && !targets.contains(&node) {
                targets.push(node);
            }
        }
        if !targets.is_empty() {
            // Not `Some(from)`: a target may lie beyond the peer the event came from.
            self.router
                .route_event(&item.bytes, &targets, None, &mut change.queue)?;
        }
        Ok(())
    }

    /// Our own event coming back (a restore's copy) that involves nodes the case did not
    /// involve here before — a forward, a joint-review seat: the events of the case this node
    /// already held go to them too, as they went when the event was authored
    /// ([`Writer::route_authored`]'s newcomers).
    ///
    /// Why: what this node held of the case before its own events came back got here while the
    /// case was unknown to it — e.g. a county's 督办 in flight when the disk went, re-sent by
    /// the county's welcome ahead of the copy — and could be relayed nowhere then; when the
    /// copy brings it again it is held already and not relayed at all. The node the case was
    /// forwarded to never got it (found by tests/simulation.rs, seed 10434 of a long run).
    /// Receivers keep an event once, so what they had already costs only bytes.
    fn reroute_held_to_newcomers(
        &self,
        event: &Event,
        before: Option<&Case>,
        after: Option<&Case>,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let (Some(before), Some(after)) = (before, after) else {
            return Ok(());
        };
        let was = before.involved();
        let newcomers: Vec<NodeCode> = after
            .involved()
            .into_iter()
            .filter(|n| *n != self.code && !was.contains(n))
            .collect();
        if newcomers.is_empty() {
            return Ok(());
        }
        for held in self.events_of(&event.case_no)? {
            if held.id.origin != self.code {
                self.router.route_event(
                    &event_bytes(&held)?,
                    &newcomers,
                    None,
                    &mut change.queue,
                )?;
            }
        }
        Ok(())
    }

    /// The case (`current`, as held before `event`) with `event` folded in: incrementally
    /// when it comes last in fold order, else from all the case's events (a late arrival).
    fn fold_in(&self, current: Option<Case>, event: &Event) -> Result<Option<Case>, EngineError> {
        if let Some(mut case) = current {
            let last = case.log.last().map(|l| (l.hlc, l.id.origin, l.id.seq));
            if last.is_none_or(|l| l < event.fold_key()) {
                case.apply(event);
                return Ok(Some(case));
            }
        }
        let mut events = self.events_of(&event.case_no)?;
        events.push(event.clone());
        Ok(Case::fold(&events))
    }

    fn receive_summary(
        &mut self,
        from: NodeCode,
        item: &Item,
        summary: CaseSummary,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        self.check_summary_sender(from, &summary)?;
        // Passed up whatever this node keeps: its own copy may be newer (a fold of the same
        // events, written later) without its ancestors having one.
        self.router.route_up(item, &mut change.queue)?;
        let newer = self
            .summary(&summary.case_no)?
            .is_none_or(|held| summary.supersedes(&held));
        if newer {
            change.summary = Some(summary);
        }
        Ok(())
    }

    /// Summaries are not signed, so who may send which is checked here: otherwise any child
    /// could rewrite the status its ancestors supervise (电子监察) of any case — e.g. a township
    /// claiming its county's case approved, passed up to the city (tests/attacks.rs,
    /// `a_township_cannot_act_on_its_countys_case`). A summary goes up from the case's owner,
    /// hop by hop, so it comes from a child whose subtree holds the owner it names; and where
    /// this node folds the case itself, the owner of its fold is in that subtree too (the owner's
    /// events travel up the same link ahead of its summary).
    fn check_summary_sender(
        &self,
        from: NodeCode,
        summary: &CaseSummary,
    ) -> Result<(), EngineError> {
        let no = summary.case_no;
        let refuse = |why: String| {
            Err(EngineError::Invalid(format!(
                "summary of {no} from {from}: {why}"
            )))
        };
        if Some(from) == self.router.parent {
            return refuse("summaries go only up, never down".into());
        }
        // A revoked node's word is worth nothing from the moment its revocation is known here:
        // neither the summaries it folds nor those it passes on (events from it no longer
        // verify, see `Directory::revoke`).
        for node in [from, summary.owner] {
            if self.router.directory.is_revoked(node) {
                return refuse(format!("{node} is revoked"));
            }
        }
        if !from.covers(summary.owner) {
            return refuse(format!(
                "it names {} as the owner, which is neither {from} nor below it",
                summary.owner
            ));
        }
        if let Some(case) = self.case(&no)? {
            if !from.covers(case.owner) {
                return refuse(format!(
                    "the case is owned by {}, which is neither {from} nor below it",
                    case.owner
                ));
            }
        }
        Ok(())
    }

    pub(super) fn learn(
        &mut self,
        code: NodeCode,
        der: Vec<u8>,
        welcome: bool,
    ) -> Result<(), EngineError> {
        let mut change = Change::default();
        self.take_certificate(code, der, Some(code), &mut change)?;
        if welcome {
            self.welcome(code, &mut change.queue)?;
        }
        self.commit(self.meta, change);
        Ok(())
    }

    pub(super) fn rebase(&mut self, peer: NodeCode, floor: u64) -> Result<u64, EngineError> {
        // The renumbering works on the written outbox.
        self.write_staged()?;
        let last = self.store.outbox_rebase(peer, floor)?;
        warn!(node = %self.code, %peer, floor, last, "outbox renumbered: the peer held more than we had queued");
        self.router.rebased(peer, last);
        self.queued = true;
        Ok(last)
    }

    /// Queues, addressed to `child`, every event it authored and every event of the cases it
    /// is involved in: what a child whose store was lost needs back.
    pub(super) fn restore_dump(&mut self, child: NodeCode) -> Result<u64, EngineError> {
        // Scanned through the group's overlay: what this group took in goes in the dump too.
        let mut change = Change::default();
        // First, the latest summary the child wrote of its own cases, for its clock: the
        // summaries it writes as its events come back must be dated after every one it wrote
        // before (see `receive_item`), or its ancestors would keep the lost store's.
        let mut latest: Option<CaseSummary> = None;
        for summary in self.summaries_overlaid() {
            let summary = summary?;
            if summary.owner == child && latest.as_ref().is_none_or(|l| summary.as_of > l.as_of) {
                latest = Some(summary);
            }
        }
        if let Some(summary) = latest {
            self.router
                .welcome(child, &Item::summary(&summary)?, &mut change.queue)?;
        }
        let own = self.events_by_origin_overlaid(child)?;
        let mut seen: std::collections::HashSet<EventId> = own.iter().map(|e| e.id).collect();
        for event in &own {
            self.router
                .route_event(&event_bytes(event)?, &[child], None, &mut change.queue)?;
        }
        let mut involving = Vec::new();
        for case in self.cases_overlaid() {
            let case = case?;
            if case.involved().contains(&child) {
                involving.push(case.case_no);
            }
        }
        for no in involving {
            for event in self.events_of(&no)? {
                if seen.insert(event.id) {
                    self.router.route_event(
                        &event_bytes(&event)?,
                        &[child],
                        None,
                        &mut change.queue,
                    )?;
                }
            }
        }
        info!(node = %self.code, %child, items = change.queue.len(), "restore queued for child");
        self.commit(self.meta, change);
        Ok(self.router.queued(child))
    }

    /// Queues for a child that has just connected the whole directory and the catalog and
    /// calendar in force here, when they are not simply the built-in ones.
    fn welcome(&self, child: NodeCode, queue: &mut Vec<Queued>) -> Result<(), EngineError> {
        for kind in [Kind::Catalog, Kind::Calendar] {
            let text = match self.reference.own(kind) {
                Some(own) => Some(own),
                None => self
                    .setting(kind.received_key())?
                    .and_then(|b| String::from_utf8(b).ok()),
            };
            if let Some(text) = text {
                let item = Item::record(&reference_record(kind, &text))?;
                self.router.welcome(child, &item, queue)?;
            }
        }
        for (code, der) in self.router.directory.certificates() {
            if code != child {
                let record = Record::Certificate {
                    code,
                    der: der.to_vec(),
                };
                self.router.welcome(child, &Item::record(&record)?, queue)?;
            }
        }
        // Events queued for the child before this welcome — routed to it by its code while it
        // had never connected, or while it was being restored — sit ahead of the certificates
        // in its outbox, and it would skip them for want of their authors' keys: lost to it
        // for good (found by tests/simulation.rs: a city's forward to a township that had not
        // yet dialled its county). They go again behind the directory; a duplicate is
        // harmless, the child keeps one copy.
        let again = |raw: &[u8], queue: &mut Vec<Queued>| -> Result<(), EngineError> {
            let item: Item = codec::decode(raw, crate::frame::MAX_FRAME_BYTES)?;
            if item.kind == PayloadKind::Event {
                self.router.welcome(child, &item, queue)?;
            }
            Ok(())
        };
        let mut after = 0;
        loop {
            let waiting = self.store.outbox(child, after, 1024)?;
            let Some(&(last, _)) = waiting.last() else {
                break;
            };
            for (_, raw) in &waiting {
                again(raw, queue)?;
            }
            after = last;
        }
        // And those this group queued for it, not yet written (they follow the written ones).
        for raw in self.staged.queued_for(child) {
            again(raw, queue)?;
        }
        Ok(())
    }

    /// A catalog or calendar broadcast by the parent: adopted (unless this node has its own
    /// file), kept, and passed down.
    fn take_reference(
        &mut self,
        kind: Kind,
        text: String,
        from: NodeCode,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        if Some(from) != self.router.parent {
            return Err(EngineError::Invalid(format!(
                "{kind:?} from {from}: reference data comes only from above"
            )));
        }
        let adopted = self
            .reference
            .adopt(kind, &text)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if adopted {
            info!(node = %self.code, ?kind, "adopted the parent's broadcast");
            // Deadlines follow the calendar: every case is re-evaluated after this group.
            self.recheck |= kind == Kind::Calendar;
            self.router.broadcast_down(
                &reference_record(kind, &text),
                Some(from),
                &mut change.queue,
            )?;
            change.setting = Some((kind.received_key(), text.into_bytes()));
        }
        Ok(())
    }

    /// Broadcasts each own file that differs from what was last broadcast.
    pub(super) fn publish(&mut self) -> Result<(), EngineError> {
        for kind in [Kind::Catalog, Kind::Calendar] {
            let Some(text) = self.reference.own(kind) else {
                continue;
            };
            if self.setting(kind.sent_key())?.as_deref() == Some(text.as_bytes()) {
                continue;
            }
            let mut change = Change::default();
            self.router
                .broadcast_down(&reference_record(kind, &text), None, &mut change.queue)?;
            info!(node = %self.code, ?kind, children = change.queue.len(), "broadcasting own file down");
            change.setting = Some((kind.sent_key(), text.into_bytes()));
            self.commit(self.meta, change);
        }
        Ok(())
    }

    pub(super) fn take_revocation(
        &mut self,
        entry: Revoked,
        from: Option<NodeCode>,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        if !self.router.directory.revoke(entry.code) {
            return Ok(());
        }
        warn!(node = %self.code, code = %entry.code, revoked_at = %entry.revoked_at, "node revoked: its links are closed and refused, its events and summaries refused");
        self.revoked.insert(entry.code);
        self.revoked_news = true;
        let record = Record::Revocation {
            code: entry.code,
            serials: entry.serials.clone(),
            revoked_at: entry.revoked_at.clone(),
        };
        self.router
            .broadcast_down(&record, from, &mut change.queue)?;
        change.revocation = Some(entry);
        Ok(())
    }

    fn take_certificate(
        &mut self,
        code: NodeCode,
        der: Vec<u8>,
        from: Option<NodeCode>,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let new = self
            .router
            .directory
            .learn(code, &der)
            .map_err(|e: DirectoryError| EngineError::Invalid(e.to_string()))?;
        if new {
            info!(node = %self.code, %code, "certificate added to the directory");
            let record = Record::Certificate {
                code,
                der: der.clone(),
            };
            self.router.flood(&record, from, &mut change.queue)?;
            change.certificate = Some((code, der));
        }
        Ok(())
    }
}

pub(super) fn reference_record(kind: Kind, text: &str) -> Record {
    match kind {
        Kind::Catalog => Record::Catalog(text.to_string()),
        Kind::Calendar => Record::Calendar(text.to_string()),
    }
}
