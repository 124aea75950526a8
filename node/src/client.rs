//! The CLI's side of the API: finds the local node (config, `ports.json`, admin token) and makes
//! authenticated JSON requests — over TLS when the node serves its API with TLS
//! (`[api] tls = true`), trusting the CA its config names.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::http::tls::ApiConnector;

/// Where the API is and who we are.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    /// `api` and `token` override what the config says; otherwise the API address comes from
    /// `ports.json` (written at start) or the config, and the token from the admin token file.
    pub fn connect(config: &Path, api: Option<&str>, token: Option<&str>) -> Result<Client> {
        let loaded = || Config::load(config).with_context(|| "give --api and --token, or --config");
        let base = match api {
            Some(a) => a.trim_end_matches('/').to_string(),
            None => {
                let cfg = loaded()?;
                let scheme = if cfg.file.api.tls { "https" } else { "http" };
                format!("{scheme}://{}", api_addr(&cfg)?)
            }
        };
        let token = match token {
            Some(t) => t.to_string(),
            None => {
                let cfg = loaded()?;
                let path = cfg.path(&cfg.file.files.admin_token);
                read_token(&path)?
            }
        };
        let mut agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(60));
        if base.starts_with("https://") {
            let cfg = loaded().context("an https API: the config names the CA to trust")?;
            agent = agent.tls_connector(Arc::new(tls_connector(&cfg)?));
        }
        let agent = agent.build();
        Ok(Client { base, token, agent })
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        let req = self.agent.get(&format!("{}{path}", self.base));
        self.send::<Value>(req, None)
    }

    /// A plain-text answer (e.g. `/metrics`).
    pub fn get_text(&self, path: &str) -> Result<String> {
        let req = self.agent.get(&format!("{}{path}", self.base));
        let req = req.set("Authorization", &format!("Bearer {}", self.token));
        match req.call() {
            Ok(resp) => Ok(resp.into_string()?),
            Err(e) => Err(anyhow!("GET {path} at {}: {e}", self.base)),
        }
    }

    pub fn post<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<Value> {
        let req = self.agent.post(&format!("{}{path}", self.base));
        self.send(req, Some(body))
    }

    /// A POST that writes a case, sent with a fresh `Idempotency-Key` and resent with the
    /// same key when the answer is lost on the way (the connection failed, timed out, or the
    /// node went away): the node writes it at most once, and a resend gets the first answer.
    /// At most [`RESENDS`] resends, after 0.5 s, then 2 s.
    pub fn post_once<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<Value> {
        let key = crate::accounts::new_token()
            .map_err(|e| anyhow!("no randomness for an Idempotency-Key: {e}"))?;
        let mut waits = [500u64, 2000].into_iter();
        loop {
            let req = self
                .agent
                .post(&format!("{}{path}", self.base))
                .set("Idempotency-Key", &key);
            match self.send(req, Some(body)) {
                Err(e) if e.downcast_ref::<Unreachable>().is_some() => match waits.next() {
                    Some(ms) => {
                        eprintln!("note: {e:#}; sending again with the same Idempotency-Key");
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// A POST of `body` (JSON, as bytes: a resend must carry the very same bytes) under the
    /// caller's `Idempotency-Key`, resent with it when the answer is lost on the way (as
    /// [`Client::post_once`]) or when the node answers 503 `busy` (it is writing as many
    /// batches as it takes at once: waited out, `Retry-After` seconds at a time, for up to
    /// [`BUSY_WAITS`] times). A refusal comes back as a [`Refused`] error.
    pub fn post_keyed(&self, path: &str, body: &[u8], key: &str) -> Result<Value> {
        let mut waits = [500u64, 2000].into_iter();
        let mut busy = 0;
        loop {
            let req = self
                .agent
                .post(&format!("{}{path}", self.base))
                .set("Idempotency-Key", key)
                .set("Content-Type", "application/json");
            let req = req.set("Authorization", &format!("Bearer {}", self.token));
            match answer(req.send_bytes(body), &self.base) {
                Err(e) if e.downcast_ref::<Unreachable>().is_some() => match waits.next() {
                    Some(ms) => {
                        eprintln!("note: {e:#}; sending again with the same Idempotency-Key");
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                    }
                    None => return Err(e),
                },
                Err(e) => match e.downcast_ref::<Refused>() {
                    Some(r) if r.code == "busy" && busy < BUSY_WAITS => {
                        busy += 1;
                        std::thread::sleep(std::time::Duration::from_secs(r.retry_after.max(1)));
                    }
                    _ => return Err(e),
                },
                ok => return ok,
            }
        }
    }

    pub fn put<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<Value> {
        let req = self.agent.put(&format!("{}{path}", self.base));
        self.send(req, Some(body))
    }

    fn send<B: Serialize + ?Sized>(&self, req: ureq::Request, body: Option<&B>) -> Result<Value> {
        let req = req.set("Authorization", &format!("Bearer {}", self.token));
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        answer(result, &self.base)
    }
}

/// The node's answer as JSON; a 4xx/5xx as a [`Refused`] error, no answer at all as an
/// [`Unreachable`] one.
fn answer(result: Result<ureq::Response, ureq::Error>, base: &str) -> Result<Value> {
    match result {
        Ok(resp) => Ok(resp.into_json()?),
        Err(ureq::Error::Status(status, resp)) => {
            let retry_after = resp
                .header("Retry-After")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let body: Value = resp.into_json().unwrap_or(Value::Null);
            let text =
                |field: &str, default: &str| body[field].as_str().unwrap_or(default).to_string();
            Err(anyhow::Error::new(Refused {
                status,
                code: text("error", "error"),
                message: text("message", "no message"),
                retry_after,
                body,
            }))
        }
        Err(e) => Err(anyhow::Error::new(Unreachable(format!(
            "cannot reach the node at {base}: {e}"
        )))),
    }
}

/// An answer of the node read as its type in the API's contract ([`crate::contract`]); `what`
/// names the request in the error.
pub fn typed<T: DeserializeOwned>(answer: Value, what: &str) -> Result<T> {
    serde_json::from_value(answer.clone()).map_err(|e| {
        anyhow!(
            "the node's answer to {what} is not a {}: {e}: {answer}",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("contract type")
        )
    })
}

/// How many times [`Client::post_once`] resends.
pub const RESENDS: usize = 2;

/// How many times [`Client::post_keyed`] waits out a node that is busy with other batches.
pub const BUSY_WAITS: usize = 60;

/// The node answered with an error status (`{"error", "message", ...}`).
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// `Retry-After`, in seconds (0 when absent).
    pub retry_after: u64,
    /// The whole answer, for fields beyond the two every error has (e.g. a batch's `errors`).
    pub body: Value,
}

/// The request or its answer was lost on the way (no HTTP status came back).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(String);

/// TLS to the node's API: trusting `[api] tls_ca`, else the federation CA (`files.ca`); with
/// the node's own certificate the server must be named `n<CODE>.liandong` (the certificate's
/// DNS name), whatever address the URL holds.
fn tls_connector(config: &Config) -> Result<ApiConnector> {
    let api = &config.file.api;
    let ca = config.path(api.tls_ca.as_ref().unwrap_or(&config.file.files.ca));
    let name = api
        .tls_cert
        .is_none()
        .then(|| crate::pki::server_name(config.code()));
    ApiConnector::new(&ca, name).with_context(|| format!("trusting {} for the API", ca.display()))
}

/// The token in a file: its first line, trimmed.
pub fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading token {} (or set LIANDONG_TOKEN / --token-file)",
            path.display()
        )
    })?;
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        bail!("{} holds no token", path.display());
    }
    Ok(token.to_string())
}

/// The API address: from `ports.json` when the config asks for port 0.
fn api_addr(config: &Config) -> Result<String> {
    let addr = config.file.node.api;
    if addr.port() != 0 {
        return Ok(addr.to_string());
    }
    let path = config.ports_file();
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "the API port is 0; reading {} (is the node running?)",
            path.display()
        )
    })?;
    let ports: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let port = ports["api"]
        .as_u64()
        .ok_or_else(|| anyhow!("{} has no api port", path.display()))?;
    Ok(format!("{}:{port}", addr.ip()))
}
