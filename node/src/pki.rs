//! The federation PKI (DESIGN.md §8): what a node certificate says, how the CA makes one, and
//! how a node checks one.
//!
//! A node certificate binds the node's ed25519 key — the same key that signs its events — to
//! its division code. The code is carried as a URI SAN `urn:liandong:node:<CODE>`, the identity
//! the application authorises on; a DNS SAN `n<CODE>.liandong` is there only so that TLS has a
//! server name to check when a child dials its parent. The CA's files (`liandong ca`) live in
//! [`crate::ca`]; everything here works on bytes and is shared with the link layer.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use federation_proto::code::CodeError;
use federation_proto::NodeCode;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::OID_SIG_ED25519;

/// Prefix of the URI SAN that names a node: `urn:liandong:node:<CODE>`.
pub const NODE_URI_PREFIX: &str = "urn:liandong:node:";
/// Default lifetime of a node certificate: short enough that a lost key does not stay trusted
/// for long, long enough that renewal is a chore every two years, not every quarter.
pub const DEFAULT_NODE_DAYS: u32 = 825;
/// Lifetime of the federation CA: it outlives many node renewals; replacing it means
/// re-issuing every node.
pub const CA_DAYS: u32 = 20 * 365 + 5;
/// Certificates start this long before "now", so that a node whose clock is slightly behind
/// the CA's does not reject a certificate fresh off the press.
const BACKDATE: Duration = Duration::hours(1);

/// Errors of the PKI, worded for the operator who has to fix them.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate: {message}")]
    NotPem { path: PathBuf, message: String },
    #[error("the certificate does not certify an ed25519 key: {0}")]
    NotEd25519(String),
    #[error("not a valid X.509 certificate: {0}")]
    Parse(String),
    #[error(
        "the certificate of {subject} names no liandong node (no URI SAN {NODE_URI_PREFIX}CODE)"
    )]
    NoNodeIdentity { subject: String },
    #[error("the certificate of {subject} names more than one liandong node: {uris:?}")]
    AmbiguousIdentity { subject: String, uris: Vec<String> },
    #[error("the certificate's node URI {uri:?} holds no valid division code: {source}")]
    BadCode { uri: String, source: CodeError },
    #[error("the certificate of {subject} was not issued by the federation CA {ca}")]
    NotIssuedBy { subject: String, ca: String },
    #[error("{subject} is not a CA certificate (no basicConstraints CA:TRUE)")]
    NotCa { subject: String },
    #[error(
        "the certificate of {subject} is not valid now: valid from {not_before} to {not_after}"
    )]
    OutsideValidity {
        subject: String,
        not_before: String,
        not_after: String,
    },
    #[error(
        "{path} certifies node {certified} but this node is {configured} (node.toml): \
         issue its own certificate with `liandong ca issue --code {configured}`"
    )]
    CodeMismatch {
        path: PathBuf,
        certified: NodeCode,
        configured: NodeCode,
    },
    #[error(
        "{path} certifies another key than this node's event-signing key (node.key): \
         re-issue it with `liandong ca issue` into this node's directory"
    )]
    KeyMismatch { path: PathBuf },
    #[error("{path} is not a valid revocation list: {message}")]
    Revocations { path: PathBuf, message: String },
    #[error("writing the revocation list failed: {0}")]
    Encode(#[from] toml::ser::Error),
    #[error("making the certificate failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the system random generator failed: {0}")]
    Random(#[from] getrandom::Error),
}

/// The TLS server name of a node: a child dials its parent with this name.
pub fn server_name(code: NodeCode) -> String {
    format!("n{code}.liandong")
}

/// The URI SAN that names a node.
pub fn node_uri(code: NodeCode) -> String {
    format!("{NODE_URI_PREFIX}{code}")
}

// ---------------------------------------------------------------------- making certificates

/// A new federation CA, PEM-encoded: `key_pem` is a PKCS#8 ed25519 key.
pub struct NewCa {
    pub key_pem: String,
    pub cert_pem: String,
}

/// Creates a federation CA: a self-signed ed25519 certificate that may sign node certificates
/// only (path length 0: there are no intermediate CAs in the federation).
pub fn new_ca(name: Option<&str>) -> Result<NewCa, PkiError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let common_name = match name {
        Some(n) if !n.trim().is_empty() => format!("liandong federation CA {}", n.trim()),
        _ => "liandong federation CA".to_string(),
    };
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial()?);
    (params.not_before, params.not_after) = validity(CA_DAYS);
    let cert = params.self_signed(&key)?;
    Ok(NewCa {
        key_pem: key.serialize_pem(),
        cert_pem: cert.pem(),
    })
}

/// The CA, loaded to sign node certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_der: Vec<u8>,
}

/// A node certificate just issued, with what the CA's register records about it.
pub struct NodeCert {
    pub pem: String,
    pub der: Vec<u8>,
    /// The serial number as colon-separated hex, as `openssl x509 -text` shows it.
    pub serial: String,
    pub not_after: OffsetDateTime,
}

impl Authority {
    /// Loads the CA from its certificate (DER) and key (PKCS#8 PEM).
    pub fn new(cert_der: Vec<u8>, key_pem: &str) -> Result<Authority, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key)?;
        Ok(Authority { issuer, cert_der })
    }

    /// Certifies `key` as node `code` for `days` days. The result is checked against the CA
    /// certificate, so a `ca.key` that does not belong to `ca.crt` is caught here and not at
    /// the first link.
    pub fn issue(
        &self,
        code: NodeCode,
        key: &VerifyingKey,
        days: u32,
    ) -> Result<NodeCert, PkiError> {
        let params = node_params(code, days)?;
        let cert = params.signed_by(&Ed25519Public(key.to_bytes()), &self.issuer)?;
        let der = cert.der().to_vec();
        verify_issued_by(&der, &self.cert_der)?;
        let serial = parse(&der)?.raw_serial_as_string();
        Ok(NodeCert {
            pem: cert.pem(),
            der,
            serial,
            not_after: params.not_after,
        })
    }
}

fn node_params(code: NodeCode, days: u32) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&code.to_string());
    params.subject_alt_names = vec![
        SanType::DnsName(server_name(code).try_into()?),
        SanType::URI(node_uri(code).try_into()?),
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    (params.not_before, params.not_after) = validity(days);
    Ok(params)
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "liandong");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn validity(days: u32) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - BACKDATE, now + Duration::days(i64::from(days)))
}

/// A random positive 128-bit serial: re-issuing for the same key must give a new serial, which
/// rcgen's default (a hash of the key) would not.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// The node's public key as rcgen wants it, so the CA certifies the key the node already has
/// (node.key, read by ed25519-dalek like the node reads it) without going through rcgen's own
/// key parser.
struct Ed25519Public([u8; 32]);

impl PublicKeyData for Ed25519Public {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ED25519
    }
}

// ---------------------------------------------------------------------- checking certificates

/// Reads a PEM certificate file and returns its DER bytes.
pub fn read_cert_pem(path: &Path) -> Result<Vec<u8>, PkiError> {
    let bytes = std::fs::read(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let not_pem = |message: String| PkiError::NotPem {
        path: path.to_path_buf(),
        message,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes).map_err(|e| not_pem(e.to_string()))?;
    if pem.label != "CERTIFICATE" {
        return Err(not_pem(format!("found a {:?} block", pem.label)));
    }
    Ok(pem.contents)
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Parse(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::Parse(format!(
            "{} bytes after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// The node a certificate names: its one URI SAN `urn:liandong:node:<CODE>`. This is the
/// identity a link is authorised on; the CN and DNS name are not consulted.
pub fn node_code_of(cert_der: &[u8]) -> Result<NodeCode, PkiError> {
    let cert = parse(cert_der)?;
    let subject = cert.subject().to_string();
    let sans = cert
        .subject_alternative_name()
        .map_err(|e| PkiError::Parse(format!("subjectAltName: {e}")))?;
    let uris: Vec<&str> = sans
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(NODE_URI_PREFIX) => Some(*uri),
            _ => None,
        })
        .collect();
    match uris.as_slice() {
        [] => Err(PkiError::NoNodeIdentity { subject }),
        [uri] => uri[NODE_URI_PREFIX.len()..]
            .parse()
            .map_err(|source| PkiError::BadCode {
                uri: uri.to_string(),
                source,
            }),
        _ => Err(PkiError::AmbiguousIdentity {
            subject,
            uris: uris.iter().map(|u| u.to_string()).collect(),
        }),
    }
}

/// Checks that `cert_der` was signed by the CA in `ca_der` and that both are valid now. The
/// link layer's TLS verifier does this too; this is the same check for tests, `ca issue` and
/// operators' tools, with messages that say which part failed.
pub fn verify_issued_by(cert_der: &[u8], ca_der: &[u8]) -> Result<(), PkiError> {
    let cert = parse(cert_der)?;
    let ca = parse(ca_der)?;
    let not_issued = || PkiError::NotIssuedBy {
        subject: cert.subject().to_string(),
        ca: ca.subject().to_string(),
    };
    if !ca.is_ca() {
        return Err(PkiError::NotCa {
            subject: ca.subject().to_string(),
        });
    }
    if cert.issuer().as_raw() != ca.subject().as_raw() {
        return Err(not_issued());
    }
    cert.verify_signature(Some(ca.public_key()))
        .map_err(|_| not_issued())?;
    check_validity(&ca)?;
    check_validity(&cert)
}

fn check_validity(cert: &X509Certificate<'_>) -> Result<(), PkiError> {
    let validity = cert.validity();
    if validity.is_valid() {
        return Ok(());
    }
    Err(PkiError::OutsideValidity {
        subject: cert.subject().to_string(),
        not_before: rfc3339(validity.not_before.to_datetime()),
        not_after: rfc3339(validity.not_after.to_datetime()),
    })
}

/// Whether the certificate certifies this ed25519 key: a node must not present a certificate
/// for a key other than the one that signs its events.
pub fn signing_key_matches(cert_der: &[u8], key: &VerifyingKey) -> bool {
    verifying_key_of(cert_der).is_ok_and(|k| k == *key)
}

/// The ed25519 key a node certificate certifies: the key its events are verified against.
pub fn verifying_key_of(cert_der: &[u8]) -> Result<VerifyingKey, PkiError> {
    let cert = parse(cert_der)?;
    let spki = cert.public_key();
    let bytes = <[u8; 32]>::try_from(&spki.subject_public_key.data[..]).ok();
    match bytes.filter(|_| spki.algorithm.algorithm == OID_SIG_ED25519) {
        Some(b) => VerifyingKey::from_bytes(&b).map_err(|e| PkiError::NotEd25519(e.to_string())),
        None => Err(PkiError::NotEd25519(cert.subject().to_string())),
    }
}

/// The federation CA as the core's certificate directory uses it
/// ([`federation_proto::relay::Certificates`]): X.509 parsing and signature checks stay here,
/// in the shell.
pub struct FederationCa {
    ca_der: Option<Vec<u8>>,
}

impl FederationCa {
    /// `ca_der`: the federation CA certificate, when the node federates.
    pub fn new(ca_der: Option<Vec<u8>>) -> FederationCa {
        FederationCa { ca_der }
    }
}

impl federation_proto::relay::Certificates for FederationCa {
    /// Validity by the system clock (see the trait's doc for why).
    fn check(
        &self,
        der: &[u8],
    ) -> Result<(NodeCode, VerifyingKey), federation_proto::relay::CertificateRefused> {
        use federation_proto::relay::CertificateRefused;
        let ca = self.ca_der.as_deref().ok_or(CertificateRefused::NoCa)?;
        let invalid = |e: PkiError| CertificateRefused::Invalid(e.to_string());
        verify_issued_by(der, ca).map_err(invalid)?;
        let code = node_code_of(der).map_err(invalid)?;
        let key = verifying_key_of(der).map_err(invalid)?;
        Ok((code, key))
    }

    fn key_of(&self, der: &[u8]) -> Result<VerifyingKey, String> {
        verifying_key_of(der).map_err(|e| e.to_string())
    }
}

/// The start-up check of `liandong run`: if the node has a certificate, it must name this
/// node's code and certify its key. Without a certificate the node runs alone, as before
/// federation; returns whether a certificate was checked.
pub fn check_own_certificate(
    cert_path: &Path,
    code: NodeCode,
    key: &VerifyingKey,
) -> Result<bool, PkiError> {
    if !cert_path.exists() {
        return Ok(false);
    }
    let der = read_cert_pem(cert_path)?;
    let certified = node_code_of(&der)?;
    if certified != code {
        return Err(PkiError::CodeMismatch {
            path: cert_path.to_path_buf(),
            certified,
            configured: code,
        });
    }
    if !signing_key_matches(&der, key) {
        return Err(PkiError::KeyMismatch {
            path: cert_path.to_path_buf(),
        });
    }
    tracing::info!(node = %code, cert = %cert_path.display(), "node certificate matches the node's code and key");
    Ok(true)
}

/// An instant as RFC 3339 (UTC, whole seconds as in certificates), the form the CA's files use.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

// ---------------------------------------------------------------------- revocations

/// The revocation list (`revoked.toml`): revoked node codes. A code is revoked as a whole,
/// with every certificate issued for it, because links are authorised on the code. Serde, so
/// it can travel down the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocations {
    #[serde(default)]
    revoked: Vec<Revoked>,
}

/// One revoked node (the core's record: it travels down the tree and the writer keeps it).
pub use federation_proto::relay::Revoked;

impl Revocations {
    pub fn load(path: &Path) -> Result<Revocations, PkiError> {
        let text = std::fs::read_to_string(path).map_err(|source| PkiError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| PkiError::Revocations {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The revocations in `text`, the format of `revoked.toml`.
    pub fn parse(text: &str) -> Result<Revocations, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn is_revoked(&self, code: NodeCode) -> bool {
        self.entry(code).is_some()
    }

    pub fn entry(&self, code: NodeCode) -> Option<&Revoked> {
        self.revoked.iter().find(|r| r.code == code)
    }

    /// Adds a revocation; false (and no change) if the code is revoked already.
    pub fn add(&mut self, revoked: Revoked) -> bool {
        if self.is_revoked(revoked.code) {
            return false;
        }
        self.revoked.push(revoked);
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = &Revoked> {
        self.revoked.iter()
    }

    /// The file's text, with a comment saying what it is.
    pub fn to_toml(&self) -> Result<String, PkiError> {
        let body = toml::to_string_pretty(self)?;
        Ok(format!(
            "# Revoked liandong node certificates (`liandong ca revoke`). A node refuses links \
             from the codes listed here.\n{body}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn code(s: &str) -> NodeCode {
        s.parse().unwrap()
    }

    fn new_authority() -> (Authority, Vec<u8>) {
        let new = new_ca(Some("test")).unwrap();
        let der = pem_der(&new.cert_pem);
        (Authority::new(der.clone(), &new.key_pem).unwrap(), der)
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    }

    fn node_key() -> SigningKey {
        SigningKey::generate(&mut rand_core::OsRng)
    }

    #[test]
    fn an_issued_certificate_names_its_node_and_key() {
        let (ca, ca_der) = new_authority();
        let key = node_key();
        let cert = ca
            .issue(code("350322101"), &key.verifying_key(), 825)
            .unwrap();
        assert_eq!(node_code_of(&cert.der).unwrap(), code("350322101"));
        verify_issued_by(&cert.der, &ca_der).unwrap();
        assert!(signing_key_matches(&cert.der, &key.verifying_key()));
        assert!(!signing_key_matches(&cert.der, &node_key().verifying_key()));
        assert_eq!(pem_der(&cert.pem), cert.der);
    }

    #[test]
    fn the_certificate_is_a_tls_end_entity_with_both_names() {
        let (ca, ca_der) = new_authority();
        let cert = ca
            .issue(code("350300"), &node_key().verifying_key(), 30)
            .unwrap();
        let parsed = parse(&cert.der).unwrap();
        assert!(!parsed.is_ca());
        let eku = parsed.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        let sans = parsed.subject_alternative_name().unwrap().unwrap().value;
        assert!(sans
            .general_names
            .contains(&GeneralName::DNSName("n350300.liandong")));
        assert!(parse(&ca_der).unwrap().is_ca());
    }

    #[test]
    fn re_issuing_gives_a_new_serial() {
        let (ca, _) = new_authority();
        let key = node_key().verifying_key();
        let a = ca.issue(code("350322"), &key, 825).unwrap();
        let b = ca.issue(code("350322"), &key, 825).unwrap();
        assert_ne!(a.serial, b.serial);
    }

    #[test]
    fn another_ca_did_not_issue_it() {
        let (ca, _) = new_authority();
        let (_, other_der) = new_authority();
        let cert = ca
            .issue(code("350322"), &node_key().verifying_key(), 825)
            .unwrap();
        let err = verify_issued_by(&cert.der, &other_der).unwrap_err();
        assert!(matches!(err, PkiError::NotIssuedBy { .. }), "{err}");
    }

    #[test]
    fn a_node_certificate_is_not_a_ca() {
        let (ca, _) = new_authority();
        let a = ca
            .issue(code("350322"), &node_key().verifying_key(), 825)
            .unwrap();
        let b = ca
            .issue(code("350300"), &node_key().verifying_key(), 825)
            .unwrap();
        let err = verify_issued_by(&a.der, &b.der).unwrap_err();
        assert!(matches!(err, PkiError::NotCa { .. }), "{err}");
    }

    #[test]
    fn a_mismatched_ca_key_is_caught_when_issuing() {
        let (_, ca_der) = new_authority();
        let other = new_ca(None).unwrap();
        let ca = Authority::new(ca_der, &other.key_pem).unwrap();
        assert!(ca
            .issue(code("350322"), &node_key().verifying_key(), 825)
            .is_err());
    }

    #[test]
    fn node_code_of_wants_exactly_one_valid_node_uri() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let with = |uris: &[&str]| {
            let mut params = CertificateParams::default();
            params.subject_alt_names = uris
                .iter()
                .map(|u| SanType::URI((*u).try_into().unwrap()))
                .collect();
            params.self_signed(&key).unwrap().der().to_vec()
        };
        let err = |uris: &[&str]| node_code_of(&with(uris)).unwrap_err();
        assert!(matches!(err(&[]), PkiError::NoNodeIdentity { .. }));
        assert!(matches!(
            err(&["https://example.org"]),
            PkiError::NoNodeIdentity { .. }
        ));
        assert!(matches!(
            err(&["urn:liandong:node:12345"]),
            PkiError::BadCode { .. }
        ));
        assert!(matches!(
            err(&["urn:liandong:node:350300", "urn:liandong:node:350322"]),
            PkiError::AmbiguousIdentity { .. }
        ));
        let ok = with(&["https://example.org", "urn:liandong:node:350322"]);
        assert_eq!(node_code_of(&ok).unwrap(), code("350322"));
        assert!(matches!(
            node_code_of(b"junk").unwrap_err(),
            PkiError::Parse(_)
        ));
    }

    #[test]
    fn an_expired_certificate_fails_verification() {
        let (ca, ca_der) = new_authority();
        let mut params = node_params(code("350322"), 1).unwrap();
        params.not_before = OffsetDateTime::now_utc() - Duration::days(10);
        params.not_after = OffsetDateTime::now_utc() - Duration::days(1);
        let cert = params
            .signed_by(
                &Ed25519Public(node_key().verifying_key().to_bytes()),
                &ca.issuer,
            )
            .unwrap();
        let err = verify_issued_by(cert.der(), &ca_der).unwrap_err();
        assert!(matches!(err, PkiError::OutsideValidity { .. }), "{err}");
    }

    #[test]
    fn revocations_round_trip_and_are_idempotent() {
        let mut revs = Revocations::default();
        let entry = Revoked {
            code: code("350322"),
            serials: vec!["4a:01".into()],
            revoked_at: "2026-11-03T10:00:00Z".into(),
        };
        assert!(revs.add(entry.clone()));
        assert!(!revs.add(entry));
        let back: Revocations = toml::from_str(&revs.to_toml().unwrap()).unwrap();
        assert_eq!(back, revs);
        assert!(back.is_revoked(code("350322")));
        assert!(!back.is_revoked(code("350300")));
        let empty: Revocations =
            toml::from_str(&Revocations::default().to_toml().unwrap()).unwrap();
        assert_eq!(empty, Revocations::default());
    }

    #[test]
    fn the_start_check_names_both_codes() {
        let (ca, _) = new_authority();
        let key = node_key();
        let cert = ca.issue(code("350322"), &key.verifying_key(), 825).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.crt");
        assert!(!check_own_certificate(&path, code("350322"), &key.verifying_key()).unwrap());
        std::fs::write(&path, &cert.pem).unwrap();
        assert!(check_own_certificate(&path, code("350322"), &key.verifying_key()).unwrap());
        let err = check_own_certificate(&path, code("350300"), &key.verifying_key()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("350322") && text.contains("350300"), "{text}");
        let err = check_own_certificate(&path, code("350322"), &node_key().verifying_key());
        assert!(matches!(err, Err(PkiError::KeyMismatch { .. })));
    }
}
