//! `node.toml`: what a node is and where its files live. Paths are relative to the directory
//! holding the file, so a node directory can be moved as a whole.
//!
//! ```toml
//! [node]
//! code = "350322"                 # division code (6, 9 or 12 digits)
//! name = "仙游县行政服务中心"
//! parent = "350300@127.0.0.1:7300"  # optional: parent code and its QUIC address
//! listen = "127.0.0.1:0"          # QUIC; port 0 = any free port (see ports.json)
//! api = "127.0.0.1:0"             # HTTP JSON API
//!
//! [files]
//! data = "data"                   # sled database directory
//! admin_token = "admin.token"
//! key = "node.key"                # ed25519 key (PKCS#8 PEM) that signs this node's events
//! cert = "node.crt"
//! ca = "ca.crt"
//! # catalog = "catalog.toml"      # optional: replaces the built-in item catalog
//! # calendar = "calendar.toml"    # optional: overlays the built-in national calendar
//!
//! [storage]
//! cache_mb = 64                   # sled page cache
//! # check_timeout_secs = 300      # give up opening and checking the store after this long
//!                                 # (default: 120 s + 1 s per 10 MB of the log)
//!
//! [api]                           # the API's transport (all optional; these are the defaults)
//! header_timeout_ms = 10000       # a request's head must be complete within this
//! body_timeout_ms = 30000         # its body within this of the head
//! idle_timeout_ms = 60000         # a kept-alive connection with no new request is closed
//! max_connections = 512           # connections served at once; more wait in the accept queue
//! tls = false                     # serve the API over TLS (node.crt + node.key by default)
//! # tls_cert = "api.crt"          # another certificate chain and key for the API (PEM)
//! # tls_key = "api.key"
//! # tls_ca = "api-ca.crt"         # the CA the CLI trusts for the API (default: files.ca)
//! insecure = false                # allow a non-loopback API without TLS (tokens in clear)
//!
//! [warnings]
//! yellow_percent = 20             # yellow when ≤ 20 % of the limit remains (at least 1 day)
//! auto_supervise_days = 3         # automatic 督办 of a child's case red for this many working days
//! sweep_seconds = 60              # how often clocks and summaries are re-evaluated
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use federation_proto::NodeCode;
use serde::{Deserialize, Serialize};

use crate::deadline::WarningPolicy;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid node config: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub node: NodeSection,
    #[serde(default)]
    pub files: FilesSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub warnings: WarningPolicy,
    /// Failed-authentication limits of the API (`[auth]`).
    #[serde(default, skip_serializing_if = "AuthSection::is_default")]
    pub auth: AuthSection,
    /// The public listener's bounds (`[public]`).
    #[serde(default, skip_serializing_if = "PublicSection::is_default")]
    pub public: PublicSection,
}

/// `[public]` in node.toml: the public listener's bounds (its timeouts are the API's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicSection {
    /// Connections served at once (default 256); more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Requests one client address may make per minute (default 60); more get 429.
    pub requests_per_minute: u32,
    /// Lookups with a wrong case number or key one address may make per window (default 10);
    /// then every request from it gets 429 until the window ends — guessing a key is not a way
    /// in.
    pub max_failures: u32,
    /// That window, in seconds (default 600).
    pub failure_window_secs: u64,
}

impl PublicSection {
    fn is_default(&self) -> bool {
        *self == PublicSection::default()
    }
}

impl Default for PublicSection {
    fn default() -> Self {
        PublicSection {
            max_connections: 256,
            requests_per_minute: 60,
            max_failures: 10,
            failure_window_secs: 600,
        }
    }
}

/// `[auth]` in node.toml: how many failed authentications one client address may make in a
/// window before the API refuses that address (429 with `Retry-After`) until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Failures allowed per address and window (default 20).
    pub max_failures: u32,
    /// The window, and the time an address is refused once over the limit (default 60 s).
    pub failure_window_secs: u64,
}

impl AuthSection {
    pub const DEFAULT_MAX_FAILURES: u32 = 20;
    pub const DEFAULT_WINDOW_SECS: u64 = 60;

    fn is_default(&self) -> bool {
        *self == AuthSection::default()
    }
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            max_failures: AuthSection::DEFAULT_MAX_FAILURES,
            failure_window_secs: AuthSection::DEFAULT_WINDOW_SECS,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub code: NodeCode,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub listen: SocketAddr,
    pub api: SocketAddr,
    /// The public listener for applicants (`/public/v1/`: progress lookup, rating); off when
    /// absent. No tokens are served there, so any address may be given; put a TLS-terminating
    /// proxy in front of it on a network others reach (the lookup key travels in the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<SocketAddr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSection {
    pub data: PathBuf,
    pub admin_token: PathBuf,
    pub key: PathBuf,
    pub cert: PathBuf,
    pub ca: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<PathBuf>,
}

impl Default for FilesSection {
    fn default() -> Self {
        FilesSection {
            data: "data".into(),
            admin_token: "admin.token".into(),
            key: "node.key".into(),
            cert: "node.crt".into(),
            ca: "ca.crt".into(),
            catalog: None,
            calendar: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    pub cache_mb: u64,
    /// How long opening and checking the store at start may take before the node gives up
    /// and says the store is damaged; `None`: 120 s plus 1 s per 10 MB of the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_timeout_secs: Option<u64>,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            cache_mb: 64,
            check_timeout_secs: None,
        }
    }
}

/// The API's transport: its deadlines and connection cap (`crate::http`), and TLS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// A request's head (request line and headers) must be complete within this, counted from
    /// its first byte (from the accept for a new connection); a TLS handshake too.
    pub header_timeout_ms: u64,
    /// A request's body must be complete within this of its head.
    pub body_timeout_ms: u64,
    /// A kept-alive connection on which no new request starts within this is closed.
    pub idle_timeout_ms: u64,
    /// Connections served at once; more wait in the kernel's accept queue until one closes.
    pub max_connections: usize,
    /// Serve the API over TLS: with `tls_cert`/`tls_key`, or else the node's federation
    /// certificate and key (`files.cert`, `files.key`).
    pub tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// The CA the CLI trusts for a TLS API (default: `files.ca`, the federation CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// Accept a non-loopback API address without TLS: bearer tokens then cross the network in
    /// clear, which is safe only behind a TLS-terminating proxy or on a network of its own.
    pub insecure: bool,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 512,
            tls: false,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            insecure: false,
        }
    }
}

impl ApiSection {
    /// The transport's bounds.
    pub fn limits(&self) -> crate::http::Limits {
        let ms = std::time::Duration::from_millis;
        crate::http::Limits {
            header_timeout: ms(self.header_timeout_ms),
            body_timeout: ms(self.body_timeout_ms),
            idle_timeout: ms(self.idle_timeout_ms),
            max_connections: self.max_connections,
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        for (name, ms) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ] {
            if ms == 0 {
                return Err(ConfigError::Invalid(format!(
                    "api.{name} must be at least 1"
                )));
            }
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "api.max_connections must be at least 1".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "api.tls_cert and api.tls_key go together: give both or neither".into(),
            ));
        }
        if self.tls_cert.is_some() && !self.tls {
            return Err(ConfigError::Invalid(
                "api.tls_cert is set but api.tls is false: set api.tls = true to use it".into(),
            ));
        }
        Ok(())
    }
}

/// Why a node refuses to serve its API where it was asked to.
#[derive(Debug, thiserror::Error)]
#[error(
    "the API address {addr} is not a loopback address, and without TLS every bearer token would \
     cross the network in clear. Either serve the API over TLS (`[api] tls = true` in node.toml: \
     the node's certificate from `liandong ca issue`, or `tls_cert`/`tls_key`; `liandong init \
     --api-tls`), or name the risk with `liandong run --insecure-api` (or `[api] insecure = \
     true`; `liandong init --insecure-api`) when a TLS-terminating proxy or a private network \
     protects it"
)]
pub struct ExposedApi {
    pub addr: SocketAddr,
}

/// Refuses a non-loopback API address unless it is served over TLS or the operator accepted the
/// risk (`insecure`: `--insecure-api` or `[api] insecure = true`). 0.0.0.0 and :: are not
/// loopback: they listen on every interface.
pub fn check_api_exposure(addr: SocketAddr, tls: bool, insecure: bool) -> Result<(), ExposedApi> {
    if addr.ip().is_loopback() || tls || insecure {
        Ok(())
    } else {
        Err(ExposedApi { addr })
    }
}

/// A parent link: its code and QUIC address, written `CODE@HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentAddr {
    pub code: NodeCode,
    pub addr: String,
}

pub fn parse_parent(s: &str) -> Result<ParentAddr, ConfigError> {
    let (code, addr) = s
        .split_once('@')
        .ok_or_else(|| ConfigError::Invalid(format!("parent {s:?} must be CODE@HOST:PORT")))?;
    let code: NodeCode = code
        .parse()
        .map_err(|e| ConfigError::Invalid(format!("parent: {e}")))?;
    if addr
        .rsplit_once(':')
        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    {
        return Err(ConfigError::Invalid(format!(
            "parent address {addr:?} must be HOST:PORT"
        )));
    }
    Ok(ParentAddr {
        code,
        addr: addr.to_string(),
    })
}

/// A loaded config with its paths resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    pub dir: PathBuf,
    pub parent: Option<ParentAddr>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Config::new(file, dir)
    }

    pub fn new(file: ConfigFile, dir: PathBuf) -> Result<Config, ConfigError> {
        if file.node.name.trim().is_empty() {
            return Err(ConfigError::Invalid("node.name must not be empty".into()));
        }
        let parent = file.node.parent.as_deref().map(parse_parent).transpose()?;
        if let Some(p) = &parent {
            if !p.code.is_ancestor_of(file.node.code) {
                return Err(ConfigError::Invalid(format!(
                    "parent {} is not an ancestor of {}",
                    p.code, file.node.code
                )));
            }
        }
        file.api.check()?;
        if file.auth.max_failures == 0 || file.auth.failure_window_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.max_failures and auth.failure_window_secs must be at least 1".into(),
            ));
        }
        if file.storage.cache_mb == 0 {
            return Err(ConfigError::Invalid(
                "storage.cache_mb must be at least 1".into(),
            ));
        }
        Ok(Config { file, dir, parent })
    }

    pub fn path(&self, p: &Path) -> PathBuf {
        self.dir.join(p)
    }

    pub fn code(&self) -> NodeCode {
        self.file.node.code
    }

    pub fn ports_file(&self) -> PathBuf {
        self.dir.join("ports.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(code: &str, parent: Option<&str>) -> ConfigFile {
        ConfigFile {
            node: NodeSection {
                code: code.parse().unwrap(),
                name: "test".into(),
                parent: parent.map(String::from),
                listen: "127.0.0.1:0".parse().unwrap(),
                api: "127.0.0.1:0".parse().unwrap(),
                public: None,
            },
            files: FilesSection::default(),
            storage: StorageSection::default(),
            api: ApiSection::default(),
            warnings: WarningPolicy::default(),
            auth: Default::default(),
            public: Default::default(),
        }
    }

    #[test]
    fn the_api_section_is_optional_and_checked() {
        let old = "[node]\ncode = \"350322\"\nname = \"x\"\nlisten = \"127.0.0.1:0\"\napi = \"127.0.0.1:0\"\n";
        let file: ConfigFile = toml::from_str(old).unwrap();
        assert_eq!(file.api.header_timeout_ms, 10_000);
        assert_eq!(file.api.max_connections, 512);
        assert!(!file.api.tls && !file.api.insecure);
        let partial: ConfigFile =
            toml::from_str(&format!("{old}[api]\nheader_timeout_ms = 200\n")).unwrap();
        assert_eq!(partial.api.header_timeout_ms, 200);
        assert_eq!(partial.api.idle_timeout_ms, 60_000);
        for bad in [
            "max_connections = 0",
            "body_timeout_ms = 0",
            "tls = true\ntls_cert = \"a.crt\"",
            "tls_cert = \"a.crt\"\ntls_key = \"a.key\"",
        ] {
            let file: ConfigFile = toml::from_str(&format!("{old}[api]\n{bad}\n")).unwrap();
            assert!(Config::new(file, ".".into()).is_err(), "{bad}");
        }
        assert!(toml::from_str::<ConfigFile>(&format!("{old}[api]\nbogus = 1\n")).is_err());
    }

    #[test]
    fn a_non_loopback_api_needs_tls_or_the_risk_named() {
        let any: SocketAddr = "0.0.0.0:8322".parse().unwrap();
        let lan: SocketAddr = "10.0.0.5:8322".parse().unwrap();
        for local in ["127.0.0.1:8322", "[::1]:8322"] {
            assert!(check_api_exposure(local.parse().unwrap(), false, false).is_ok());
        }
        for addr in [any, lan] {
            let refused = check_api_exposure(addr, false, false)
                .unwrap_err()
                .to_string();
            assert!(refused.contains("tls = true") && refused.contains("--insecure-api"));
            assert!(check_api_exposure(addr, true, false).is_ok());
            assert!(check_api_exposure(addr, false, true).is_ok());
        }
    }

    #[test]
    fn parent_must_be_an_ancestor() {
        assert!(Config::new(file("350322", Some("350300@127.0.0.1:7000")), ".".into()).is_ok());
        assert!(Config::new(file("350322", Some("350400@127.0.0.1:7000")), ".".into()).is_err());
        assert!(Config::new(file("350322", Some("350300@nowhere")), ".".into()).is_err());
        assert!(Config::new(file("350322", Some("350300")), ".".into()).is_err());
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../config-examples/county-350322.toml");
        let file: ConfigFile = toml::from_str(text).unwrap();
        let config = Config::new(file, ".".into()).unwrap();
        assert_eq!(config.code().to_string(), "350322");
    }

    #[test]
    fn round_trips_through_toml() {
        let text = toml::to_string(&file("350322", None)).unwrap();
        let back: ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(back.node.code, file("350322", None).node.code);
        assert!(toml::from_str::<ConfigFile>(&format!("{text}\nbogus = 1\n")).is_err());
    }
}
