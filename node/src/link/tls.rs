//! TLS for federation links: mutual authentication against the federation CA, with the ring
//! provider chosen explicitly, and the peer's division code read from its certificate.
//!
//! rustls checks only that a peer's chain ends at our CA (and, when dialling, the server name
//! `n<CODE>.liandong`). Which peers may link — the parent, direct children, nobody revoked — is
//! the application's decision, taken in [`super::session`] from [`peer_code`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use federation_proto::frame::ALPN;
use federation_proto::NodeCode;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::pki;

/// Idle time after which a silent link is considered cut; keep-alives go at a third of it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's TLS identity and trust anchor.
pub struct Identity {
    pub cert_der: Vec<u8>,
    pub ca_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Identity {
    pub fn new(cert_der: Vec<u8>, ca_der: Vec<u8>, key: &SigningKey) -> Result<Identity> {
        let key_der = key
            .to_pkcs8_der()
            .map_err(|e| anyhow!("encoding the node key: {e}"))?
            .as_bytes()
            .to_vec();
        Ok(Identity {
            cert_der,
            ca_der,
            key_der,
        })
    }

    /// The key of this node's QUIC stateless resets, derived from its private key so that it
    /// is the same after a restart: a node back from a crash answers a packet of a connection
    /// it lost with a reset the peer can verify, and the peer drops the dead connection and
    /// dials again at once instead of waiting for the idle timeout.
    pub fn reset_key(&self) -> ring::hmac::Key {
        let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.key_der);
        let secret = ring::hmac::sign(&derive, b"liandong/1 QUIC stateless reset");
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_ref())
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![CertificateDer::from(self.cert_der.clone())]
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    fn roots(&self) -> Result<Arc<RootCertStore>> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_der.clone()))
            .context("the federation CA certificate is not usable as a trust anchor")?;
        Ok(Arc::new(roots))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    t.keep_alive_interval(Some(IDLE_TIMEOUT / 3));
    // Links join service centers of one province: round trips are well under this. quinn's
    // default first guess (333 ms) spaces a handshake's resent Initial packets a second and
    // more apart, so a child dialling a parent that is down found it late once it was back.
    t.initial_rtt(std::time::Duration::from_millis(100));
    // Bulk catch-up: let one stream and the connection carry several batches in flight.
    t.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
    t.receive_window(quinn::VarInt::from_u32(32 << 20));
    t.send_window(32 << 20);
    Arc::new(t)
}

/// Accepts children: their certificate must chain to the CA.
pub fn server_config(id: &Identity) -> Result<quinn::ServerConfig> {
    let verifier = WebPkiClientVerifier::builder_with_provider(id.roots()?, provider())
        .build()
        .context("building the client-certificate verifier")?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain(), id.key())
        .context("the node certificate and key do not form a TLS identity")?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // 0-RTT stays off: a replayed write is not harmless.
    tls.max_early_data_size = 0;
    let crypto = QuicServerConfig::try_from(tls).context("QUIC server TLS")?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport());
    Ok(config)
}

/// Dials the parent: its certificate must chain to the CA and name it.
pub fn client_config(id: &Identity) -> Result<quinn::ClientConfig> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(id.roots()?)
        .with_client_auth_cert(id.chain(), id.key())
        .context("the node certificate and key do not form a TLS identity")?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).context("QUIC client TLS")?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport());
    Ok(config)
}

/// The peer's end-entity certificate and the code it names.
pub fn peer_code(conn: &quinn::Connection) -> Result<(NodeCode, Vec<u8>)> {
    let identity = conn
        .peer_identity()
        .ok_or_else(|| anyhow!("the peer presented no certificate"))?;
    let chain = identity
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| anyhow!("unexpected peer identity type"))?;
    let leaf = chain
        .first()
        .ok_or_else(|| anyhow!("the peer presented an empty chain"))?;
    let code = pki::node_code_of(leaf)?;
    Ok((code, leaf.to_vec()))
}
