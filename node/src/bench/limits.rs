//! The machine's own limits, measured in the same run as the federation figures so that those
//! compare as ratios: raw sled append + flush, fsync latency, and raw QUIC stream throughput
//! over loopback with the links' own TLS and transport settings.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sled::Transactional;

use crate::engine::MAX_BATCH;

/// Bytes of one synthetic event: about what a small signed case event weighs.
const EVENT_BYTES: usize = 400;

/// A fresh sled for a limit.
fn scratch_sled(path: &Path) -> Result<sled::Db> {
    sled::Config::new()
        .path(path)
        .cache_capacity(64 << 20)
        .open()
        .context("opening the limit's sled")
}

/// Events per second sled takes when each batch of [`MAX_BATCH`] inserts is applied at once and
/// flushed: the ceiling of any durable write path built on it.
pub fn sled_append(dir: &Path, events: usize) -> Result<f64> {
    let db = scratch_sled(&dir.join("sled-limit"))?;
    let tree = db.open_tree("events")?;
    let value = vec![7u8; EVENT_BYTES];
    let start = Instant::now();
    let mut n = 0u64;
    while (n as usize) < events {
        let mut batch = sled::Batch::default();
        for _ in 0..MAX_BATCH {
            batch.insert(&n.to_be_bytes(), value.as_slice());
            n += 1;
        }
        tree.apply_batch(batch)?;
        db.flush()?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// What a county writes for one township case it backs up and reports up (see
/// [`crate::store`]): the event, its case-index key, the case record, the summary kept and the
/// summary queued for the city — sizes about those of the bench's 即办 cases.
const CASE_WRITES: [(&str, usize); 5] = [
    ("events", EVENT_BYTES),
    ("case_events", 0),
    ("cases", 900),
    ("summaries", 500),
    ("outbox", 550),
];

/// Township cases per second sled takes in the shape a county writes them: [`CASE_WRITES`]
/// across five trees, [`MAX_BATCH`] cases to one transaction, then a flush — the ceiling of
/// replication and catch-up on this storage layout, where [`sled_append`] is that of a bare
/// event log.
pub fn sled_case_writes(dir: &Path, cases: usize) -> Result<f64> {
    let db = scratch_sled(&dir.join("sled-cases"))?;
    let trees = CASE_WRITES
        .iter()
        .map(|(name, _)| db.open_tree(name))
        .collect::<Result<Vec<_>, _>>()?;
    let values: Vec<Vec<u8>> = CASE_WRITES.iter().map(|(_, len)| vec![7u8; *len]).collect();
    let start = Instant::now();
    let mut n = 0u64;
    while (n as usize) < cases {
        let first = n;
        n += MAX_BATCH as u64;
        trees
            .as_slice()
            .transaction(|txn| {
                for case in first..n {
                    for (tree, value) in txn.iter().zip(&values) {
                        tree.insert(&case.to_be_bytes(), value.as_slice())?;
                    }
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| anyhow::anyhow!("sled transaction: {e:?}"))?;
        db.flush()?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// [`sled_case_writes`] in one tree: the same records under a one-byte prefix per kind, each
/// [`MAX_BATCH`] cases one atomic `apply_batch`, then a flush — what a store laid out as one
/// keyspace would get instead of a transaction across trees.
pub fn sled_case_writes_one_tree(dir: &Path, cases: usize) -> Result<f64> {
    let db = scratch_sled(&dir.join("sled-one-tree"))?;
    let tree = db.open_tree("all")?;
    let values: Vec<Vec<u8>> = CASE_WRITES.iter().map(|(_, len)| vec![7u8; *len]).collect();
    let start = Instant::now();
    let mut n = 0u64;
    while (n as usize) < cases {
        let first = n;
        n += MAX_BATCH as u64;
        let mut batch = sled::Batch::default();
        for case in first..n {
            for (kind, value) in values.iter().enumerate() {
                let mut key = Vec::with_capacity(9);
                key.push(kind as u8);
                key.extend_from_slice(&case.to_be_bytes());
                batch.insert(key, value.as_slice());
            }
        }
        tree.apply_batch(batch)?;
        db.flush()?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Milliseconds a 4 KiB write + fdatasync takes, one sample per round.
pub fn fsync_latency(dir: &Path, rounds: usize) -> Result<Vec<f64>> {
    let path = dir.join("fsync-limit");
    let mut file = std::fs::File::create(&path)?;
    let block = [1u8; 4096];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(samples)
}

/// MB/s through one QUIC stream between two endpoints on loopback, with the federation's TLS
/// (a throwaway CA and two node certificates in `dir`) and transport settings.
pub async fn quinn_stream(dir: &Path, megabytes: usize) -> Result<f64> {
    let (server_id, client_id) = identities(dir)?;
    let server = quinn::Endpoint::server(
        crate::link::tls::server_config(&server_id)?,
        "127.0.0.1:0".parse()?,
    )?;
    let addr = server.local_addr()?;
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    client.set_default_client_config(crate::link::tls::client_config(&client_id)?);
    let receiver = tokio::spawn(async move {
        let conn = server.accept().await.context("no connection came")?.await?;
        let mut stream = conn.accept_uni().await?;
        let mut total = 0usize;
        while let Some(chunk) = stream.read_chunk(1 << 20, true).await? {
            total += chunk.bytes.len();
        }
        anyhow::Ok(total)
    });
    let conn = client
        .connect(addr, &crate::pki::server_name("350300".parse()?))?
        .await?;
    let chunk = vec![0u8; 64 << 10];
    let start = Instant::now();
    let mut stream = conn.open_uni().await?;
    for _ in 0..(megabytes << 4) {
        stream.write_all(&chunk).await?;
    }
    stream.finish()?;
    let total = tokio::time::timeout(Duration::from_secs(120), receiver)
        .await
        .context("the QUIC limit did not finish")???;
    let seconds = start.elapsed().as_secs_f64();
    conn.close(0u32.into(), b"done");
    Ok(total as f64 / 1e6 / seconds)
}

/// A throwaway federation CA with a city (the server) and a county (the client) certified.
fn identities(dir: &Path) -> Result<(crate::link::Identity, crate::link::Identity)> {
    let pki = dir.join("quinn-limit-pki");
    crate::ca::init(&pki, Some("bench"))?;
    let load = |code: &str| -> Result<crate::link::Identity> {
        let node = dir.join(format!("quinn-limit-{code}"));
        crate::ca::issue(&pki, code.parse()?, &node, 1)?;
        let key = crate::server::load_key(&node.join("node.key"))?;
        crate::link::Identity::new(
            crate::pki::read_cert_pem(&node.join("node.crt"))?,
            crate::pki::read_cert_pem(&node.join("ca.crt"))?,
            &key,
        )
    };
    Ok((load("350300")?, load("350322")?))
}
