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
    pub warnings: WarningPolicy,
    /// Failed-authentication limits of the API (`[auth]`).
    #[serde(default, skip_serializing_if = "AuthSection::is_default")]
    pub auth: AuthSection,
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
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection { cache_mb: 64 }
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
            },
            files: FilesSection::default(),
            storage: StorageSection::default(),
            warnings: WarningPolicy::default(),
            auth: Default::default(),
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
