//! The federation CA's folder (DESIGN.md §8): creating it, issuing node certificates from it,
//! revoking them. The CA lives at the root of the federation (the city), in one folder whose
//! `ca.key` never leaves it:
//!
//! ```text
//! PKI/ca.key        the CA's ed25519 key (PKCS#8 PEM, mode 0600)
//! PKI/ca.crt        the CA certificate every node trusts
//! PKI/issued.toml   register of issued certificates (code, serial, not_after)
//! PKI/revoked.toml  revoked codes; travels down the tree
//! ```
//!
//! `liandong ca` is its command line; [`crate::launcher`] and `liandong bench` use it to certify
//! the nodes they start. What a certificate says, and the checks, are in [`crate::pki`]: this
//! module works on files, that one on bytes.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use federation_proto::NodeCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::{Config, FilesSection};
use crate::files::{write_atomic, write_private};
use crate::pki::{self, Authority, NodeCert, PkiError, Revocations, Revoked};

pub const CA_KEY: &str = "ca.key";
pub const CA_CERT: &str = "ca.crt";
pub const ISSUED: &str = "issued.toml";
pub const REVOKED: &str = "revoked.toml";

/// Why the CA's folder refused or failed an operation, worded for the operator at the root.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{} exists already: refusing to overwrite the federation CA", .0.display())]
    Exists(PathBuf),
    #[error(
        "{} holds no federation CA (ca.crt and ca.key): create one with `liandong ca init --dir {}`",
        .0.display(),
        .0.display()
    )]
    NoCa(PathBuf),
    #[error(
        "node {code} was revoked at {revoked_at} ({}): refusing to issue a certificate for it",
        list.display()
    )]
    Revoked {
        code: NodeCode,
        revoked_at: String,
        list: PathBuf,
    },
    #[error(
        "this CA never issued a certificate for node {code} (see {}): nothing to revoke",
        register.display()
    )]
    NeverIssued { code: NodeCode, register: PathBuf },
    #[error("loading the CA from {}", dir.display())]
    LoadCa { dir: PathBuf, source: PkiError },
    #[error("reading the node key {}", path.display())]
    ReadNodeKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is not an ed25519 PKCS#8 key ({error}); refusing to replace it",
        path.display()
    )]
    NotNodeKey {
        path: PathBuf,
        error: ed25519_dalek::pkcs8::Error,
    },
    #[error("encoding the new node key: {0}")]
    EncodeNodeKey(ed25519_dalek::pkcs8::Error),
    #[error("{} is not a valid register", path.display())]
    Register {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("writing the register")]
    WriteRegister(#[source] toml::ser::Error),
    #[error("creating {}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing one of the CA's or the node's files ([`crate::files`]).
    #[error(transparent)]
    Write(anyhow::Error),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

// ---------------------------------------------------------------------- init

/// Creates the CA in `dir`. Any CA file there already (even only an old register or revocation
/// list) is refused, so nothing of an existing CA is ever overwritten; ca.key is written first
/// and create-only, so of two concurrent `ca init`s one fails.
pub fn init(dir: &Path, name: Option<&str>) -> Result<(), CaError> {
    for file in [CA_KEY, CA_CERT, ISSUED, REVOKED] {
        let path = dir.join(file);
        if path.exists() {
            return Err(CaError::Exists(path));
        }
    }
    let ca = pki::new_ca(name)?;
    create_dir(dir)?;
    write_private(&dir.join(CA_KEY), ca.key_pem.as_bytes()).map_err(CaError::Write)?;
    write_atomic(&dir.join(CA_CERT), ca.cert_pem.as_bytes()).map_err(CaError::Write)?;
    write_atomic(
        &dir.join(REVOKED),
        Revocations::default().to_toml()?.as_bytes(),
    )
    .map_err(CaError::Write)
}

// ---------------------------------------------------------------------- issue

/// What `issue` did.
pub struct Issued {
    pub serial: String,
    pub not_after: String,
    /// Whether node.key was created now (else an existing key was certified).
    pub new_key: bool,
}

/// Issues a certificate for `code` into the node directory `out`: [`IssueRequest::check`], then
/// [`IssueRequest::issue`].
pub fn issue(pki_dir: &Path, code: NodeCode, out: &Path, days: u32) -> Result<Issued, CaError> {
    IssueRequest::check(pki_dir, code, out)?.issue(days)
}

/// A certificate the CA may issue: the CA is there and loaded, and the code is not revoked.
/// Nothing is written until [`IssueRequest::issue`], so the caller can first tell the operator
/// what [`IssueRequest::other_node`] found.
pub struct IssueRequest {
    pki_dir: PathBuf,
    code: NodeCode,
    out: PathBuf,
    ca_pem: Vec<u8>,
    authority: Authority,
}

impl IssueRequest {
    /// Checks that `pki_dir` holds a CA that may certify `code` into `out`, and loads it.
    pub fn check(pki_dir: &Path, code: NodeCode, out: &Path) -> Result<IssueRequest, CaError> {
        require_ca(pki_dir)?;
        let revoked_path = pki_dir.join(REVOKED);
        if let Some(r) = Revocations::load(&revoked_path)?.entry(code) {
            return Err(CaError::Revoked {
                code,
                revoked_at: r.revoked_at.clone(),
                list: revoked_path,
            });
        }
        let (ca_pem, authority) = load_authority(pki_dir)?;
        Ok(IssueRequest {
            pki_dir: pki_dir.to_path_buf(),
            code,
            out: out.to_path_buf(),
            ca_pem,
            authority,
        })
    }

    /// The code of the node whose folder `out` is, if that is another node: `liandong run`
    /// refuses a certificate for another code, which is easiest fixed before issuing it.
    pub fn other_node(&self) -> Option<NodeCode> {
        let config = Config::load(&self.out.join("node.toml")).ok()?;
        (config.code() != self.code).then(|| config.code())
    }

    /// Issues the certificate, valid `days` days, into `out` (node.crt, ca.crt, and node.key if
    /// there is none). The register entry is written before the certificate, so every
    /// certificate that exists can be revoked by its serial.
    pub fn issue(self, days: u32) -> Result<Issued, CaError> {
        let files = FilesSection::default();
        create_dir(&self.out)?;
        let (key, new_key) = load_or_create_node_key(&self.out.join(&files.key))?;
        let cert = self
            .authority
            .issue(self.code, &key.verifying_key(), days)?;
        Register::record(&self.pki_dir, self.code, &cert)?;
        write_atomic(&self.out.join(&files.ca), &self.ca_pem).map_err(CaError::Write)?;
        write_atomic(&self.out.join(&files.cert), cert.pem.as_bytes()).map_err(CaError::Write)?;
        Ok(Issued {
            serial: cert.serial,
            not_after: pki::rfc3339(cert.not_after),
            new_key,
        })
    }
}

fn require_ca(pki_dir: &Path) -> Result<(), CaError> {
    if !pki_dir.join(CA_CERT).exists() || !pki_dir.join(CA_KEY).exists() {
        return Err(CaError::NoCa(pki_dir.to_path_buf()));
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), CaError> {
    std::fs::create_dir_all(dir).map_err(|source| CaError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// The CA certificate's PEM bytes (copied to each node) and the loaded CA.
fn load_authority(pki_dir: &Path) -> Result<(Vec<u8>, Authority), CaError> {
    let cert_path = pki_dir.join(CA_CERT);
    let key_path = pki_dir.join(CA_KEY);
    let pem = std::fs::read(&cert_path).map_err(read_error(&cert_path))?;
    let der = pki::read_cert_pem(&cert_path)?;
    let key = std::fs::read_to_string(&key_path).map_err(read_error(&key_path))?;
    let authority = Authority::new(der, &key).map_err(|source| CaError::LoadCa {
        dir: pki_dir.to_path_buf(),
        source,
    })?;
    Ok((pem, authority))
}

/// The node's ed25519 key: the one in node.key if there is one (read exactly as `liandong run`
/// reads it), else a new one written there.
fn load_or_create_node_key(path: &Path) -> Result<(SigningKey, bool), CaError> {
    if path.exists() {
        let pem = std::fs::read_to_string(path).map_err(|source| CaError::ReadNodeKey {
            path: path.to_path_buf(),
            source,
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|error| CaError::NotNodeKey {
            path: path.to_path_buf(),
            error,
        })?;
        return Ok((key, false));
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(CaError::EncodeNodeKey)?;
    write_private(path, pem.as_bytes()).map_err(CaError::Write)?;
    Ok((key, true))
}

/// `issued.toml`: every certificate the CA has issued.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    #[serde(default)]
    issued: Vec<IssuedEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuedEntry {
    code: NodeCode,
    serial: String,
    not_after: String,
    issued_at: String,
}

impl Register {
    /// The register; empty if nothing was issued yet.
    fn load(pki_dir: &Path) -> Result<Register, CaError> {
        let path = pki_dir.join(ISSUED);
        if !path.exists() {
            return Ok(Register::default());
        }
        let text = std::fs::read_to_string(&path).map_err(read_error(&path))?;
        toml::from_str(&text).map_err(|source| CaError::Register { path, source })
    }

    fn record(pki_dir: &Path, code: NodeCode, cert: &NodeCert) -> Result<(), CaError> {
        let mut register = Register::load(pki_dir)?;
        register.issued.push(IssuedEntry {
            code,
            serial: cert.serial.clone(),
            not_after: pki::rfc3339(cert.not_after),
            issued_at: pki::rfc3339(OffsetDateTime::now_utc()),
        });
        let body = toml::to_string_pretty(&register).map_err(CaError::WriteRegister)?;
        let text = format!("# Certificates issued by this CA (`liandong ca issue`).\n{body}");
        write_atomic(&pki_dir.join(ISSUED), text.as_bytes()).map_err(CaError::Write)
    }

    fn serials_of(&self, code: NodeCode) -> Vec<String> {
        self.issued
            .iter()
            .filter(|e| e.code == code)
            .map(|e| e.serial.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------- revoke

/// What `revoke` did.
pub enum Revocation {
    New(Revoked),
    Already(Revoked),
}

/// Revokes `code` with all the serials issued for it. Revoking twice changes nothing.
pub fn revoke(pki_dir: &Path, code: NodeCode) -> Result<Revocation, CaError> {
    require_ca(pki_dir)?;
    let path = pki_dir.join(REVOKED);
    let mut revocations = Revocations::load(&path)?;
    if let Some(r) = revocations.entry(code) {
        return Ok(Revocation::Already(r.clone()));
    }
    let serials = Register::load(pki_dir)?.serials_of(code);
    if serials.is_empty() {
        return Err(CaError::NeverIssued {
            code,
            register: pki_dir.join(ISSUED),
        });
    }
    let revoked = Revoked {
        code,
        serials,
        revoked_at: pki::rfc3339(OffsetDateTime::now_utc()),
    };
    revocations.add(revoked.clone());
    write_atomic(&path, revocations.to_toml()?.as_bytes()).map_err(CaError::Write)?;
    Ok(Revocation::New(revoked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> NodeCode {
        s.parse().expect("a division code")
    }

    #[test]
    fn a_certificate_issued_into_a_folder_verifies_and_its_code_can_be_revoked() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let pki_dir = tmp.path().join("pki");
        init(&pki_dir, Some("莆田市")).expect("ca init");
        assert!(matches!(init(&pki_dir, None), Err(CaError::Exists(_))));

        let node = tmp.path().join("350322");
        let first = issue(&pki_dir, code("350322"), &node, 30).expect("issue");
        assert!(first.new_key);
        let cert = pki::read_cert_pem(&node.join("node.crt")).expect("node.crt");
        let ca = pki::read_cert_pem(&node.join("ca.crt")).expect("ca.crt");
        pki::verify_issued_by(&cert, &ca).expect("issued by the CA");
        assert_eq!(pki::node_code_of(&cert).expect("code"), code("350322"));
        let again = issue(&pki_dir, code("350322"), &node, 30).expect("re-issue");
        assert!(!again.new_key, "the node key is kept");
        assert_ne!(first.serial, again.serial);

        assert!(matches!(
            revoke(&pki_dir, code("350302")),
            Err(CaError::NeverIssued { .. })
        ));
        let Revocation::New(revoked) = revoke(&pki_dir, code("350322")).expect("revoke") else {
            panic!("a first revocation is new");
        };
        assert_eq!(revoked.serials, [first.serial, again.serial]);
        assert!(matches!(
            revoke(&pki_dir, code("350322")),
            Ok(Revocation::Already(_))
        ));
        assert!(matches!(
            issue(&pki_dir, code("350322"), &node, 30),
            Err(CaError::Revoked { .. })
        ));
    }

    #[test]
    fn no_ca_no_certificate() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let err = issue(tmp.path(), code("350300"), &tmp.path().join("n"), 30)
            .err()
            .expect("refused");
        assert!(matches!(err, CaError::NoCa(_)), "{err}");
        assert!(!tmp.path().join("n").exists(), "nothing written");
    }
}
