//! A new node's folder: its `node.toml` and its admin token (mode 0600), as `liandong init`
//! makes them and [`crate::launcher`] makes them for the nodes it runs. The certificate and
//! node key come from the CA ([`crate::ca::issue`] into the same folder); the store is created
//! by the node at its first start.

use std::net::SocketAddr;
use std::path::PathBuf;

use federation_proto::NodeCode;

use crate::accounts::new_token;
use crate::config::{
    check_api_exposure, parse_parent, ApiSection, Config, ConfigError, ConfigFile, ExposedApi,
    FilesSection, NodeSection, StorageSection,
};
use crate::deadline::WarningPolicy;
use crate::files::{write_atomic, write_private};

/// What a new node is: `liandong init`'s answers.
#[derive(Debug, Clone)]
pub struct NewNode {
    /// Division code: 6 digits (city/county), 9 (township) or 12 (village).
    pub code: NodeCode,
    /// The center's name, e.g. 仙游县行政服务中心.
    pub name: String,
    /// The folder to create the node in.
    pub dir: PathBuf,
    /// The parent node: `CODE@HOST:PORT` (its QUIC address), an ancestor of `code`.
    pub parent: Option<String>,
    /// QUIC listen address for child links (port 0 = any free port).
    pub listen: SocketAddr,
    /// HTTP API address (port 0 = any free port).
    pub api: SocketAddr,
    /// The public listener for applicants, if any (`[node] public`).
    pub public: Option<SocketAddr>,
    /// Serve the API over TLS with the node's certificate (`[api] tls = true`).
    pub api_tls: bool,
    /// Accept a non-loopback API without TLS (`[api] insecure = true`).
    pub insecure_api: bool,
}

impl NewNode {
    /// A root node in `dir` listening on loopback, QUIC and API on any free port, API without
    /// TLS: the defaults of `liandong init`.
    pub fn on_loopback(code: NodeCode, name: &str, dir: PathBuf) -> NewNode {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        NewNode {
            code,
            name: name.to_string(),
            dir,
            parent: None,
            listen: any_port,
            api: any_port,
            public: None,
            api_tls: false,
            insecure_api: false,
        }
    }
}

/// Why a node folder was not created.
#[derive(Debug, thiserror::Error)]
pub enum NodeFolderError {
    #[error("{} exists already: refusing to overwrite a node", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    ExposedApi(#[from] ExposedApi),
    #[error("creating {}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating the admin token")]
    Token(#[source] getrandom::Error),
    #[error("writing node.toml")]
    Serialize(#[source] toml::ser::Error),
    /// Writing the token or node.toml ([`crate::files`]).
    #[error(transparent)]
    Write(anyhow::Error),
}

/// Creates the node folder and returns the path of its `node.toml`. Refuses a folder that
/// holds a node already, and a config the node would refuse to run with.
pub fn create(new: NewNode) -> Result<PathBuf, NodeFolderError> {
    let config_path = new.dir.join("node.toml");
    if config_path.exists() {
        return Err(NodeFolderError::Exists(config_path));
    }
    if let Some(p) = &new.parent {
        parse_parent(p)?;
    }
    check_api_exposure(new.api, new.api_tls, new.insecure_api)?;
    let file = ConfigFile {
        node: NodeSection {
            code: new.code,
            name: new.name,
            parent: new.parent,
            listen: new.listen,
            api: new.api,
            public: new.public,
        },
        files: FilesSection::default(),
        storage: StorageSection::default(),
        api: ApiSection {
            tls: new.api_tls,
            insecure: new.insecure_api,
            ..ApiSection::default()
        },
        warnings: WarningPolicy::default(),
        auth: Default::default(),
        public: Default::default(),
    };
    Config::new(file.clone(), new.dir.clone())?;
    std::fs::create_dir_all(&new.dir).map_err(|source| NodeFolderError::CreateDir {
        path: new.dir.clone(),
        source,
    })?;
    let token = new_token().map_err(NodeFolderError::Token)?;
    write_private(
        &new.dir.join(&file.files.admin_token),
        format!("{token}\n").as_bytes(),
    )
    .map_err(NodeFolderError::Write)?;
    let text = toml::to_string_pretty(&file).map_err(NodeFolderError::Serialize)?;
    write_atomic(&config_path, text.as_bytes()).map_err(NodeFolderError::Write)?;
    Ok(config_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_folder_is_made_once_and_loads_as_its_config() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("350322");
        let code: NodeCode = "350322".parse().expect("code");
        let new = NewNode {
            parent: Some("350300@127.0.0.1:4433".into()),
            ..NewNode::on_loopback(code, "仙游县行政服务中心", dir.clone())
        };
        let path = create(new.clone()).expect("create");
        let config = Config::load(&path).expect("node.toml loads");
        assert_eq!(config.code(), code);
        assert_eq!(config.parent.expect("parent").addr, "127.0.0.1:4433");
        let token = std::fs::read_to_string(dir.join("admin.token")).expect("token");
        assert!(!token.trim().is_empty());
        assert!(matches!(create(new), Err(NodeFolderError::Exists(_))));
    }

    #[test]
    fn a_config_the_node_would_refuse_leaves_no_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("350322");
        let county = NewNode::on_loopback("350322".parse().expect("code"), "仙游县", dir.clone());
        let not_an_ancestor = NewNode {
            parent: Some("350302@127.0.0.1:4433".into()),
            ..county.clone()
        };
        assert!(matches!(
            create(not_an_ancestor),
            Err(NodeFolderError::Config(_))
        ));
        let exposed = NewNode {
            api: "0.0.0.0:8080".parse().expect("address"),
            ..county
        };
        assert!(matches!(
            create(exposed),
            Err(NodeFolderError::ExposedApi(_))
        ));
        assert!(!dir.exists());
    }
}
