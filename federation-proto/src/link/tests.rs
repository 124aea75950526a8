use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;
use crate::frame::{Item, PayloadKind, FOLD_VERSION, PROTOCOL_VERSION};
use crate::StreamKind;

fn code(s: &str) -> NodeCode {
    s.parse().unwrap()
}

fn county() -> NodeCode {
    code("350322")
}

fn city() -> NodeCode {
    code("350300")
}

fn child(holds: Holds) -> Link {
    Link::new(
        Config {
            me: county(),
            peer: city(),
            side: Side::Child,
            holds,
            restore: false,
        },
        0,
    )
}

fn parent(holds: Holds) -> Link {
    Link::new(
        Config {
            me: city(),
            peer: county(),
            side: Side::Parent,
            holds,
            restore: false,
        },
        0,
    )
}

fn holds(received_upto: u64, queued_upto: u64) -> Holds {
    Holds {
        received_upto,
        queued_upto,
    }
}

fn transmits(link: &mut Link) -> Vec<Frame> {
    std::iter::from_fn(|| link.poll_transmit()).collect()
}

fn events(link: &mut Link) -> Vec<Event> {
    std::iter::from_fn(|| link.poll_event()).collect()
}

/// Exchanges the hellos of a child and a parent; returns both, up unless one refused.
fn connect(c: Holds, p: Holds) -> (Link, Link) {
    let (mut child, mut parent) = (child(c), parent(p));
    for f in transmits(&mut child) {
        parent.handle_frame(1, StreamKind::Control, f);
    }
    for f in transmits(&mut parent) {
        child.handle_frame(2, StreamKind::Control, f);
    }
    (child, parent)
}

fn up(link: &mut Link) -> Up {
    match events(link).into_iter().next() {
        Some(Event::Up(up)) => up,
        other => panic!("expected the link up, got {other:?}"),
    }
}

fn item(n: u32) -> Item {
    Item {
        kind: PayloadKind::Record,
        to: vec![],
        bytes: n.to_le_bytes().to_vec(),
    }
}

#[test]
fn the_child_writes_first_and_the_parent_answers_after_reading() {
    let mut c = child(holds(0, 0));
    let mut p = parent(holds(0, 0));
    assert!(
        transmits(&mut p).is_empty(),
        "the parent waits for the child"
    );
    let hello = transmits(&mut c);
    assert!(matches!(hello.as_slice(), [Frame::Hello(h)] if h.code == county()));
    assert_eq!(c.poll_bulk(), None, "nothing is sent before the hellos");
    for f in hello {
        p.handle_frame(1, StreamKind::Control, f);
    }
    assert!(p.is_up());
    assert!(matches!(transmits(&mut p).as_slice(), [Frame::Hello(h)] if h.code == city()));
}

#[test]
fn each_side_resumes_after_what_the_other_holds() {
    let (mut c, mut p) = connect(holds(7, 40), holds(30, 9));
    let (cu, pu) = (up(&mut c), up(&mut p));
    assert_eq!(c.sent(), (30, 30));
    assert_eq!(p.sent(), (7, 7));
    assert_eq!((cu.rebase, pu.rebase), (None, None));
    assert!(
        !pu.welcome,
        "a child that holds something has the directory"
    );
    assert!(!cu.welcome, "only a parent welcomes");
}

#[test]
fn a_child_holding_nothing_is_welcomed() {
    let (_, mut p) = connect(holds(0, 0), holds(0, 3));
    assert!(up(&mut p).welcome);
}

#[test]
fn a_side_whose_outbox_is_behind_what_the_peer_holds_renumbers_it() {
    // The city's store was restored from a backup: it queued 5 for the county in this life,
    // the county already holds 12 from it.
    let (_, mut p) = connect(holds(12, 0), holds(0, 5));
    assert_eq!(up(&mut p).rebase, Some(12));
    assert_eq!(p.sent(), (12, 12));
}

#[test]
fn a_hello_naming_another_node_is_refused_and_both_sides_say_why() {
    let mut c = Link::new(
        Config {
            me: code("350302"),
            peer: city(),
            side: Side::Child,
            holds: Holds::default(),
            restore: false,
        },
        0,
    );
    let mut p = parent(Holds::default());
    for f in transmits(&mut c) {
        p.handle_frame(1, StreamKind::Control, f);
    }
    assert!(
        matches!(p.closed(), Some(LinkError::HelloRefused(r)) if r.code == RefuseCode::CodeMismatch)
    );
    let answer = transmits(&mut p);
    assert!(matches!(
        answer.as_slice(),
        [Frame::Hello(_), Frame::Refuse(_)]
    ));
    for f in answer {
        c.handle_frame(2, StreamKind::Control, f);
    }
    assert!(
        matches!(c.closed(), Some(LinkError::PeerRefused(r)) if r.code == RefuseCode::CodeMismatch)
    );
}

#[test]
fn a_hello_of_another_protocol_version_gets_the_refusal_alone() {
    let mut p = parent(Holds::default());
    p.handle_opening(1, Opening::OtherVersion(PROTOCOL_VERSION + 1));
    let answer = transmits(&mut p);
    assert!(
        matches!(answer.as_slice(), [Frame::Refuse(r)] if r.code == RefuseCode::Version),
        "{answer:?}"
    );
    assert!(matches!(p.closed(), Some(LinkError::HelloRefused(_))));
}

#[test]
fn peers_on_different_folds_refuse_each_other() {
    let mut c = child(Holds::default());
    let mut p = parent(Holds::default());
    let mut hello = Hello::new(county(), Holds::default());
    hello.fold = FOLD_VERSION + 1;
    transmits(&mut c);
    p.handle_frame(1, StreamKind::Control, Frame::Hello(hello));
    assert!(matches!(p.closed(), Some(LinkError::HelloRefused(r)) if r.code == RefuseCode::Fold));
    // The child, on the newer fold, reads the parent's hello and refuses it too.
    let mut newer = Hello::new(city(), Holds::default());
    newer.fold = FOLD_VERSION - 1;
    c.handle_frame(2, StreamKind::Control, Frame::Hello(newer));
    assert!(matches!(c.closed(), Some(LinkError::HelloRefused(r)) if r.code == RefuseCode::Fold));
    assert!(matches!(transmits(&mut c).as_slice(), [Frame::Refuse(_)]));
}

#[test]
fn anything_but_a_hello_first_closes_the_link() {
    let mut p = parent(Holds::default());
    p.handle_frame(1, StreamKind::Control, Frame::Ping { nonce: 1 });
    assert_eq!(p.closed(), Some(&LinkError::NotAHello("ping")));
    assert!(transmits(&mut p).is_empty());

    let mut p = parent(Holds::default());
    p.handle_end(StreamKind::Control);
    assert_eq!(p.closed(), Some(&LinkError::HelloMissing));

    let mut p = parent(Holds::default());
    p.handle_frame(
        1,
        StreamKind::Bulk,
        Frame::Batch(Batch {
            first: 1,
            items: vec![],
        }),
    );
    assert!(
        matches!(p.closed(), Some(LinkError::HelloRefused(r)) if r.code == RefuseCode::Malformed)
    );
}

#[test]
fn no_hello_in_time_closes_the_link() {
    let mut p = parent(Holds::default());
    assert_eq!(p.poll_timeout(), Some(HELLO_TIMEOUT_MS));
    p.handle_timeout(HELLO_TIMEOUT_MS - 1);
    assert!(p.closed().is_none());
    p.handle_timeout(HELLO_TIMEOUT_MS);
    assert_eq!(p.closed(), Some(&LinkError::NoHello(HELLO_TIMEOUT_MS)));
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn a_live_link_pings_each_interval_and_closes_when_the_peer_falls_silent() {
    let (_, mut p) = connect(holds(0, 0), holds(0, 0));
    events(&mut p);
    transmits(&mut p);
    let heard = p.heard_ms();
    let mut now = heard;
    let mut pings = 0;
    while p.closed().is_none() {
        now = p.poll_timeout().expect("a live link has a timer");
        p.handle_timeout(now);
        pings += transmits(&mut p)
            .iter()
            .filter(|f| matches!(f, Frame::Ping { .. }))
            .count();
        assert!(now <= heard + SILENCE_MS, "the link outlived the silence");
    }
    assert_eq!(now, heard + SILENCE_MS);
    assert_eq!(pings as u64, SILENCE_MS / PING_INTERVAL_MS - 1);
    assert!(matches!(p.closed(), Some(LinkError::Silent(_))));
}

#[test]
fn traffic_from_the_peer_keeps_the_link_alive() {
    let (_, mut p) = connect(holds(0, 0), holds(0, 0));
    for t in 1..30 {
        let now = t * 1_000;
        p.handle_frame(now, StreamKind::Control, Frame::Ping { nonce: t });
        p.handle_timeout(now);
        assert!(p.closed().is_none());
    }
    let pongs = transmits(&mut p)
        .into_iter()
        .filter(|f| matches!(f, Frame::Pong { .. }))
        .count();
    assert_eq!(pongs, 29, "every ping is answered");
}

#[test]
fn an_ack_for_more_than_was_sent_closes_the_link() {
    let (mut c, _) = connect(holds(0, 0), holds(5, 0));
    events(&mut c);
    c.handle_outbox(20);
    c.bulk_sent(6, 10);
    c.handle_frame(3, StreamKind::Control, Frame::Ack { upto: 8 });
    assert_eq!(events(&mut c), vec![Event::Acked(8)]);
    c.handle_frame(3, StreamKind::Control, Frame::Ack { upto: 7 });
    assert!(events(&mut c).is_empty(), "an older ack says nothing new");
    c.handle_frame(3, StreamKind::Control, Frame::Ack { upto: 11 });
    assert!(matches!(c.closed(), Some(LinkError::Refused(r)) if r.code == RefuseCode::Malformed));
    assert!(
        events(&mut c).is_empty(),
        "nothing unsent is dropped from the outbox"
    );
}

#[test]
fn the_sender_stays_within_the_window_and_what_is_durable() {
    let (mut c, _) = connect(holds(0, 0), holds(0, 0));
    assert_eq!(c.poll_bulk(), None, "nothing durable yet");
    c.handle_outbox(WINDOW + 100);
    assert_eq!(
        c.poll_bulk(),
        Some(BulkPermit {
            after: 0,
            upto: WINDOW + 100,
            max_items: BATCH_ITEMS
        })
    );
    c.bulk_sent(1, WINDOW);
    assert_eq!(c.poll_bulk(), None, "a full window waits for an ack");
    c.handle_frame(3, StreamKind::Control, Frame::Ack { upto: 1 });
    assert_eq!(c.poll_bulk().map(|p| p.after), Some(WINDOW));
    c.bulk_sent(WINDOW + 1, WINDOW + 100);
    assert_eq!(c.poll_bulk(), None, "everything durable is sent");
    c.bulk_sent(WINDOW + 101, WINDOW + 101);
    assert!(matches!(
        c.closed(),
        Some(LinkError::BulkOutsidePermit { .. })
    ));
}

#[test]
fn an_outbox_that_jumps_closes_the_link() {
    let (mut c, _) = connect(holds(0, 0), holds(4, 0));
    c.handle_outbox(10);
    c.bulk_sent(6, 8);
    assert_eq!(
        c.closed(),
        Some(&LinkError::OutboxJump {
            peer: city(),
            sent: 4,
            first: 6
        })
    );
}

#[test]
fn a_peer_holding_nothing_takes_our_numbering_as_it_is() {
    let (mut c, _) = connect(holds(0, 0), holds(0, 0));
    c.handle_outbox(90);
    c.bulk_sent(40, 90);
    assert!(c.closed().is_none());
    assert_eq!(c.sent(), (90, 0));
}

#[test]
fn an_empty_outbox_is_not_offered_again_until_it_changes() {
    let (mut c, _) = connect(holds(0, 0), holds(0, 0));
    c.handle_outbox(3);
    assert!(c.poll_bulk().is_some());
    c.bulk_empty();
    assert_eq!(c.poll_bulk(), None);
    c.handle_outbox(3);
    assert_eq!(c.poll_bulk(), None, "the same durable mark is no change");
    c.handle_outbox(4);
    assert!(c.poll_bulk().is_some());
}

#[test]
fn received_batches_are_bounded_and_acknowledged_in_order() {
    let (mut c, mut p) = connect(holds(0, 0), holds(0, 0));
    events(&mut c);
    events(&mut p);
    transmits(&mut p);
    for k in 0..PIPELINE as u64 {
        assert!(p.wants_batch());
        let batch = Batch {
            first: k + 1,
            items: vec![item(k as u32)],
        };
        p.handle_frame(3, StreamKind::Bulk, Frame::Batch(batch));
    }
    assert!(!p.wants_batch(), "the pipeline is full");
    assert_eq!(events(&mut p).len(), PIPELINE);
    assert!(
        transmits(&mut p).is_empty(),
        "no ack before the store is durable"
    );
    p.handle_receipt(Ok(1));
    assert!(p.wants_batch());
    assert_eq!(transmits(&mut p), vec![Frame::Ack { upto: 1 }]);
    let refusal = Refusal::new(RefuseCode::BadSignature, "event 350322/9");
    p.handle_receipt(Err(refusal.clone()));
    assert_eq!(transmits(&mut p), vec![Frame::Refuse(refusal.clone())]);
    assert_eq!(p.closed(), Some(&LinkError::Refused(refusal)));
    p.handle_receipt(Ok(3));
    assert!(transmits(&mut p).is_empty(), "nothing after the close");
}

#[test]
fn control_frames_go_to_the_side_they_are_for() {
    let (mut c, mut p) = connect(holds(0, 0), holds(0, 0));
    events(&mut c);
    events(&mut p);
    c.handle_frame(
        3,
        StreamKind::Control,
        Frame::Pull {
            request: 7,
            deadline_ms: 500,
        },
    );
    p.handle_frame(
        3,
        StreamKind::Control,
        Frame::Pull {
            request: 7,
            deadline_ms: 500,
        },
    );
    assert_eq!(
        events(&mut c),
        vec![Event::Pull {
            request: 7,
            deadline_ms: 500
        }]
    );
    assert_eq!(events(&mut p), vec![Event::Ignored("pull")]);
    p.handle_frame(3, StreamKind::Control, Frame::Restore);
    c.handle_frame(3, StreamKind::Control, Frame::Restore);
    assert_eq!(events(&mut p), vec![Event::RestoreRequested]);
    assert_eq!(events(&mut c), vec![Event::Ignored("restore")]);
    p.handle_frame(
        3,
        StreamKind::Control,
        Frame::Refuse(Refusal::new(RefuseCode::Overloaded, "busy")),
    );
    assert!(matches!(p.closed(), Some(LinkError::PeerRefused(_))));
}

#[test]
fn a_restoring_child_asks_for_its_copy_once_up() {
    let mut c = Link::new(
        Config {
            me: county(),
            peer: city(),
            side: Side::Child,
            holds: Holds::default(),
            restore: true,
        },
        0,
    );
    let mut p = parent(holds(0, 0));
    for f in transmits(&mut c) {
        p.handle_frame(1, StreamKind::Control, f);
    }
    assert!(
        transmits(&mut c).is_empty(),
        "not before the parent's hello"
    );
    for f in transmits(&mut p) {
        c.handle_frame(2, StreamKind::Control, f);
    }
    assert_eq!(transmits(&mut c), vec![Frame::Restore]);
}

/// One end of a simulated connection: its outbox, what it holds from the peer and the batches
/// it took that its "store" has not made durable yet.
struct End {
    link: Link,
    /// Outbox items by link sequence, from 1.
    outbox: Vec<u32>,
    durable: u64,
    received: Vec<u32>,
    held: u64,
    unflushed: VecDeque<Batch>,
}

impl End {
    fn new(link: Link, held: u64, received: Vec<u32>) -> End {
        End {
            link,
            outbox: Vec::new(),
            durable: 0,
            received,
            held,
            unflushed: VecDeque::new(),
        }
    }

    /// Takes the next batch waiting for the store: items below what is held are skipped, a
    /// gap is refused, as the engine does.
    fn flush_one(&mut self) {
        let Some(batch) = self.unflushed.pop_front() else {
            return;
        };
        let mut outcome = Ok(self.held);
        for (k, it) in batch.items.iter().enumerate() {
            let seq = batch.first + k as u64;
            if seq <= self.held {
                continue;
            }
            if seq != self.held + 1 && self.held != 0 {
                outcome = Err(Refusal::new(
                    RefuseCode::Gap,
                    format!("{seq} after {}", self.held),
                ));
                break;
            }
            self.held = seq;
            self.received
                .push(u32::from_le_bytes(it.bytes[..4].try_into().unwrap()));
            outcome = Ok(self.held);
        }
        self.link.handle_receipt(outcome);
    }

    fn send_bulk(&mut self, wire: &mut VecDeque<Frame>) {
        let Some(permit) = self.link.poll_bulk() else {
            return;
        };
        let first = permit.after + 1;
        let last = permit.upto.min(permit.after + 3);
        let items = (first..=last)
            .map(|s| item(self.outbox[s as usize - 1]))
            .collect();
        self.link.bulk_sent(first, last);
        wire.push_back(Frame::Batch(Batch { first, items }));
    }
}

proptest! {
    /// Two ends exchanging items over in-order streams, in any interleaving of queuing,
    /// flushing, sending, delivering and acknowledging: each side ends up with every item the
    /// other queued, once and in order, and everything acknowledged — and whatever happened,
    /// no ack ever covered more than was sent (the link would have closed).
    #[test]
    fn any_interleaving_delivers_every_item_once_and_in_order(
        steps in proptest::collection::vec(0u8..9, 1..400),
        split in 0usize..3,
    ) {
        let (mut ends, mut control, mut bulk) = match split {
            // A fresh pair.
            0 => {
                let (c, p) = connect(holds(0, 0), holds(0, 0));
                ([End::new(c, 0, vec![]), End::new(p, 0, vec![])],
                 [VecDeque::new(), VecDeque::new()], [VecDeque::new(), VecDeque::new()])
            }
            // A reconnection: the child held 3 of the parent's items already.
            _ => {
                let mut p_outbox = vec![100, 101, 102];
                let (c, p) = connect(holds(3, 0), holds(0, 3));
                let mut ends = [End::new(c, 3, vec![100, 101, 102]), End::new(p, 0, vec![])];
                ends[1].outbox.append(&mut p_outbox);
                ends[1].durable = 3;
                ends[1].link.handle_outbox(3);
                (ends, [VecDeque::new(), VecDeque::new()], [VecDeque::new(), VecDeque::new()])
            }
        };
        for e in &mut ends {
            while let Some(Event::Up(_)) = e.link.poll_event() {}
            while e.link.poll_transmit().is_some() {}
        }
        let mut next_value = 0u32;
        let mut pump = |ends: &mut [End; 2], control: &mut [VecDeque<Frame>; 2], bulk: &mut [VecDeque<Frame>; 2], step: u8| {
            let who = (step % 2) as usize;
            let other = 1 - who;
            match step / 2 {
                // Queue a new item and make it durable at once or later.
                0 => {
                    next_value += 1;
                    ends[who].outbox.push(next_value);
                }
                1 => {
                    ends[who].durable = ends[who].outbox.len() as u64;
                    let d = ends[who].durable;
                    ends[who].link.handle_outbox(d);
                    ends[who].send_bulk(&mut bulk[who]);
                }
                2 => {
                    if ends[other].link.wants_batch() {
                        if let Some(f) = bulk[who].pop_front() {
                            ends[other].link.handle_frame(5, StreamKind::Bulk, f);
                        }
                    }
                    while let Some(ev) = ends[other].link.poll_event() {
                        if let Event::Batch(b) = ev {
                            ends[other].unflushed.push_back(b);
                        }
                    }
                    ends[other].flush_one();
                }
                _ => {
                    // Control traffic: what `who` wrote reaches `other`.
                    while let Some(f) = ends[who].link.poll_transmit() {
                        control[who].push_back(f);
                    }
                    if let Some(f) = control[who].pop_front() {
                        ends[other].link.handle_frame(5, StreamKind::Control, f);
                    }
                    while let Some(ev) = ends[other].link.poll_event() {
                        prop_assert!(matches!(ev, Event::Acked(_)), "{ev:?}");
                    }
                }
            }
            Ok(())
        };
        for &s in &steps {
            pump(&mut ends, &mut control, &mut bulk, s)?;
            for e in &ends {
                prop_assert!(e.link.closed().is_none(), "{:?}", e.link.closed());
            }
        }
        // Heal: make everything durable and run every step until nothing moves.
        for _ in 0..500 {
            for s in 2..8 {
                pump(&mut ends, &mut control, &mut bulk, s)?;
            }
        }
        for e in &ends {
            prop_assert!(e.link.closed().is_none(), "{:?}", e.link.closed());
        }
        for who in 0..2 {
            let other = 1 - who;
            prop_assert_eq!(&ends[other].received, &ends[who].outbox);
            let queued = ends[who].outbox.len() as u64;
            prop_assert_eq!(ends[who].link.sent(), (queued, queued));
        }
    }
}
