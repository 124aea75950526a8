//! A hand-driven QUIC peer that speaks the link protocol with a genuine node certificate (the
//! files `liandong ca issue` wrote), for the tests of misbehaving peers: it sends whatever bytes
//! a test hands it, and reports what the real node answers (its hello, acks, refusal, close).
//!
//! Use it from a multi-thread tokio runtime: quinn's endpoint driver keeps running on the
//! runtime's workers between two `block_on` calls, so a test can alternate between the rogue
//! (async) and the node's HTTP API (blocking).

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use federation_proto::frame::{
    encode_frame, Batch, Frame, FrameReader, Hello, Holds, Item, Payload, Refusal, StreamKind,
};
use federation_proto::{sign, Actor, CaseNo, Event, EventBody, EventId, Hlc, NodeCode, Sig};
use liandong::link::Identity;
use liandong::pki;
use tokio::sync::mpsc;

/// How long the rogue waits for an answer of the node before the test fails.
pub const ANSWER: Duration = Duration::from_secs(15);

/// One connection of the rogue to a node that takes it for a child.
pub struct Rogue {
    /// The code of the rogue's certificate.
    pub code: NodeCode,
    /// The key its certificate certifies (what a genuine node signs its events with).
    pub key: SigningKey,
    pub conn: quinn::Connection,
    endpoint: quinn::Endpoint,
    control: quinn::SendStream,
    bulk: Option<quinn::SendStream>,
    /// Frames the node sent on the control stream, in order (read by a background task).
    frames: mpsc::UnboundedReceiver<Frame>,
}

impl Rogue {
    /// Dials the node `parent` on 127.0.0.1:`port` with the certificate, CA and key in `dir`
    /// (node.crt, ca.crt, node.key), opens the control stream and says hello naming `hello_as`
    /// (normally its own code), holding `received_upto` from the node. `Err` if the QUIC/TLS
    /// handshake fails (e.g. an expired certificate), with the reason.
    pub async fn connect(
        dir: &Path,
        parent: &str,
        port: u16,
        hello_as: &str,
        received_upto: u64,
    ) -> Result<Rogue, String> {
        let hello = Frame::Hello(Hello::new(
            hello_as.parse().expect("hello code"),
            Holds {
                received_upto,
                queued_upto: 0,
            },
        ));
        let opening = encode_frame(&hello).expect("hello");
        Rogue::connect_opening(dir, parent, port, &opening).await
    }

    /// Like [`Rogue::connect`], with `opening` — any bytes: a hello of another protocol or fold
    /// version, an old layout — in place of this build's hello.
    pub async fn connect_opening(
        dir: &Path,
        parent: &str,
        port: u16,
        opening: &[u8],
    ) -> Result<Rogue, String> {
        let (identity, key, code) = identity(dir);
        let mut endpoint =
            quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
        endpoint
            .set_default_client_config(liandong::link::tls::client_config(&identity).expect("tls"));
        let parent: NodeCode = parent.parse().expect("parent code");
        let addr = format!("127.0.0.1:{port}").parse().expect("addr");
        let connecting = endpoint
            .connect(addr, &pki::server_name(parent))
            .expect("connect");
        let conn = tokio::time::timeout(ANSWER, connecting)
            .await
            .map_err(|_| format!("no QUIC handshake with {parent} within {ANSWER:?}"))?
            .map_err(|e| e.to_string())?;
        // The opening on the control stream, as a real child sends its hello.
        let (mut control, rx) = tokio::time::timeout(ANSWER, conn.open_bi())
            .await
            .map_err(|_| format!("no control stream to {parent} within {ANSWER:?}"))?
            .map_err(|e| e.to_string())?;
        control
            .write_all(opening)
            .await
            .map_err(|e| e.to_string())?;
        let (tx, frames) = mpsc::unbounded_channel();
        tokio::spawn(read_control(rx, tx));
        Ok(Rogue {
            code,
            key,
            conn,
            endpoint,
            control,
            bulk: None,
            frames,
        })
    }

    /// The next control frame from the node other than a ping or pong (answering pings), or
    /// `None` once the node closed the stream or nothing came within [`ANSWER`].
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let frame = tokio::time::timeout(ANSWER, self.frames.recv())
                .await
                .ok()
                .flatten()?;
            match frame {
                Frame::Ping { nonce } => {
                    let pong = encode_frame(&Frame::Pong { nonce }).expect("pong");
                    let _ = self.control.write_all(&pong).await;
                }
                Frame::Pong { .. } => {}
                other => return Some(other),
            }
        }
    }

    /// The node's hello: what it holds from the rogue. Panics on anything else.
    pub async fn hello(&mut self) -> Holds {
        match self.next_frame().await {
            Some(Frame::Hello(h)) => h.holds,
            other => panic!("expected the node's hello, got {other:?}"),
        }
    }

    /// Waits for an ack of at least `upto`; returns the refusal (or `None` on a silent close
    /// or time-out) if the node refuses instead.
    pub async fn ack(&mut self, upto: u64) -> Result<u64, Option<Refusal>> {
        loop {
            match self.next_frame().await {
                Some(Frame::Ack { upto: got }) if got >= upto => return Ok(got),
                Some(Frame::Refuse(r)) => return Err(Some(r)),
                Some(_) => {}
                None => return Err(None),
            }
        }
    }

    /// The refusal the node sends before closing (skipping acks and other frames); `None` if
    /// it closes without one or sends nothing within [`ANSWER`].
    pub async fn refusal(&mut self) -> Option<Refusal> {
        loop {
            match self.next_frame().await? {
                Frame::Refuse(r) => return Some(r),
                _ => continue,
            }
        }
    }

    /// Writes raw bytes on the rogue's bulk stream (opened at the first call).
    pub async fn send_bulk(&mut self, bytes: &[u8]) {
        if self.bulk.is_none() {
            self.bulk = Some(self.conn.open_uni().await.expect("bulk stream"));
        }
        let bulk = self.bulk.as_mut().expect("bulk stream");
        // The node may have closed the connection already: what it did is the test's question.
        let _ = bulk.write_all(bytes).await;
    }

    /// Writes raw bytes on the control stream.
    pub async fn send_control(&mut self, bytes: &[u8]) {
        let _ = self.control.write_all(bytes).await;
    }

    /// Sends a batch of `items` from link sequence `first` on the bulk stream.
    pub async fn send_batch(&mut self, first: u64, items: Vec<Item>) {
        let frame = Frame::Batch(Batch { first, items });
        self.send_bulk(&encode_frame(&frame).expect("batch")).await;
    }

    /// Ends the bulk stream (a clean end of stream, as far as QUIC is concerned).
    pub async fn finish_bulk(&mut self) {
        if let Some(bulk) = self.bulk.as_mut() {
            let _ = bulk.finish();
        }
    }

    /// Waits (at most [`ANSWER`]) until the connection is closed; `true` if it was.
    pub async fn closed(&self) -> bool {
        tokio::time::timeout(ANSWER, self.conn.closed())
            .await
            .is_ok()
    }

    /// What the node holds of the rogue, as a child whose store was lost gets it back: asks
    /// for a restore (`Frame::Restore`, as `liandong restore` does) and collects the events the
    /// node then sends on its bulk stream, up to the link sequence its `RestoreQueued` names —
    /// every event the rogue's code authored and every event of the cases it is involved in,
    /// each once, in (origin, seq) order. This is how a test sees a parent's backup copy: the
    /// parent's API does not serve it (DESIGN.md §8). Use it on a fresh connection whose hello
    /// said it holds nothing from the node; it closes the connection.
    pub async fn restore(mut self) -> Vec<Event> {
        self.send_control(&encode_frame(&Frame::Restore).expect("restore frame"))
            .await;
        let upto = loop {
            match self.next_frame().await {
                Some(Frame::RestoreQueued { upto }) => break upto,
                Some(_) => continue,
                None => panic!("the node never answered the restore request"),
            }
        };
        let mut events = std::collections::BTreeMap::new();
        if upto > 0 {
            let mut bulk = tokio::time::timeout(ANSWER, self.conn.accept_uni())
                .await
                .expect("the node's bulk stream within the answer time")
                .expect("the node's bulk stream");
            let mut reader = FrameReader::for_stream(StreamKind::Bulk);
            let mut held = 0;
            while held < upto {
                while let Some(frame) = reader.next_frame().expect("a frame from the node") {
                    let Frame::Batch(batch) = frame else { continue };
                    held = batch.first + batch.items.len() as u64 - 1;
                    for item in &batch.items {
                        if let Ok(Payload::Event(e)) = item.decode() {
                            events.insert((e.id.origin.to_string(), e.id.seq), e);
                        }
                    }
                }
                if held >= upto {
                    break;
                }
                let chunk = tokio::time::timeout(ANSWER, bulk.read_chunk(64 * 1024, true))
                    .await
                    .expect("the restore within the answer time")
                    .expect("reading the node's bulk stream")
                    .expect("the bulk stream ended before the restore did");
                reader.push(&chunk.bytes);
            }
        }
        self.close().await;
        events.into_values().collect()
    }

    /// Closes the connection from the rogue's side and lets the close go out.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"rogue leaving");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }

    /// An event authored by `origin` with sequence `seq` on case `case_no`, clock `hlc`,
    /// signed with `key`.
    pub fn event(
        origin: NodeCode,
        seq: u64,
        case_no: CaseNo,
        hlc: Hlc,
        body: EventBody,
        key: &SigningKey,
    ) -> Event {
        let mut event = Event {
            id: EventId { origin, seq },
            hlc,
            case_no,
            actor: Actor {
                name: "rogue".into(),
                department: None,
            },
            body,
            sig: Sig::EMPTY,
        };
        sign::sign(&mut event, key);
        event
    }

    /// `event` as a batch item addressed to `to`.
    pub fn item(event: &Event, to: &[&str]) -> Item {
        let to = to.iter().map(|c| c.parse().expect("code")).collect();
        Item::event(event).expect("event item").addressed(to)
    }
}

/// The identity in `dir` (node.key, node.crt, ca.crt), its key and the code it certifies.
fn identity(dir: &Path) -> (Identity, SigningKey, NodeCode) {
    let pem = std::fs::read_to_string(dir.join("node.key")).expect("rogue key");
    let key = SigningKey::from_pkcs8_pem(&pem).expect("rogue key is PKCS#8 ed25519");
    let cert = pki::read_cert_pem(&dir.join("node.crt")).expect("rogue certificate");
    let code = pki::node_code_of(&cert).expect("the certificate names a code");
    let ca = pki::read_cert_pem(&dir.join("ca.crt")).expect("CA certificate");
    let identity = Identity::new(cert, ca, &key).expect("identity");
    (identity, key, code)
}

/// A hand-driven parent: listens on 127.0.0.1 with a genuine node certificate and answers the
/// dial of a real child by hand, for the tests of what a child does with its parent's hello.
pub struct RogueParent {
    /// The code of the rogue's certificate (the code the child's node.toml names as parent).
    pub code: NodeCode,
    pub port: u16,
    endpoint: quinn::Endpoint,
}

/// What a real child said on one connection to a [`RogueParent`].
#[derive(Debug)]
pub struct Dial {
    /// The child's hello.
    pub hello: Hello,
    /// The child's frames after the rogue's answer (pings and pongs left out), until it closed
    /// the stream, or for at most [`ANSWER`].
    pub then: Vec<Frame>,
    /// Whether the child closed the connection.
    pub closed: bool,
}

impl RogueParent {
    /// Listens with the certificate, CA and key in `dir` (node.crt, ca.crt, node.key).
    pub async fn listen(dir: &Path) -> RogueParent {
        let (identity, _, code) = identity(dir);
        let config = liandong::link::tls::server_config(&identity).expect("server tls");
        let endpoint =
            quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr")).expect("bind");
        let port = endpoint.local_addr().expect("local address").port();
        RogueParent {
            code,
            port,
            endpoint,
        }
    }

    /// Accepts the next dial (within [`ANSWER`]), reads the child's hello and answers it with
    /// `answer(child's hello)`, then reports what the child said next.
    pub async fn answer(&self, answer: impl FnOnce(&Hello) -> Frame) -> Dial {
        let incoming = tokio::time::timeout(ANSWER, self.endpoint.accept())
            .await
            .expect("a dial within the answer time")
            .expect("the endpoint is open");
        let conn = incoming.await.expect("the child's QUIC handshake");
        let (mut tx, rx) = tokio::time::timeout(ANSWER, conn.accept_bi())
            .await
            .expect("the child's control stream within the answer time")
            .expect("the child's control stream");
        let (frames_tx, mut frames) = mpsc::unbounded_channel();
        tokio::spawn(read_control(rx, frames_tx));
        let hello = match tokio::time::timeout(ANSWER, frames.recv()).await {
            Ok(Some(Frame::Hello(h))) => h,
            other => panic!("expected the child's hello, got {other:?}"),
        };
        let reply = encode_frame(&answer(&hello)).expect("the answer");
        tx.write_all(&reply).await.expect("answering the child");
        let mut then = Vec::new();
        // One deadline for all: a child that kept the link would ping for ever.
        let deadline = tokio::time::Instant::now() + ANSWER;
        while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, frames.recv()).await {
            match frame {
                Frame::Ping { .. } | Frame::Pong { .. } => {}
                other => then.push(other),
            }
        }
        let closed = tokio::time::timeout(ANSWER, conn.closed()).await.is_ok();
        Dial {
            hello,
            then,
            closed,
        }
    }
}

/// Reads the node's control stream into `tx` until it ends or fails.
async fn read_control(mut rx: quinn::RecvStream, tx: mpsc::UnboundedSender<Frame>) {
    let mut reader = FrameReader::for_stream(StreamKind::Control);
    loop {
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    if tx.send(frame).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        match rx.read_chunk(64 * 1024, true).await {
            Ok(Some(chunk)) => reader.push(&chunk.bytes),
            _ => return,
        }
    }
}
