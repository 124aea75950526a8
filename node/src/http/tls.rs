//! TLS for the API, so that bearer tokens never cross a network in clear.
//!
//! The server side serves a certificate and key from PEM files — by default the node's own
//! federation certificate (`node.crt`, issued by `liandong ca issue`) and its ed25519 key
//! (`node.key`): it names the node as `n<CODE>.liandong` (a DNS SAN) and allows server
//! authentication, and rustls's ring provider signs with ed25519. The client side
//! ([`ApiConnector`]) is what the `liandong` CLI plugs into its HTTP client: it trusts one CA
//! (the federation's `ca.crt` by default) and, for a node certificate, checks the name
//! `n<CODE>.liandong` whatever host or IP the URL names — the node certificate holds no IP
//! address, and the CLI usually dials 127.0.0.1 or an address from node.toml.
//!
//! Only the ring provider is used, as for the federation links: no aws-lc, no cmake.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum ApiTlsError {
    #[error("cannot read the API's TLS {what} {path}: {message}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("the API's TLS certificate {cert} and key {key} do not form a TLS identity: {source}")]
    Identity {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("{path} is not usable as the CA the API is trusted by: {source}")]
    Ca {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("{name:?} is not a TLS server name: {message}")]
    BadName { name: String, message: String },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ApiTlsError> {
    let pem = |message: String| ApiTlsError::Pem {
        what: "certificate",
        path: path.to_path_buf(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(ApiTlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The API's TLS acceptor: the certificate chain in `cert` (PEM, leaf first) and the private
/// key in `key` (PEM: PKCS#8, as `node.key` is, or another form rustls reads). HTTP/1.1 only,
/// no client certificates (operators authenticate with their bearer token).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ApiTlsError> {
    let chain = certificates(cert)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| ApiTlsError::Pem {
        what: "key",
        path: key.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|source| ApiTlsError::Identity {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The CLI's side: a TLS connector for `ureq` that trusts only the given CA.
pub struct ApiConnector {
    config: Arc<ClientConfig>,
    /// The name the server's certificate must carry; `None`: the URL's host.
    name: Option<ServerName<'static>>,
}

impl ApiConnector {
    /// Trusts the CA certificates in `ca` (PEM). `name`: the name the server certificate must
    /// carry (`n<CODE>.liandong` for a node certificate), or `None` for the URL's host.
    pub fn new(ca: &Path, name: Option<String>) -> Result<ApiConnector, ApiTlsError> {
        let mut roots = RootCertStore::empty();
        for cert in certificates(ca)? {
            roots.add(cert).map_err(|source| ApiTlsError::Ca {
                path: ca.to_path_buf(),
                source,
            })?;
        }
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = name
            .map(|n| {
                ServerName::try_from(n.clone()).map_err(|e| ApiTlsError::BadName {
                    name: n,
                    message: e.to_string(),
                })
            })
            .transpose()?;
        Ok(ApiConnector {
            config: Arc::new(config),
            name,
        })
    }
}

impl ureq::TlsConnector for ApiConnector {
    fn connect(
        &self,
        dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        let name = match &self.name {
            Some(n) => n.clone(),
            None => ServerName::try_from(dns_name.to_string())
                .map_err(|e| invalid(format!("{dns_name:?} is not a server name: {e}")))?,
        };
        let conn =
            ClientConnection::new(self.config.clone(), name).map_err(|e| invalid(e.to_string()))?;
        let mut stream = StreamOwned::new(conn, io);
        // Finish the handshake here, so that a certificate the CA did not issue is reported as
        // the failure to connect that it is, not as a failed read later.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(Box::new(ClientStream(stream)))
    }
}

/// A TLS stream as `ureq` wants it.
#[derive(Debug)]
struct ClientStream(StreamOwned<ClientConnection, Box<dyn ureq::ReadWrite>>);

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl ureq::ReadWrite for ClientStream {
    fn socket(&self) -> Option<&TcpStream> {
        self.0.sock.socket()
    }
}
