//! A headless Chromium driven through chromedriver, for tests of the web console (`GET
//! /console`) — or of any page on 127.0.0.1.
//!
//! ```text
//! let browser = Browser::start();
//! browser.goto(&node.api_url("/console"));
//! browser.fill("#token", &token);
//! browser.click("#login");
//! browser.wait_text("#status", "已登录");
//! ```
//!
//! **One `Browser`, one chromedriver, one Chromium.** [`Browser::start`] starts its own
//! `chromedriver --port=0`: chromedriver binds a free port on loopback only (127.0.0.1 and
//! [::1]) and prints `ChromeDriver was started successfully on port N.`, which is read from its
//! output — no port is chosen by us and released for it to take, so two tests starting browsers
//! at once cannot race for one. Then `GET /status` is polled until it says `ready` (bounded),
//! and one session opens a headless Chromium (`--headless=new --no-sandbox --disable-gpu
//! --disable-dev-shm-usage --window-size=1280,1000 --lang=zh-CN`, Chinese first in
//! `navigator.languages`) with its profile, `XDG_CONFIG_HOME` and `XDG_CACHE_HOME` in one
//! temporary folder (the crash handler writes there too, not to `~/.config`). Chromium's own
//! background traffic (updates, safe browsing, metrics…) is switched off and no host name but
//! `localhost` resolves: pages are to be reached at 127.0.0.1.
//!
//! chromedriver and Chromium stay in the test's process group, so a Ctrl-C in the terminal ends
//! them with the test. Dropping the `Browser` ends the session (Chromium quits), kills
//! chromedriver, then kills by id any process still naming the temporary folder (Chromium, if
//! the session could not be ended) and removes the folder.
//!
//! If `chromedriver` or Chromium is missing, [`Browser::start`] panics saying to
//! `apt-get install chromium chromium-driver` (`.ci/run` does that): a browser test never
//! passes by skipping.
//!
//! **Why not a WebDriver crate.** `fantoccini` (without its default TLS features) and
//! `thirtyfour` are async — every test would need a runtime and `block_on` around each step —
//! and they weigh on the tree: `fantoccini` brings Mozilla's `webdriver` crate with ICU's
//! segmenter and its data, a second `http`, `thiserror` and `cookie` (25 crates), and
//! `thirtyfour`'s only HTTP client is `reqwest`, whose rustls feature brings `aws-lc-sys`, which
//! the workspace keeps out (rustls on ring only). The W3C WebDriver protocol is a handful of JSON
//! requests, so this module speaks it directly with `ureq` 2, already in the tree (`base64`,
//! for screenshots and PDFs, is the version `ureq` already uses). Every request has a timeout.
//!
//! **Waiting.** The page runs in another process, so the css-based helpers poll (every 50 ms)
//! until what they need is there or [`WAIT`] (10 s, [`Browser::set_wait`] to change) has passed:
//! [`Browser::find`] until an element matches, [`Browser::click`] / [`Browser::type_into`] until
//! one matches *and* takes the click or keys (not hidden, not covered, not replaced meanwhile),
//! [`Browser::wait_text`] until its text contains a needle. A failure names the selector, what
//! was awaited, the last thing seen and the page's address; the `try_` variants return it as an
//! [`Error`] instead of panicking.
//!
//! **Console errors.** The session asks for `goog:loggingPrefs {"browser": "ALL"}`;
//! chromedriver (156 here) still answers `POST /session/{id}/se/log {"type": "browser"}` with
//! the entries since the previous call: `console.error(…)` and uncaught exceptions are
//! `SEVERE`, as are failed loads (a missing favicon is one: a page should say
//! `<link rel=icon href="data:,">`). [`Browser::console_errors`] returns them.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// How long the css-based helpers wait for the page, unless [`Browser::set_wait`] says otherwise.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);
/// How long chromedriver may take to report its port and be ready.
const DRIVER_READY: Duration = Duration::from_secs(20);
/// Page loads (navigation waits for `load`) and synchronous scripts, enforced by chromedriver.
const PAGE_LOAD: Duration = Duration::from_secs(30);
const SCRIPT: Duration = Duration::from_secs(10);
/// Any one request to chromedriver, above the page-load bound (a new session starts Chromium).
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Ending the session when the `Browser` is dropped.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of chromedriver's output is kept for error messages.
const LOG_TAIL: usize = 16 * 1024;
/// The W3C key of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

const INSTALL: &str = "the browser tests need Chromium and chromedriver: \
                       apt-get install chromium chromium-driver (.ci/run installs them)";

/// What went wrong: a WebDriver error (`code` is the W3C error code, e.g. `no such element`,
/// and `message` chromedriver's message), or one of the harness's own: `wait timeout` (a
/// bound passed), `transport` (chromedriver did not answer), `bad answer` (it answered
/// something else than the protocol says).
#[derive(Debug, Clone)]
pub struct Error {
    pub code: String,
    pub message: String,
}

impl Error {
    fn new(code: &str, message: impl Into<String>) -> Error {
        Error {
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// Whether waiting may cure it: the element is not there yet, was replaced, or cannot take
    /// the input yet (hidden, covered, disabled).
    fn passing(&self) -> bool {
        matches!(
            self.code.as_str(),
            "no such element"
                | "stale element reference"
                | "element not interactable"
                | "element click intercepted"
                | "invalid element state"
                | "not yet"
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A key for [`Browser::press_key`] and [`Browser::press_chord`] (WebDriver's code points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Backspace,
    Tab,
    Enter,
    Shift,
    Control,
    Alt,
    Escape,
    Space,
    PageUp,
    PageDown,
    End,
    Home,
    ArrowLeft,
    ArrowUp,
    ArrowRight,
    ArrowDown,
    Delete,
}

impl Key {
    fn code(self) -> char {
        match self {
            Key::Backspace => '\u{E003}',
            Key::Tab => '\u{E004}',
            Key::Enter => '\u{E007}',
            Key::Shift => '\u{E008}',
            Key::Control => '\u{E009}',
            Key::Alt => '\u{E00A}',
            Key::Escape => '\u{E00C}',
            Key::Space => '\u{E00D}',
            Key::PageUp => '\u{E00E}',
            Key::PageDown => '\u{E00F}',
            Key::End => '\u{E010}',
            Key::Home => '\u{E011}',
            Key::ArrowLeft => '\u{E012}',
            Key::ArrowUp => '\u{E013}',
            Key::ArrowRight => '\u{E014}',
            Key::ArrowDown => '\u{E015}',
            Key::Delete => '\u{E017}',
        }
    }
}

/// One entry of the browser's console log ([`Browser::console_log`]).
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// `console-api`, `javascript` (an uncaught exception), `network`…
    pub source: String,
    pub message: String,
}

/// A headless Chromium with its own chromedriver (see the module's doc).
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    driver_log: Arc<Mutex<String>>,
    wait: Duration,
    /// Chromium's profile (`profile/`) and its `XDG_CONFIG_HOME` and `XDG_CACHE_HOME`;
    /// removed after Chromium has quit (fields drop after `Drop::drop`).
    home: tempfile::TempDir,
}

/// An element of the page (a WebDriver element reference). It goes stale when the page
/// replaces it; the css-based helpers of [`Browser`] find elements afresh and retry.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; panics, saying what to install, if either
    /// is missing, and with chromedriver's output if the session does not open.
    pub fn start() -> Browser {
        let Some(driver) = on_path(&["chromedriver"]) else {
            panic!("chromedriver is not on PATH: {INSTALL}");
        };
        let Some(chromium) = on_path(&[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]) else {
            panic!("no chromium (nor chromium-browser, google-chrome) on PATH: {INSTALL}");
        };
        let home = tempfile::tempdir().expect("a temporary folder for Chromium");

        // Chromium's crash handler keeps its reports under XDG_CONFIG_HOME, not the profile:
        // this folder holds both, and so every process of this browser names it.
        let mut child = Command::new(&driver)
            .arg("--port=0")
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}; {INSTALL}", driver.display()));

        let driver_log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            drain(out, driver_log.clone(), Some(port_tx));
        }
        if let Some(err) = child.stderr.take() {
            drain(err, driver_log.clone(), None);
        }
        let started = Instant::now();
        let port = match port_rx.recv_timeout(DRIVER_READY) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromedriver did not report its port within {} s:\n{}",
                    DRIVER_READY.as_secs(),
                    tail(&driver_log)
                );
            }
        };
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(HTTP_TIMEOUT)
            .build();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver: child,
            base,
            session: String::new(),
            agent,
            driver_log,
            wait: WAIT,
            home,
        };
        if let Err(e) = browser.await_ready(started + DRIVER_READY) {
            panic!(
                "chromedriver on port {port} is not ready: {e}\n{}",
                browser.log()
            );
        }
        let profile = browser.home.path().join("profile").display().to_string();
        match browser.new_session(&chromium.display().to_string(), &profile) {
            Ok(id) => browser.session = id,
            Err(e) => panic!(
                "chromedriver could not start {}: {e}\n{INSTALL}\nchromedriver's output:\n{}",
                chromium.display(),
                browser.log()
            ),
        }
        browser
    }

    /// Polls `GET /status` until chromedriver says it is ready, up to `deadline`.
    fn await_ready(&self, deadline: Instant) -> Result<(), Error> {
        loop {
            let answer = self.request("GET", &format!("{}/status", self.base), None);
            let last = match answer {
                Ok(status) if status["ready"] == true => return Ok(()),
                Ok(status) => format!("status {status}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Error::new("wait timeout", last));
            }
            std::thread::sleep(POLL);
        }
    }

    fn new_session(&self, chromium: &str, profile: &str) -> Result<String, Error> {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            "--lang=zh-CN",
            "--accept-lang=zh-CN,zh",
            &format!("--user-data-dir={profile}"),
            // Loopback only: no background traffic, and no host name resolves but localhost.
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--no-pings",
            "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {
                "implicit": 0,
                "pageLoad": PAGE_LOAD.as_millis() as u64,
                "script": SCRIPT.as_millis() as u64,
            },
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {"intl.accept_languages": "zh-CN,zh"},
            },
        });
        let body = json!({"capabilities": {"alwaysMatch": capabilities}});
        let answer = self.request("POST", &format!("{}/session", self.base), Some(body))?;
        answer["sessionId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::new("bad answer", format!("new session without an id: {answer}")))
    }

    /// How long the css-based helpers wait from now on (default [`WAIT`]).
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// The temporary folder of Chromium's profile and configuration, named by each of its
    /// processes (removed when the `Browser` is dropped).
    pub fn home_dir(&self) -> std::path::PathBuf {
        self.home.path().to_path_buf()
    }

    /// chromedriver's output so far (its last 16 KiB).
    pub fn log(&self) -> String {
        tail(&self.driver_log)
    }

    // ------------------------------------------------------------------ the protocol

    /// One request to chromedriver; the answer's `value`, or its error.
    fn request(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, Error> {
        let req = self.agent.request(method, url);
        let answer = match body {
            Some(body) => req.send_json(body),
            None => req.call(),
        };
        let (status, response) = match answer {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(code, r)) => (code, r),
            Err(e) => {
                return Err(Error::new(
                    "transport",
                    format!(
                        "{method} {url}: {e}\nchromedriver's output:\n{}",
                        self.log()
                    ),
                ))
            }
        };
        let text = response.into_string().map_err(|e| {
            Error::new(
                "transport",
                format!("{method} {url}: reading the answer: {e}"),
            )
        })?;
        let json: Value = serde_json::from_str(&text).map_err(|e| {
            Error::new(
                "bad answer",
                format!("{method} {url}: {status} {text:.300}: {e}"),
            )
        })?;
        let value = json.get("value").cloned().unwrap_or(Value::Null);
        match value["error"].as_str() {
            Some(code) if status >= 400 || !code.is_empty() => {
                // The first line, without the code chromedriver repeats in front; it adds
                // "(Session info: …)" and a stack trace after.
                let message = value["message"].as_str().unwrap_or_default();
                let message = message.lines().next().unwrap_or_default();
                let message = message
                    .strip_prefix(&format!("{code}: "))
                    .unwrap_or(message);
                Err(Error::new(code, format!("{message} [{method} {url}]")))
            }
            _ if status >= 400 => Err(Error::new(
                "bad answer",
                format!("{method} {url}: {status} {text:.300}"),
            )),
            _ => Ok(value),
        }
    }

    /// A request under the session: `path` is what follows `/session/{id}`.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        self.request(method, &url, body)
    }

    /// Panics with `e`, the page's address, the start of its text and its console errors.
    fn fail(&self, e: Error) -> ! {
        let page = self.cmd("GET", "/url", None);
        let page = page.ok().and_then(|u| u.as_str().map(str::to_string));
        let script = "return document.body ? document.body.innerText.slice(0, 800) : ''";
        let text = self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        );
        let text = text.ok().and_then(|t| t.as_str().map(str::to_string));
        let log = self.cmd("POST", "/se/log", Some(json!({"type": "browser"})));
        let errors: Vec<String> = log
            .ok()
            .and_then(|l| l.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter_map(|entry| entry["message"].as_str().map(str::to_string))
            .collect();
        panic!(
            "{e}\n  page: {}\n  its text: {:?}\n  console errors: {errors:?}",
            page.as_deref().unwrap_or("(unknown)"),
            text.as_deref().unwrap_or("(unknown)"),
        )
    }

    /// Runs `attempt` until it succeeds, fails with an error waiting cannot cure, or the wait
    /// has passed; then the error says `what` was awaited and what was seen last.
    fn poll<T>(
        &self,
        what: &dyn Fn() -> String,
        mut attempt: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + self.wait;
        loop {
            let last = match attempt() {
                Ok(done) => return Ok(done),
                Err(e) if e.passing() => e,
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                let last = if last.code == "not yet" {
                    last.message
                } else {
                    last.to_string()
                };
                return Err(Error::new(
                    "wait timeout",
                    format!(
                        "{} after {:.1} s; last seen: {last}",
                        what(),
                        self.wait.as_secs_f64()
                    ),
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    fn element(&self, value: &Value) -> Result<Element<'_>, Error> {
        match value[ELEMENT].as_str() {
            Some(id) => Ok(Element {
                browser: self,
                id: id.to_string(),
            }),
            None => Err(Error::new(
                "bad answer",
                format!("not an element reference: {value}"),
            )),
        }
    }

    fn find_now(&self, css: &str) -> Result<Element<'_>, Error> {
        let body = json!({"using": "css selector", "value": css});
        let found = self.cmd("POST", "/element", Some(body))?;
        self.element(&found)
    }

    // ------------------------------------------------------------------ navigation

    /// Opens `url` and waits for its `load` event (up to 30 s).
    pub fn goto(&self, url: &str) {
        if let Err(e) = self.cmd("POST", "/url", Some(json!({ "url": url }))) {
            self.fail(e)
        }
    }

    /// The page's address.
    pub fn url(&self) -> String {
        match self.cmd("GET", "/url", None) {
            Ok(url) => url.as_str().unwrap_or_default().to_string(),
            Err(e) => self.fail(e),
        }
    }

    /// The page's title.
    pub fn title(&self) -> String {
        match self.cmd("GET", "/title", None) {
            Ok(title) => title.as_str().unwrap_or_default().to_string(),
            Err(e) => self.fail(e),
        }
    }

    // ------------------------------------------------------------------ elements

    /// The first element matching `css`, once there is one (waiting up to the bound).
    pub fn find(&self, css: &str) -> Element<'_> {
        self.try_find(css).unwrap_or_else(|e| self.fail(e))
    }

    /// [`Browser::find`], with the error returned.
    pub fn try_find(&self, css: &str) -> Result<Element<'_>, Error> {
        self.poll(&|| format!("no element matches `{css}`"), || {
            self.find_now(css)
        })
    }

    /// Every element matching `css` now (no waiting; maybe none).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let body = json!({"using": "css selector", "value": css});
        let found = self
            .cmd("POST", "/elements", Some(body))
            .unwrap_or_else(|e| self.fail(e));
        let refs = found.as_array().cloned().unwrap_or_default();
        refs.iter()
            .map(|r| self.element(r).unwrap_or_else(|e| self.fail(e)))
            .collect()
    }

    /// Waits until no element matches `css` (e.g. a dialog has closed).
    pub fn wait_gone(&self, css: &str) {
        let outcome = self.poll(&|| format!("`{css}` is still there"), || {
            match self.find_now(css) {
                Ok(_) => Err(Error::new("not yet", "an element matches")),
                Err(e) if e.code == "no such element" => Ok(()),
                Err(e) => Err(e),
            }
        });
        outcome.unwrap_or_else(|e| self.fail(e))
    }

    /// The rendered text of the first element matching `css` (`innerText`: "" while hidden).
    pub fn text(&self, css: &str) -> String {
        self.with(css, "read the text of", |e| e.try_text())
    }

    /// Waits until the text of the first element matching `css` contains `needle`; returns
    /// the whole text.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        self.try_wait_text(css, needle)
            .unwrap_or_else(|e| self.fail(e))
    }

    /// [`Browser::wait_text`], with the error returned (it names `css`, `needle` and the last
    /// text seen).
    pub fn try_wait_text(&self, css: &str, needle: &str) -> Result<String, Error> {
        self.poll(
            &|| format!("the text of `{css}` does not contain {needle:?}"),
            || {
                let text = self.find_now(css)?.try_text()?;
                if text.contains(needle) {
                    Ok(text)
                } else {
                    Err(Error::new("not yet", format!("text {text:?}")))
                }
            },
        )
    }

    /// The `value` property of the first element matching `css` (an input's current value).
    pub fn value(&self, css: &str) -> String {
        self.with(css, "read the value of", |e| {
            Ok(match e.try_prop("value")? {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            })
        })
    }

    /// An attribute (as written in the HTML, or set since) of the first element matching `css`.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.with(css, &format!("read attribute {name} of"), |e| {
            e.try_attr(name)
        })
    }

    /// A DOM property (`checked`, `disabled`, `id`…) of the first element matching `css`.
    pub fn prop(&self, css: &str, name: &str) -> Value {
        self.with(css, &format!("read property {name} of"), |e| {
            e.try_prop(name)
        })
    }

    /// Clicks the first element matching `css`, once it takes the click (shown, not covered).
    pub fn click(&self, css: &str) {
        self.with(css, "click", |e| e.try_click())
    }

    /// Types `text` into the first element matching `css` (after what it holds).
    pub fn type_into(&self, css: &str, text: &str) {
        self.with(css, "type into", |e| e.try_send_keys(text))
    }

    /// Empties the input matching `css`.
    pub fn clear(&self, css: &str) {
        self.with(css, "clear", |e| e.try_clear())
    }

    /// Empties the input matching `css`, then types `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        self.with(css, "fill", |e| {
            e.try_clear()?;
            e.try_send_keys(text)
        })
    }

    /// Chooses the option whose value is `value` in the `<select>` matching `css`, by clicking
    /// it as a person would (waiting for the option to be there: options often arrive by
    /// fetch).
    pub fn select(&self, css: &str, value: &str) {
        self.with(css, &format!("select {value:?} in"), |select| {
            let body = json!({"using": "css selector", "value": "option"});
            let found = self.cmd(
                "POST",
                &format!("/element/{}/elements", select.id),
                Some(body),
            )?;
            let mut values = Vec::new();
            for option in found.as_array().cloned().unwrap_or_default() {
                let option = self.element(&option)?;
                let v = option.try_prop("value")?;
                if v == value {
                    option.try_click()?;
                    let now = select.try_prop("value")?;
                    return if now == value {
                        Ok(())
                    } else {
                        Err(Error::new(
                            "not yet",
                            format!("the select's value is {now}"),
                        ))
                    };
                }
                values.push(v.to_string());
            }
            Err(Error::new(
                "not yet",
                format!("no option {value:?} among [{}]", values.join(", ")),
            ))
        })
    }

    /// Finds `css` and runs `act` on it, again while waiting can cure its error.
    fn with<T>(
        &self,
        css: &str,
        doing: &str,
        mut act: impl FnMut(&Element<'_>) -> Result<T, Error>,
    ) -> T {
        let outcome = self.poll(&|| format!("could not {doing} `{css}`"), || {
            act(&self.find_now(css)?)
        });
        outcome.unwrap_or_else(|e| self.fail(e))
    }

    // ------------------------------------------------------------------ keyboard

    /// Presses and releases `key` wherever the focus is, as a keyboard does (Tab moves the
    /// focus, Enter activates the focused button).
    pub fn press_key(&self, key: Key) {
        self.press_chord(&[key])
    }

    /// Presses `keys` in order and releases them in reverse, e.g. `[Key::Shift, Key::Tab]`.
    pub fn press_chord(&self, keys: &[Key]) {
        let mut actions: Vec<Value> = keys
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k.code().to_string()}))
            .collect();
        actions.extend(
            keys.iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k.code().to_string()})),
        );
        self.key_actions(actions)
    }

    /// Types `text` wherever the focus is, key by key (no click first: for keyboard-only use).
    pub fn type_keys(&self, text: &str) {
        let actions = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({"type": "keyDown", "value": c}),
                    json!({"type": "keyUp", "value": c}),
                ]
            })
            .collect();
        self.key_actions(actions)
    }

    fn key_actions(&self, actions: Vec<Value>) {
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        if let Err(e) = self.cmd("POST", "/actions", Some(body)) {
            self.fail(e)
        }
    }

    /// The `id` of the focused element ("" if it has none; `document.body` has focus when
    /// nothing else has).
    pub fn active_element_id(&self) -> String {
        let outcome = self.cmd("GET", "/element/active", None).and_then(|active| {
            match self.element(&active)?.try_prop("id")? {
                Value::String(id) => Ok(id),
                _ => Ok(String::new()),
            }
        });
        outcome.unwrap_or_else(|e| self.fail(e))
    }

    // ------------------------------------------------------------------ scripts

    /// Runs `js` as the body of a function in the page and returns what it `return`s (an
    /// element comes back as its reference object).
    pub fn eval(&self, js: &str) -> Value {
        self.eval_with(js, &[])
    }

    /// [`Browser::eval`] with arguments, seen by the script as `arguments[0]`, … (no quoting
    /// of values into the script).
    pub fn eval_with(&self, js: &str, args: &[Value]) -> Value {
        let body = json!({"script": js, "args": args});
        self.cmd("POST", "/execute/sync", Some(body))
            .unwrap_or_else(|e| self.fail(e))
    }

    // ------------------------------------------------------------------ output

    /// The viewport as PNG bytes.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let encoded = self
            .cmd("GET", "/screenshot", None)
            .unwrap_or_else(|e| self.fail(e));
        decode(&encoded).unwrap_or_else(|e| self.fail(e))
    }

    /// Writes the viewport as a PNG file.
    pub fn screenshot(&self, path: &Path) {
        let png = self.screenshot_png();
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Prints the page (as the browser would to paper: print styles apply) to a PDF file.
    pub fn print_pdf(&self, path: &Path) {
        let encoded = self
            .cmd("POST", "/print", Some(json!({})))
            .unwrap_or_else(|e| self.fail(e));
        let pdf = decode(&encoded).unwrap_or_else(|e| self.fail(e));
        std::fs::write(path, pdf).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// The browser console's entries since the previous call (chromedriver hands each out
    /// once).
    pub fn console_log(&self) -> Vec<LogEntry> {
        let entries = self
            .cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .unwrap_or_else(|e| self.fail(e));
        let text = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
        entries
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| LogEntry {
                level: text(e, "level"),
                source: text(e, "source"),
                message: text(e, "message"),
            })
            .collect()
    }

    /// The messages of the `SEVERE` entries since the previous [`Browser::console_log`] or
    /// `console_errors` call: `console.error`, uncaught exceptions, failed loads.
    pub fn console_errors(&self) -> Vec<String> {
        self.console_log()
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .map(|e| e.message)
            .collect()
    }
}

impl Element<'_> {
    /// The element's WebDriver reference.
    pub fn reference(&self) -> &str {
        &self.id
    }

    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// Its rendered text.
    pub fn text(&self) -> String {
        self.try_text().unwrap_or_else(|e| self.browser.fail(e))
    }

    /// Clicks it (no waiting: [`Browser::click`] waits).
    pub fn click(&self) {
        self.try_click().unwrap_or_else(|e| self.browser.fail(e))
    }

    /// An attribute.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.try_attr(name).unwrap_or_else(|e| self.browser.fail(e))
    }

    /// A DOM property.
    pub fn prop(&self, name: &str) -> Value {
        self.try_prop(name).unwrap_or_else(|e| self.browser.fail(e))
    }

    fn try_text(&self) -> Result<String, Error> {
        let text = self.browser.cmd("GET", &self.path("/text"), None)?;
        Ok(text.as_str().unwrap_or_default().to_string())
    }

    fn try_click(&self) -> Result<(), Error> {
        self.browser
            .cmd("POST", &self.path("/click"), Some(json!({})))
            .map(drop)
    }

    fn try_send_keys(&self, text: &str) -> Result<(), Error> {
        let body = json!({ "text": text });
        self.browser
            .cmd("POST", &self.path("/value"), Some(body))
            .map(drop)
    }

    fn try_clear(&self) -> Result<(), Error> {
        self.browser
            .cmd("POST", &self.path("/clear"), Some(json!({})))
            .map(drop)
    }

    fn try_attr(&self, name: &str) -> Result<Option<String>, Error> {
        let value = self
            .browser
            .cmd("GET", &self.path(&format!("/attribute/{name}")), None)?;
        Ok(value.as_str().map(str::to_string))
    }

    fn try_prop(&self, name: &str) -> Result<Value, Error> {
        self.browser
            .cmd("GET", &self.path(&format!("/property/{name}")), None)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Chromium quits with its session; bounded, and a failure changes nothing below.
            let url = format!("{}/session/{}", self.base, self.session);
            let quick = ureq::AgentBuilder::new().timeout(QUIT_TIMEOUT).build();
            let _ = quick.delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Whatever is left of Chromium if its session could not be ended (e.g. chromedriver
        // had died): every process naming this browser's folder, by its id.
        kill_processes_naming(self.home.path());
    }
}

/// Sends SIGKILL to every process whose command line names `dir`.
fn kill_processes_naming(dir: &Path) {
    let needle = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let pids: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.parse::<u32>().is_ok_and(|p| p != std::process::id()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect();
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .stderr(Stdio::null())
            .status();
    }
}

/// Reads `out` to its end into `log` (keeping the last [`LOG_TAIL`] bytes), sending the port
/// chromedriver announces through `port` if given.
fn drain(
    out: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    port: Option<mpsc::Sender<u16>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(out);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            if let (Some(tx), Some(p)) = (&port, announced_port(&text)) {
                let _ = tx.send(p);
            }
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            log.push_str(&text);
            if log.len() > 2 * LOG_TAIL {
                let mut cut = log.len() - LOG_TAIL;
                while !log.is_char_boundary(cut) {
                    cut += 1;
                }
                log.drain(..cut);
            }
            line.clear();
        }
    });
}

/// The port in chromedriver's `ChromeDriver was started successfully on port 34445.`
fn announced_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("started successfully on port ")?;
    rest.trim().trim_end_matches('.').parse().ok()
}

fn tail(log: &Mutex<String>) -> String {
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    let mut cut = log.len().saturating_sub(LOG_TAIL);
    while !log.is_char_boundary(cut) {
        cut += 1;
    }
    log[cut..].to_string()
}

fn decode(encoded: &Value) -> Result<Vec<u8>, Error> {
    let text = encoded
        .as_str()
        .ok_or_else(|| Error::new("bad answer", "expected base64 text"))?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::new("bad answer", format!("not base64: {e}")))
}

/// The first of `names` found as an executable file in a folder of `PATH`.
fn on_path(names: &[&str]) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|f| {
                f.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    })
}
