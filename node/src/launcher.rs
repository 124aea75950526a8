//! Starting `liandong run` as a child process and waiting until it serves — used by `liandong
//! demo` to run real nodes, exactly as an operator would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long a node may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running node process; killed when dropped.
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Starts the node of `config` with its log appended to `log`, and waits until it has
    /// written `ports.json` (which it does once it listens).
    pub fn start(config: &Path, clock: Option<&str>, log: &Path) -> Result<NodeProcess> {
        let dir = config.parent().unwrap_or(Path::new("."));
        let ports = dir.join("ports.json");
        if ports.exists() {
            std::fs::remove_file(&ports)?;
        }
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("run").arg("--config").arg(config);
        if let Some(c) = clock {
            cmd.arg("--clock").arg(c);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .context("starting liandong run")?;
        let mut node = NodeProcess { child };
        node.wait_ready(&ports, log)?;
        Ok(node)
    }

    fn wait_ready(&mut self, ports: &Path, log: &Path) -> Result<()> {
        let start = Instant::now();
        while !ports.exists() {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "node exited with {status} before it was ready; see {}",
                    log.display()
                );
            }
            if start.elapsed() > READY_TIMEOUT {
                bail!(
                    "node not ready after {READY_TIMEOUT:?}; see {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// SIGKILL: the harshest crash there is.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
