//! `liandong run`: opens the store, checks it, starts the write engine and the API, announces
//! readiness, and shuts down cleanly on SIGINT/SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::accounts::{self, Seeded};
use crate::api::{self, NodeContext};
use crate::audit::AuditLog;
use crate::calendar::Calendar;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::{Engine, Resumed, Setup};
use crate::link::{Identity, LinkSetup, Links, RestoreProgress};
use crate::reference::{Kind, Reference};
use crate::store::{Directory, Operators, SledStore, Store};
use federation_proto::writer::{restore_under_way, RESTORING_KEY};

/// Runs the node until a shutdown signal.
pub async fn run(config: Config, clock: Clock) -> Result<()> {
    let code = config.code();
    // A TLS setup that cannot work stops the start before anything is opened.
    let tls = api_tls(&config)?;
    let (store, audit) = open_store(&config)?;
    if restore_under_way(store.setting(RESTORING_KEY)?) {
        anyhow::bail!(
            "the store of {code} holds an interrupted restore ({} events of its parent's copy, \
             its case numbering not yet moved past the lost store's): run `liandong restore` \
             on this node again to finish it",
            store.event_count()
        );
    }
    ensure_admin(&config, store.as_ref(), clock.clone())?;
    let key = load_or_create_key(&config.path(&config.file.files.key))?;
    let federation = load_federation(&config, &key)?;
    let reference = Arc::new(load_reference(&config, store.as_ref())?);
    let engine = Engine::start(Setup {
        store: store.clone(),
        code,
        parent: config.parent.as_ref().map(|p| p.code),
        key: key.clone(),
        clock: clock.clone(),
        reference: reference.clone(),
        policy: config.file.warnings,
        ca_der: federation.as_ref().map(|f| f.ca_der.clone()),
    })?;
    let links = match federation {
        Some(identity) => {
            // Our own certificate is the first entry of the directory we pass on.
            engine.learn(code, identity.cert_der.clone(), false).await?;
            adopt_revocations(&config, &engine).await?;
            engine.publish().await?;
            Some(Links::start(LinkSetup {
                code,
                parent: config.parent.clone(),
                listen: config.file.node.listen,
                identity,
                revocations: config.path(Path::new("revoked.toml")),
                engine: engine.clone(),
                store: store.clone(),
                restore: None,
            })?)
        }
        None => None,
    };
    // Before `ready`: every case re-evaluated — concluded ones too — since the date may have
    // moved on while the node was down and the calendar file may have changed, so that the
    // first answers (and the statistics) are already those of today.
    if let Some(alarm) = reference.calendar().boundary_alarm(clock.today()) {
        warn!("{alarm}");
    }
    match engine.sweep(true).await {
        Ok(changed) => info!(node = %code, changed, "clocks re-evaluated at start"),
        Err(e) => warn!(error = %e, "re-evaluating clocks at start failed"),
    }
    tokio::spawn(sweep(
        engine.clone(),
        reference.clone(),
        clock.clone(),
        config.file.warnings.sweep_seconds,
    ));
    let quic = links.as_ref().map(|l| l.local_addr().port());
    let context = Arc::new(NodeContext {
        code,
        name: config.file.node.name.clone(),
        parent: config.parent.as_ref().map(|p| p.code),
        engine,
        store: store.clone(),
        reference,
        clock,
        policy: config.file.warnings,
        links,
        http: Arc::default(),
        throttle: api::throttle::Throttle::new(config.file.auth),
        region_cache: Default::default(),
        hall: Default::default(),
        audit,
        batches: tokio::sync::Semaphore::new(api::MAX_BATCHES_AT_ONCE),
    });
    let listener = tokio::net::TcpListener::bind(config.file.node.api)
        .await
        .with_context(|| format!("binding the API to {}", config.file.node.api))?;
    let api_addr = listener.local_addr()?;
    let public = match config.file.node.public {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the public listener to {addr}"))?;
            if !addr.ip().is_loopback() {
                warn!(public = %addr, "the public listener is on an address other machines reach: put a TLS-terminating proxy in front of it (lookup keys travel in URLs)");
            }
            Some(listener)
        }
        None => None,
    };
    let public_addr = public.as_ref().map(|l| l.local_addr()).transpose()?;
    // Listen for signals before announcing readiness: a SIGTERM right after `ready` must be a
    // clean stop, not the default action of the signal.
    let signal = shutdown_signal()?;
    // One signal stops both listeners.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    write_ports(
        &config,
        api_addr.port(),
        quic,
        public_addr.map(|a| a.port()),
    )?;
    let public_server = public.map(|listener| {
        let bounds = config.file.public;
        let limits = crate::http::Limits {
            max_connections: bounds.max_connections,
            ..config.file.api.limits()
        };
        let router = crate::public::router(Arc::new(crate::public::PublicContext::new(
            context.clone(),
            bounds,
        )));
        tokio::spawn(crate::http::serve(
            listener,
            None,
            router,
            limits,
            Arc::default(),
            stopped(stop_rx.clone()),
        ))
    });
    info!(node = %code, api = %api_addr, tls = tls.is_some(), quic = ?quic, public = ?public_addr, "ready");
    eprintln!("ready");
    crate::http::serve(
        listener,
        tls,
        api::router(context.clone()),
        config.file.api.limits(),
        context.http.clone(),
        stopped(stop_rx),
    )
    .await;
    if let Some(server) = public_server {
        let _ = server.await;
    }
    if let Some(links) = &context.links {
        links.close().await;
    }
    store.flush()?;
    info!(node = %code, "stopped");
    Ok(())
}

/// The API's TLS acceptor when `[api] tls = true`: `tls_cert`/`tls_key` if given, else the
/// node's federation certificate and key, which must be there (`liandong ca issue`).
fn api_tls(config: &Config) -> Result<Option<tokio_rustls::TlsAcceptor>> {
    let api = &config.file.api;
    if !api.tls {
        return Ok(None);
    }
    let (cert, key) = match (&api.tls_cert, &api.tls_key) {
        (Some(cert), Some(key)) => (config.path(cert), config.path(key)),
        _ => (
            config.path(&config.file.files.cert),
            config.path(&config.file.files.key),
        ),
    };
    if !cert.exists() {
        anyhow::bail!(
            "[api] tls = true, but there is no certificate {}: issue one with `liandong ca \
             issue`, or give [api] tls_cert and tls_key",
            cert.display()
        );
    }
    let acceptor = crate::http::tls::acceptor(&cert, &key)
        .with_context(|| format!("setting up TLS for the API with {}", cert.display()))?;
    Ok(Some(acceptor))
}

/// Re-evaluates the clocks of the cases that can still move every `seconds` (the start-up
/// sweep in [`run`] did all of them), so warnings and summaries follow the date. Says once a
/// day, after the start, when a year lacks its official calendar ([`Calendar::boundary_alarm`]).
async fn sweep(engine: Engine, reference: Arc<Reference>, clock: Clock, seconds: u64) {
    let period = Duration::from_secs(seconds.max(1));
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut alarmed_on = Some(clock.today());
    loop {
        every.tick().await;
        let today = clock.today();
        if alarmed_on != Some(today) {
            alarmed_on = Some(today);
            if let Some(alarm) = reference.calendar().boundary_alarm(today) {
                warn!("{alarm}");
            }
        }
        match engine.sweep(false).await {
            Ok(0) => {}
            Ok(changed) => info!(changed, "clocks re-evaluated: summaries refreshed"),
            Err(e) => warn!(error = %e, "re-evaluating clocks failed"),
        }
    }
}

/// What `liandong restore` reports.
#[derive(Debug, Clone, Copy)]
pub struct Restored {
    /// Events now held.
    pub events: usize,
    /// The node's last own sequence number: the next event it authors takes the one after.
    pub last_seq: u64,
    /// Where its case numbering resumes (`federation_proto::writer`'s `numbering.rs`).
    pub resumed: Resumed,
}

/// `liandong restore`: rebuilds a node whose store was lost from its parent's copy — every
/// event the node authored and every event of the cases it is involved in — then has its case
/// numbering skip past every number the lost store could have issued, and reports.
pub async fn restore(config: Config, clock: Clock, timeout: Duration) -> Result<Restored> {
    let code = config.code();
    let parent = config
        .parent
        .clone()
        .context("restore needs a parent in node.toml: it is where the copy is")?;
    let (store, _) = open_store(&config)?;
    let resuming = restore_under_way(store.setting(RESTORING_KEY)?);
    if store.event_count() > 0 && !resuming {
        anyhow::bail!(
            "the store of {code} is not empty ({} events): restore only into an empty data directory",
            store.event_count()
        );
    }
    if resuming {
        // The copy comes again whole; what already arrived is kept once (an event is stored
        // once), and the link resumes after what this store holds from the parent.
        info!(%code, events = store.event_count(), "resuming an interrupted restore");
    }
    let key = load_or_create_key(&config.path(&config.file.files.key))?;
    let identity = load_federation(&config, &key)?
        .context("restore needs the node's certificate (node.crt) and the CA (ca.crt)")?;
    let engine = Engine::start(Setup {
        store: store.clone(),
        code,
        parent: Some(parent.code),
        key,
        clock,
        reference: Arc::new(load_reference(&config, store.as_ref())?),
        policy: config.file.warnings,
        ca_der: Some(identity.ca_der.clone()),
    })?;
    engine.learn(code, identity.cert_der.clone(), false).await?;
    // Durable before the parent is asked: from here until `restored` below, the store says a
    // restore is under way, so an interruption cannot leave a partial copy that `run` takes.
    engine.restore_begun().await?;
    let (progress_tx, mut progress) = watch::channel(RestoreProgress::default());
    let mut listen = config.file.node.listen;
    listen.set_port(0);
    let _links = Links::start(LinkSetup {
        code,
        parent: Some(parent.clone()),
        listen,
        identity,
        revocations: config.path(Path::new("revoked.toml")),
        engine: engine.clone(),
        store: store.clone(),
        restore: Some(progress_tx),
    })?;
    // Woken by the link session as the parent queues the restore and as its batches become
    // durable here: nothing is polled.
    let wait = async {
        let done = *progress.wait_for(RestoreProgress::complete).await?;
        info!(%code, parent = %parent.code, upto = ?done.queued, "restore received and durable");
        anyhow::Ok(())
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| anyhow::anyhow!("the restore did not complete within {timeout:?}"))??;
    // Through the writer, after every batch of the copy: the numbering of the restore's day
    // resumes above what the copy holds, and the answer comes once that is flushed — a node
    // run after a successful restore can no longer give a number the lost store gave.
    let resumed = engine.restored().await?;
    Ok(Restored {
        events: store.event_count(),
        last_seq: store.meta()?.last_seq,
        resumed,
    })
}

/// Takes the revocations listed in this node's `revoked.toml` (a copy of the CA's list, at the
/// root) and passes the new ones down the subtree.
async fn adopt_revocations(config: &Config, engine: &Engine) -> Result<()> {
    let path = config.path(Path::new("revoked.toml"));
    if !path.exists() {
        return Ok(());
    }
    for entry in crate::pki::Revocations::load(&path)?.iter() {
        engine.revoke(entry.clone()).await?;
    }
    Ok(())
}

/// Opens the store and checks it (rebuilding derived data if needed), within a bound
/// ([`crate::startup`]): a store that hangs sled, fails the check, or holds less than its
/// witness says it had made durable stops the start with a message naming the folder and
/// saying how to rebuild it. Also opens the audit log of identity reads kept in it.
fn open_store(config: &Config) -> Result<(Arc<dyn Store>, Arc<AuditLog>)> {
    let code = config.code();
    let data = config.path(&config.file.files.data);
    let cache = config.file.storage.cache_mb * 1024 * 1024;
    let log_bytes = crate::startup::log_bytes(&data);
    let limit = config.file.storage.check_timeout_secs.map_or_else(
        || crate::startup::default_limit(log_bytes),
        std::time::Duration::from_secs,
    );
    info!(node = %code, data = %data.display(), log_bytes, ?limit, "opening and checking the store");
    let advice = crate::startup::recovery_advice(&data);
    let on_timeout = {
        let advice = advice.clone();
        move |elapsed: std::time::Duration, read: u64| {
            let message = format!(
                "opening and checking the store took longer than {}s ({read} records read). {advice}",
                elapsed.as_secs()
            );
            tracing::error!("{message}");
            eprintln!("error: {message}");
            std::process::exit(3);
        }
    };
    let opened = crate::startup::bounded(limit, on_timeout, || {
        crate::startup::catching_panics(|| open_and_check(&data, cache, code, &advice))
    });
    let (store, report) = opened.map_err(|panic| {
        anyhow::anyhow!(
            "the storage engine failed while opening the store in {} ({panic}). {advice}",
            data.display()
        )
    })??;
    if report.rebuilt {
        warn!(problems = ?report.problems, "store repaired: derived data rebuilt from the event log");
    }
    info!(node = %code, events = report.events, cases = report.cases, "store checked");
    let (audit, store) = AuditLog::open(store).context("opening the audit log")?;
    Ok((store, Arc::new(audit)))
}

/// Opens the store and runs its check; an error says what to do about damage.
fn open_and_check(
    data: &Path,
    cache: u64,
    code: federation_proto::NodeCode,
    advice: &str,
) -> Result<(SledStore, crate::store::CheckReport)> {
    let store = SledStore::open(data, cache).map_err(|e| {
        // Not damage: a node already running on this folder holds its lock, or the disk or
        // permissions refuse.
        let io = match &e {
            crate::store::StoreError::Engine(inner) => match inner.downcast_ref::<sled::Error>() {
                Some(sled::Error::Io(io)) => Some(io.to_string()),
                _ => None,
            },
            _ => None,
        };
        match io {
            Some(io) => anyhow::anyhow!(
                "cannot open the store in {}: {io} (is this node already running?)",
                data.display()
            ),
            None => anyhow::anyhow!("cannot open the store in {}: {e}. {advice}", data.display()),
        }
    })?;
    let report = store
        .check_and_repair(code)
        .map_err(|e| anyhow::anyhow!("checking the store: {e}. {advice}"))?;
    Ok((store, report))
}

/// The node's federation identity, when it has a certificate: it must name this node and
/// certify the key that signs its events. Without one the node runs alone.
fn load_federation(config: &Config, key: &SigningKey) -> Result<Option<Identity>> {
    let cert = config.path(&config.file.files.cert);
    if !crate::pki::check_own_certificate(&cert, config.code(), &key.verifying_key())? {
        return Ok(None);
    }
    let cert_der = crate::pki::read_cert_pem(&cert)?;
    let ca_der = crate::pki::read_cert_pem(&config.path(&config.file.files.ca))?;
    Ok(Some(Identity::new(cert_der, ca_der, key)?))
}

/// The catalog and calendar in force: this node's own files, else what the parent broadcast
/// earlier, else the built-in ones. Own files are validated here, so a bad one stops the start.
fn load_reference(config: &Config, store: &dyn Directory) -> Result<Reference> {
    let read = |p: &Option<PathBuf>| -> Result<Option<String>> {
        p.as_ref()
            .map(|p| {
                let path = config.path(p);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))
            })
            .transpose()
    };
    let own_catalog = read(&config.file.files.catalog)?;
    let own_calendar = read(&config.file.files.calendar)?;
    if let (Some(text), Some(p)) = (&own_catalog, &config.file.files.catalog) {
        Catalog::from_toml(text).with_context(|| format!("catalog {}", p.display()))?;
    }
    if let (Some(text), Some(p)) = (&own_calendar, &config.file.files.calendar) {
        Calendar::from_toml(text).with_context(|| format!("calendar {}", p.display()))?;
    }
    let setting = |key: &[u8]| -> Result<Option<String>> {
        Ok(store.setting(key)?.and_then(|b| String::from_utf8(b).ok()))
    };
    Ok(Reference::new(
        own_catalog,
        own_calendar,
        setting(crate::reference::LOADED_CALENDAR_KEY)?,
        setting(Kind::Catalog.received_key())?,
        setting(Kind::Calendar.received_key())?,
    )?)
}

/// The admin of `admin.token`: registered as operator `admin` on a store without operators
/// (the first start). Afterwards the file is a token like any other: a restart never revives a
/// disabled, expired or rotated token — it only warns when the file's token does not work, and
/// says how to put a working one there (`liandong operator rotate admin --token-out FILE`).
fn ensure_admin(config: &Config, store: &dyn Operators, clock: Clock) -> Result<()> {
    let path = config.path(&config.file.files.admin_token);
    let token = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the admin token {}", path.display()))?;
    if token.trim().len() < 32 {
        anyhow::bail!("{} holds no usable token (32+ characters)", path.display());
    }
    let now = accounts::Now {
        today: clock.today(),
        ms: clock.now_ms(),
    };
    match accounts::seed_admin(store, &token, now)? {
        Seeded::Created => info!(file = %path.display(), "admin token registered (first start)"),
        Seeded::Live => {}
        Seeded::NotLive(standing) => warn!(
            file = %path.display(),
            standing = ?standing,
            "the admin token file holds a disabled or expired token: it stays refused"
        ),
        Seeded::Unknown => warn!(
            file = %path.display(),
            "the admin token file holds no operator's token (rotated or replaced); with another \
             admin's token: liandong operator rotate admin --token-out FILE"
        ),
    }
    Ok(())
}

/// The node's event-signing key (ed25519, PKCS#8 PEM) from `path`.
pub fn load_key(path: &Path) -> Result<SigningKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the node key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is not an ed25519 PKCS#8 key: {e}", path.display()))
}

/// The node's ed25519 key (PKCS#8 PEM): created on first start if `ca issue` has not put one
/// there.
fn load_or_create_key(path: &Path) -> Result<SigningKey> {
    if path.exists() {
        return load_key(path);
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| anyhow::anyhow!("encoding the new node key: {e}"))?;
    crate::files::write_private(path, pem.as_bytes())?;
    info!(path = %path.display(), "created a new node key");
    Ok(key)
}

/// Writes `ports.json` atomically (write, then rename) so a reader never sees half a file.
fn write_ports(config: &Config, api: u16, quic: Option<u16>, public: Option<u16>) -> Result<()> {
    // A node without a certificate runs alone and has no QUIC port; "public" only when the
    // public listener is configured.
    let mut ports = serde_json::json!({ "quic": quic, "api": api });
    if let (Some(port), Some(obj)) = (public, ports.as_object_mut()) {
        obj.insert("public".into(), port.into());
    }
    let body = ports.to_string();
    crate::files::write_atomic(&config.ports_file(), body.as_bytes())
}

/// Installs the SIGINT/SIGTERM handlers now and returns a future that resolves on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        info!("shutdown signal received");
    })
}
