//! The handshake: the [`Hello`] each side of a link sends first, what each side checks in the
//! other's ([`Hello::check`]), and the [`Refusal`] that ends a link.

use serde::{Deserialize, Serialize};

use super::MAX_REFUSAL_MESSAGE;
use crate::code::NodeCode;

/// Wire revision within the ALPN's major version, stated in [`Hello::version`]. Peers must
/// agree exactly; optional additions are negotiated with [`Hello::features`] instead.
/// Version 2: [`crate::CaseSummary`] carries `provisional` (clocks counted with the
/// provisional calendar).
pub const PROTOCOL_VERSION: u16 = 2;

/// Optional features this build understands (a bitset, see [`Hello::features`]). None yet.
pub const FEATURES: u64 = 0;

/// The handshake: who I am and, per direction, what I hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u16,
    /// Who I am: must match the code in my certificate.
    pub code: NodeCode,
    /// Optional features I understand (bitset). Those in effect are the ones both sides announce:
    /// see [`Hello::common_features`].
    pub features: u64,
    pub holds: Holds,
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
    /// A hello from this build: current version and features.
    pub fn new(code: NodeCode, holds: Holds) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            code,
            features: FEATURES,
            holds,
        }
    }

    /// Checks a peer's hello. `expected` is the code named by the peer's certificate (whether
    /// that code may link to us at all is the caller's check, against its configuration).
    pub fn check(&self, expected: NodeCode) -> Result<(), Refusal> {
        if self.version != PROTOCOL_VERSION {
            return Err(Refusal::new(
                RefuseCode::Version,
                format!(
                    "protocol version {} is not supported: this node speaks version {}",
                    self.version, PROTOCOL_VERSION
                ),
            ));
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
        Ok(())
    }

    /// The optional features in effect on the link: those both this hello and `mine` announce.
    pub fn common_features(&self, mine: u64) -> u64 {
        self.features & mine
    }
}

/// Why a connection is being refused; sent just before closing it.
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
}

impl RefuseCode {
    pub const ALL: [RefuseCode; 9] = [
        RefuseCode::Version,
        RefuseCode::NotParent,
        RefuseCode::NotChild,
        RefuseCode::Revoked,
        RefuseCode::CodeMismatch,
        RefuseCode::BadSignature,
        RefuseCode::Malformed,
        RefuseCode::Overloaded,
        RefuseCode::Gap,
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
    use super::super::{encode_frame, Frame, ALPN, MAX_CONTROL_FRAME_BYTES};
    use super::*;
    use crate::codec;

    fn code(s: &str) -> NodeCode {
        s.parse().unwrap()
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
                13, // body length
                codec::FORMAT_VERSION,
                0, // Frame::Hello
                2, // version
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
            ]
        );
    }

    // ----- the check -----

    #[test]
    fn hello_check() {
        let me = code("370685001");
        let hello = Hello::new(me, Holds::default());
        assert_eq!(hello.version, PROTOCOL_VERSION);
        assert_eq!(hello.check(me), Ok(()));

        let newer = Hello {
            version: PROTOCOL_VERSION + 1,
            ..hello.clone()
        };
        let refusal = newer.check(me).unwrap_err();
        assert_eq!(refusal.code, RefuseCode::Version);
        assert_eq!(
            refusal.message,
            "protocol version 3 is not supported: this node speaks version 2"
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
    fn features_in_effect_are_the_common_ones() {
        let hello = Hello {
            features: 0b1011,
            ..Hello::new(code("370685"), Holds::default())
        };
        assert_eq!(hello.common_features(0b0110), 0b0010);
        assert_eq!(hello.common_features(FEATURES), FEATURES & 0b1011);
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
}
