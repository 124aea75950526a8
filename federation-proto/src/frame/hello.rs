//! The handshake: the [`Hello`] each side of a link sends first, what each side checks in the
//! other's ([`Hello::check`]), and the [`Refusal`] that ends a link.
//!
//! # Three numbers in every hello
//!
//! - [`Hello::version`], the [`PROTOCOL_VERSION`]: *can we read each other's frames?* Peers must
//!   agree exactly.
//! - [`Hello::fold`], the [`FOLD_VERSION`]: *do we derive the same cases from the same events?*
//!   Every node folds a case's events itself (DESIGN §3): two nodes on different fold rules
//!   would each accept the other's events and silently disagree about the same case — its
//!   state, its deadlines, who may act on it, where its events go. Peers must agree exactly, and
//!   a node refuses, naming both versions, to link with a peer whose fold it does not implement
//!   ([`RefuseCode::Fold`]).
//! - [`Hello::features`]: *which optional additions may each side send?* A bitset; those in
//!   effect on the link are the ones both sides announce ([`Hello::common_features`]).
//!
//! # Why the fold version is a field of the hello (protocol version 3)
//!
//! It must be settled before the first event crosses, and the hello is where a link states
//! what each side is. The alternatives keep the hello's layout but cost clarity: a few spare
//! bits of `features` would make one field mean two things (a set to intersect, a number to
//! match), and a frame of its own after the hello would make the handshake two frames. So the
//! hello gains a field, and since bincode is positional that changes its layout: version 3.
//!
//! A layout change of the hello itself needs care, because the version check lives in the
//! hello. The codec refuses trailing bytes, so a node of version 2 cannot decode a version-3
//! hello ("1 unexpected bytes after the end of the value") nor a version-3 node a version-2 one
//! ("unexpected end"): compared naively, the peers would see a malformed frame, not another
//! version. Three rules keep the refusal of another protocol version clean, now and for every
//! later layout:
//!
//! 1. [`Hello::version`] is the first field of every hello, for ever. The opening frame of a
//!    link is read with [`FrameReader::next_opening`], which reads the version of a hello
//!    before anything else and returns a hello of another version as
//!    [`Opening::OtherVersion`], whatever its layout; it is refused as a version
//!    ([`Refusal::other_version`]), not as a malformed frame.
//! 2. The dialled side (the parent) reads the dialler's hello before it answers, and answers a
//!    hello of another protocol version with the refusal alone, not its own hello: the peer
//!    may not be able to decode our hello, but [`Frame::Refuse`], [`Refusal`] and
//!    [`RefuseCode::Version`] never change layout, and every build reads a refusal where it
//!    expects a hello (`peer refused the link: refused (version): protocol version 2 is not
//!    supported: this node speaks version 3`). Any other hello is answered with ours, so that
//!    on a fold mismatch each side checks the pair and logs why itself.
//! 3. The dialler cannot wait for the parent: its hello opens the stream. A version-2 parent,
//!    which does not read version first, therefore logs a malformed frame when a version-3
//!    child dials it (the child logs the clean refusal). Between builds that follow rule 1
//!    that case is clean too.
//!
//! Why exact agreement, rather than a range of folds: a case is folded by every node involved
//! in it, and nodes link only pairwise, so a node cannot fold "the peer's way" for one link.
//! The node on the older fold must be upgraded.

use serde::{Deserialize, Serialize};

use super::{Frame, FrameError, FrameReader, MAX_REFUSAL_MESSAGE};
use crate::code::NodeCode;
use crate::codec;

/// Wire revision within the ALPN's major version, stated in [`Hello::version`]. Peers must
/// agree exactly; optional additions are negotiated with [`Hello::features`] instead.
/// Version 2: [`crate::CaseSummary`] carries `provisional` (clocks counted with the
/// provisional calendar). Version 3: the hello states [`Hello::fold`], and
/// [`crate::CaseSummary`] carries `events`, the size of the fold it was built from, which
/// orders summaries before the writer's clock does ([`crate::CaseSummary::supersedes`]).
pub const PROTOCOL_VERSION: u16 = 3;

/// The case fold this build implements, stated in [`Hello::fold`]. Peers must agree exactly:
/// a node refuses to link with a peer on another fold ([`RefuseCode::Fold`]).
///
/// **Bump it** with any change that makes two nodes derive different state from the same
/// events:
/// - a rule of the case fold (`node/src/case.rs`, `Case::fold` and the apply rules): fold
///   order, which event is accepted or rejected at its place (state, authority, fields), what
///   state an event leads to;
/// - the deadline rules: how working days are counted, pauses, extensions, feedback deadlines,
///   warning levels — what a case's clocks say (the calendars themselves are data, broadcast
///   as records, and need no bump);
/// - who is involved in a case (`Case::involved`), as far as routing goes: which nodes an
///   event must reach.
///
/// Not for a change that derives the same state from the same events (a refactoring, speed,
/// a new API, a new log line), nor for a wire change (that is [`PROTOCOL_VERSION`]). A bump
/// needs no new protocol version: the frames stay the same, but nodes on different folds
/// refuse each other until the older one is upgraded, so roll it out like a protocol change
/// (the whole federation, parents and children together).
///
/// Version 1: the fold as protocol version 3 found it (the first to state it).
pub const FOLD_VERSION: u16 = 1;

/// Optional features this build understands (a bitset, see [`Hello::features`]). None yet.
pub const FEATURES: u64 = 0;

/// bincode's tag of [`Frame::Hello`] (its first variant): what [`hello_version`] expects right
/// after the codec's format byte.
const HELLO_TAG: u32 = 0;

/// The handshake: who I am, which protocol and fold I speak, and, per direction, what I hold.
///
/// Layout: `version` stays the first field of every future hello (see the module doc), so that
/// a hello of any layout is refused as another version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender. Always the first field.
    pub version: u16,
    /// Who I am: must match the code in my certificate.
    pub code: NodeCode,
    /// Optional features I understand (bitset). Those in effect are the ones both sides announce:
    /// see [`Hello::common_features`].
    pub features: u64,
    pub holds: Holds,
    /// [`FOLD_VERSION`] of the sender (since protocol version 3). Last, so that a node of
    /// version 2 reading this hello sees "1 unexpected bytes after the end of the value"
    /// rather than a misplaced code.
    pub fold: u16,
}

/// Where each direction of the link stands, as stated by one side. Link sequences count from 1
/// per link and direction; 0 means "nothing".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holds {
    /// Highest link sequence I hold durably from you: resume after it.
    pub received_upto: u64,
    /// Highest link sequence queued in my outbox toward you (how far behind you are).
    pub queued_upto: u64,
}

impl Hello {
    /// A hello from this build: current protocol version, fold and features.
    pub fn new(code: NodeCode, holds: Holds) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            code,
            features: FEATURES,
            holds,
            fold: FOLD_VERSION,
        }
    }

    /// Checks a peer's hello against this build. `expected` is the code named by the peer's
    /// certificate (whether that code may link to us at all is the caller's check, against
    /// its configuration). In this order: the protocol version (a peer of another version may
    /// lay out the rest otherwise), the code (who it is), the fold (whether we would agree on
    /// its cases).
    pub fn check(&self, expected: NodeCode) -> Result<(), Refusal> {
        if self.version != PROTOCOL_VERSION {
            return Err(Refusal::other_version(self.version));
        }
        if self.code != expected {
            return Err(Refusal::new(
                RefuseCode::CodeMismatch,
                format!(
                    "hello names node {} but the certificate names node {}",
                    self.code, expected
                ),
            ));
        }
        if self.fold != FOLD_VERSION {
            return Err(Refusal::other_fold(self.code, self.fold));
        }
        Ok(())
    }

    /// The optional features in effect on the link: those both this hello and `mine` announce.
    pub fn common_features(&self, mine: u64) -> u64 {
        self.features & mine
    }
}

/// The first frame of a link, as [`FrameReader::next_opening`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// A frame of this protocol version: normally the peer's [`Hello`] (check it with
    /// [`Hello::check`]), or a [`Frame::Refuse`] from a peer that refused ours.
    Frame(Frame),
    /// A hello of another protocol version: only its version was read, the rest may be laid
    /// out otherwise. Refuse it with [`Refusal::other_version`].
    OtherVersion(u16),
}

impl FrameReader {
    /// The next frame, read as the first frame of a link: like [`FrameReader::next_frame`],
    /// except that a hello of another protocol version is not decoded past its version (the
    /// first field of every hello) and comes back as [`Opening::OtherVersion`], whatever its
    /// layout. A hello of this version that does not decode is a [`FrameError::Codec`], as
    /// any frame.
    pub fn next_opening(&mut self) -> Result<Option<Opening>, FrameError> {
        self.next_body_with(|body, limit| match hello_version(body) {
            Some(version) if version != PROTOCOL_VERSION => Ok(Opening::OtherVersion(version)),
            _ => Ok(Opening::Frame(codec::decode(body, limit)?)),
        })
    }
}

/// The protocol version of the hello encoded in a frame `body` (the codec's format byte, the
/// frame's variant tag, then the hello's first field), read without decoding the rest. `None`
/// if the body is not a hello of this codec format.
fn hello_version(body: &[u8]) -> Option<u16> {
    let (&format, rest) = body.split_first()?;
    if format != codec::FORMAT_VERSION {
        return None;
    }
    // A tag and a u16 take at most 5 + 3 bytes as varints: nothing to allocate.
    let config = bincode::config::standard().with_limit::<16>();
    let ((tag, version), _read): ((u32, u16), usize) =
        bincode::decode_from_slice(rest, config).ok()?;
    (tag == HELLO_TAG).then_some(version)
}

/// Why a connection is being refused; sent just before closing it. Its layout never changes
/// (see the module doc): a peer of any version reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("refused ({code}): {message}")]
pub struct Refusal {
    pub code: RefuseCode,
    pub message: String,
}

impl Refusal {
    /// A refusal whose message is cut to at most [`MAX_REFUSAL_MESSAGE`] bytes (at a character
    /// boundary), so that it always fits a control frame.
    pub fn new(code: RefuseCode, message: impl Into<String>) -> Refusal {
        let mut message = message.into();
        if message.len() > MAX_REFUSAL_MESSAGE {
            let mut end = MAX_REFUSAL_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        Refusal { code, message }
    }

    /// The refusal of a hello of protocol version `theirs` (not this build's).
    pub fn other_version(theirs: u16) -> Refusal {
        Refusal::new(
            RefuseCode::Version,
            format!(
                "protocol version {theirs} is not supported: this node speaks version {PROTOCOL_VERSION}"
            ),
        )
    }

    /// The refusal of node `peer`, whose hello states fold version `theirs` (not this
    /// build's): names both versions and which node to upgrade.
    pub fn other_fold(peer: NodeCode, theirs: u16) -> Refusal {
        let ours = FOLD_VERSION;
        let upgrade = if theirs > ours {
            format!("upgrade this node to a build of fold version {theirs}")
        } else {
            format!("upgrade node {peer} to a build of fold version {ours}")
        };
        Refusal::new(
            RefuseCode::Fold,
            format!(
                "node {peer} folds cases by fold version {theirs} and this node by fold version \
                 {ours}: linked, they would derive different cases from the same events; {upgrade}"
            ),
        )
    }
}

/// Reason of a [`Refusal`], as the refusing side sees it. Variants are only ever added at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefuseCode {
    /// Another [`PROTOCOL_VERSION`].
    Version,
    /// The dialled node is not my configured parent.
    NotParent,
    /// The dialling node is not a child I accept (not directly below me, or not allowed).
    NotChild,
    /// Your certificate is revoked.
    Revoked,
    /// Your hello names another code than your certificate.
    CodeMismatch,
    /// An event you sent does not verify: the link is closed and an alert raised.
    BadSignature,
    /// A frame could not be decoded, broke the rules of its stream, or was over the limit.
    Malformed,
    /// Try again later (back off with jitter).
    Overloaded,
    /// A batch started after the next link sequence expected: data would be lost. Reconnecting
    /// (fresh hellos) resumes from the right place.
    Gap,
    /// Another [`FOLD_VERSION`]: the two nodes would derive different cases from the same
    /// events. The node on the older fold must be upgraded. (Sent only to a peer of this
    /// protocol version, which knows this variant.)
    Fold,
}

impl RefuseCode {
    pub const ALL: [RefuseCode; 10] = [
        RefuseCode::Version,
        RefuseCode::NotParent,
        RefuseCode::NotChild,
        RefuseCode::Revoked,
        RefuseCode::CodeMismatch,
        RefuseCode::BadSignature,
        RefuseCode::Malformed,
        RefuseCode::Overloaded,
        RefuseCode::Gap,
        RefuseCode::Fold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefuseCode::Version => "version",
            RefuseCode::NotParent => "not_parent",
            RefuseCode::NotChild => "not_child",
            RefuseCode::Revoked => "revoked",
            RefuseCode::CodeMismatch => "code_mismatch",
            RefuseCode::BadSignature => "bad_signature",
            RefuseCode::Malformed => "malformed",
            RefuseCode::Overloaded => "overloaded",
            RefuseCode::Gap => "gap",
            RefuseCode::Fold => "fold",
        }
    }
}

impl std::fmt::Display for RefuseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{encode_frame, ALPN, MAX_CONTROL_FRAME_BYTES};
    use super::*;
    use crate::arbitrary::any_hello;

    fn code(s: &str) -> NodeCode {
        s.parse().unwrap()
    }

    /// Every frame `reader` holds, read as openings.
    fn openings(bytes: &[u8]) -> Vec<Result<Opening, FrameError>> {
        let mut reader = FrameReader::for_stream(super::super::StreamKind::Control);
        reader.push(bytes);
        let mut out = Vec::new();
        loop {
            match reader.next_opening() {
                Ok(None) => return out,
                Ok(Some(o)) => out.push(Ok(o)),
                Err(e) => out.push(Err(e)),
            }
        }
    }

    /// The hello a node of protocol version 2 sends, laid out as version 2 laid it out (no
    /// fold version), framed.
    fn version_2_hello(code: NodeCode, holds: Holds) -> Vec<u8> {
        #[derive(Serialize)]
        struct HelloV2 {
            version: u16,
            code: NodeCode,
            features: u64,
            holds: Holds,
        }
        #[derive(Serialize)]
        enum FrameV2 {
            Hello(HelloV2),
        }
        let body = codec::encode(&FrameV2::Hello(HelloV2 {
            version: 2,
            code,
            features: 0,
            holds,
        }))
        .unwrap();
        let mut framed = (body.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&body);
        framed
    }

    // ----- wire stability -----

    /// The exact bytes of a hello: a change here breaks every deployed peer.
    #[test]
    fn hello_wire_bytes_are_stable() {
        assert_eq!(ALPN, b"liandong/1");
        let hello = Frame::Hello(Hello::new(
            code("370685"),
            Holds {
                received_upto: 5,
                queued_upto: 300,
            },
        ));
        assert_eq!(
            encode_frame(&hello).unwrap(),
            [
                0,
                0,
                0,
                14, // body length
                codec::FORMAT_VERSION,
                0, // Frame::Hello
                3, // version: the first field, for ever
                252,
                0xFD,
                0xA7,
                0x05,
                0x00, // code 370685 (u32 varint)
                0,    // features
                5,    // received_upto
                251,
                0x2C,
                0x01, // queued_upto 300 (u16 varint)
                1,    // fold
            ]
        );
    }

    /// Why the opening is read version first: with the plain reader, hellos of versions 2 and 3
    /// do not decode at each other's end, and a peer would see a malformed frame instead of
    /// another version.
    #[test]
    fn hellos_of_versions_2_and_3_do_not_decode_as_each_other() {
        let v2 = version_2_hello(code("370685"), Holds::default());
        let mut reader = FrameReader::for_stream(super::super::StreamKind::Control);
        reader.push(&v2);
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::Codec(codec::CodecError::Decode(_)))
        ));
        // A version-2 node decodes a version-3 hello as its own layout: one byte too many.
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct HelloV2 {
            version: u16,
            code: NodeCode,
            features: u64,
            holds: Holds,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum FrameV2 {
            Hello(HelloV2),
        }
        let v3 = encode_frame(&Frame::Hello(Hello::new(code("370685"), Holds::default()))).unwrap();
        assert_eq!(
            codec::decode::<FrameV2>(&v3[4..], 1024).unwrap_err(),
            codec::CodecError::Trailing { extra: 1 }
        );
    }

    // ----- reading the opening version first -----

    #[test]
    fn a_hello_of_version_2_is_read_as_another_version() {
        let v2 = version_2_hello(code("370685"), Holds::default());
        assert_eq!(openings(&v2), [Ok(Opening::OtherVersion(2))]);
        assert_eq!(
            Refusal::other_version(2).to_string(),
            "refused (version): protocol version 2 is not supported: this node speaks version 3"
        );
    }

    /// A later version may lay its hello out in any way: as long as the version comes first,
    /// only the version is read, and the rest of the stream goes on.
    #[test]
    fn a_hello_of_any_later_layout_is_read_as_another_version() {
        let mut body = vec![codec::FORMAT_VERSION, 0];
        // Version 300 (a u16 varint), then bytes no version of ours would decode.
        body.extend_from_slice(&[251, 0x2C, 0x01, 0xFF, 0xFF, 0xFF]);
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let ping = encode_frame(&Frame::Ping { nonce: 9 }).unwrap();
        bytes.extend_from_slice(&ping);
        assert_eq!(
            openings(&bytes),
            [
                Ok(Opening::OtherVersion(300)),
                Ok(Opening::Frame(Frame::Ping { nonce: 9 }))
            ]
        );
    }

    #[test]
    fn frames_of_this_version_are_read_whole() {
        let hello = Frame::Hello(Hello::new(code("370685"), Holds::default()));
        let refuse = Frame::Refuse(Refusal::other_version(2));
        let mut bytes = encode_frame(&hello).unwrap();
        bytes.extend_from_slice(&encode_frame(&refuse).unwrap());
        assert_eq!(
            openings(&bytes),
            [Ok(Opening::Frame(hello)), Ok(Opening::Frame(refuse))]
        );
        // A hello of this version that does not decode is a malformed frame, not a version.
        let mut bad =
            encode_frame(&Frame::Hello(Hello::new(code("370685"), Holds::default()))).unwrap();
        bad.truncate(bad.len() - 1);
        bad[3] -= 1;
        assert!(matches!(
            openings(&bad).as_slice(),
            [Err(FrameError::Codec(_))]
        ));
    }

    proptest! {
        /// Any hello is read whole if it is of this version, else as its version alone.
        #[test]
        fn any_hello_opens_by_its_version(hello in any_hello()) {
            let expected = if hello.version == PROTOCOL_VERSION {
                Opening::Frame(Frame::Hello(hello.clone()))
            } else {
                Opening::OtherVersion(hello.version)
            };
            let bytes = encode_frame(&Frame::Hello(hello)).unwrap();
            prop_assert_eq!(openings(&bytes), vec![Ok(expected)]);
        }
    }

    // ----- the check -----

    #[test]
    fn hello_check() {
        let me = code("370685001");
        let hello = Hello::new(me, Holds::default());
        assert_eq!(hello.version, PROTOCOL_VERSION);
        assert_eq!(hello.fold, FOLD_VERSION);
        assert_eq!(hello.check(me), Ok(()));

        let newer = Hello {
            version: PROTOCOL_VERSION + 1,
            ..hello.clone()
        };
        let refusal = newer.check(me).unwrap_err();
        assert_eq!(refusal.code, RefuseCode::Version);
        assert_eq!(
            refusal.message,
            "protocol version 4 is not supported: this node speaks version 3"
        );

        let other = code("370685002");
        let refusal = hello.check(other).unwrap_err();
        assert_eq!(refusal.code, RefuseCode::CodeMismatch);
        assert_eq!(
            refusal.to_string(),
            "refused (code_mismatch): hello names node 370685001 but the certificate names node 370685002"
        );

        // The version is judged first: a peer of another version may lay out the rest otherwise.
        assert_eq!(newer.check(other).unwrap_err().code, RefuseCode::Version);
    }

    #[test]
    fn the_same_fold_links() {
        let peer = code("370685001");
        let hello = Hello {
            features: 0b1011,
            ..Hello::new(peer, Holds::default())
        };
        assert_eq!(hello.check(peer), Ok(()));
    }

    /// A peer on a newer fold: this node is the one to upgrade, and the message says so,
    /// naming the peer and both versions.
    #[test]
    fn a_newer_fold_is_refused_naming_both_versions() {
        let peer = code("370685001");
        let newer = Hello {
            fold: FOLD_VERSION + 1,
            ..Hello::new(peer, Holds::default())
        };
        let refusal = newer.check(peer).unwrap_err();
        assert_eq!(refusal.code, RefuseCode::Fold);
        assert_eq!(
            refusal.to_string(),
            "refused (fold): node 370685001 folds cases by fold version 2 and this node by fold \
             version 1: linked, they would derive different cases from the same events; upgrade \
             this node to a build of fold version 2"
        );
    }

    /// A peer on an older fold: the peer is the one to upgrade.
    #[test]
    fn an_older_fold_is_refused_naming_the_node_to_upgrade() {
        let peer = code("370685001");
        let older = Hello {
            fold: FOLD_VERSION - 1,
            ..Hello::new(peer, Holds::default())
        };
        let refusal = older.check(peer).unwrap_err();
        assert_eq!(refusal.code, RefuseCode::Fold);
        assert_eq!(
            refusal.message,
            "node 370685001 folds cases by fold version 0 and this node by fold version 1: \
             linked, they would derive different cases from the same events; upgrade node \
             370685001 to a build of fold version 1"
        );
        assert!(refusal.message.len() < MAX_REFUSAL_MESSAGE);
    }

    /// The protocol version is judged before the fold (another version may not even carry a
    /// fold), and the code before the fold (who it is, before what it runs).
    #[test]
    fn the_fold_is_judged_last() {
        let peer = code("370685001");
        let hello = Hello {
            fold: FOLD_VERSION + 1,
            ..Hello::new(peer, Holds::default())
        };
        assert_eq!(hello.check(peer).unwrap_err().code, RefuseCode::Fold);
        let newer = Hello {
            version: PROTOCOL_VERSION + 1,
            ..hello.clone()
        };
        assert_eq!(newer.check(peer).unwrap_err().code, RefuseCode::Version);
        let other = code("370685002");
        assert_eq!(
            hello.check(other).unwrap_err().code,
            RefuseCode::CodeMismatch
        );
    }

    proptest! {
        /// Whatever else a hello of this build's version and its own code says, it is refused
        /// exactly when its fold differs, and then as a fold.
        #[test]
        fn refused_exactly_on_another_fold(hello in any_hello()) {
            let hello = Hello { version: PROTOCOL_VERSION, ..hello };
            match hello.check(hello.code) {
                Ok(()) => prop_assert_eq!(hello.fold, FOLD_VERSION),
                Err(r) => {
                    prop_assert_ne!(hello.fold, FOLD_VERSION);
                    prop_assert_eq!(r.code, RefuseCode::Fold);
                    let theirs = format!("fold version {}", hello.fold);
                    let ours = format!("fold version {FOLD_VERSION}");
                    prop_assert!(r.message.contains(&theirs));
                    prop_assert!(r.message.contains(&ours));
                }
            }
        }
    }

    // ----- features -----

    #[test]
    fn features_in_effect_are_the_common_ones() {
        let hello = Hello {
            features: 0b1011,
            ..Hello::new(code("370685"), Holds::default())
        };
        assert_eq!(hello.common_features(0b0110), 0b0010);
        assert_eq!(hello.common_features(FEATURES), FEATURES & 0b1011);
        assert_eq!(hello.common_features(0), 0);
        // A peer that announces nothing leaves nothing in effect, whatever we understand.
        let none = Hello {
            features: 0,
            ..hello
        };
        assert_eq!(none.common_features(u64::MAX), 0);
    }

    #[test]
    fn refusal_message_is_cut_at_a_char_boundary() {
        let r = Refusal::new(RefuseCode::Overloaded, "办".repeat(500));
        assert_eq!(r.message.len(), 1023);
        assert!(r.message.chars().all(|c| c == '办'));
        let frame = Frame::Refuse(r);
        assert!(encode_frame(&frame).unwrap().len() < MAX_CONTROL_FRAME_BYTES);
        assert_eq!(Refusal::new(RefuseCode::Gap, "short").message, "short");
    }

    /// The refusal's layout never changes: a build of any version reads it where it expects a
    /// hello. These are the bytes of version 1's and 2's refusal of another version.
    #[test]
    fn a_version_refusal_keeps_its_layout() {
        let frame = Frame::Refuse(Refusal::new(RefuseCode::Version, "v"));
        assert_eq!(
            encode_frame(&frame).unwrap(),
            [0, 0, 0, 5, codec::FORMAT_VERSION, 1, 0, 1, b'v']
        );
    }
}
