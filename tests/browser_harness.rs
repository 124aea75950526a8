//! The browser harness (`tests/support/browser.rs`) tested against a page this file serves
//! itself on 127.0.0.1: a form with a labelled input, a select and a button that writes what
//! was typed into `<p id=out>` (a little later, so that the harness has to wait for it).
//! Every test drives a real headless Chromium through a real chromedriver.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::browser::{Browser, Key};

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>自测页</title>
<link rel="icon" href="data:,">
</head>
<body>
<h1>自测</h1>
<form id="form">
  <label for="name">申请人姓名</label>
  <input id="name" name="name" autocomplete="off">
  <label for="kind">类别</label>
  <select id="kind">
    <option value="person">个人</option>
    <option value="org">法人</option>
  </select>
  <button id="send" type="submit">提交</button>
</form>
<p id="out"></p>
<p id="pending">尚未提交</p>
<button id="fail" type="button">出错</button>
<script>
document.getElementById('form').addEventListener('submit', function (event) {
  event.preventDefault();
  var text = document.getElementById('kind').value + ':' + document.getElementById('name').value;
  setTimeout(function () {
    document.getElementById('out').textContent = text;
    var pending = document.getElementById('pending');
    if (pending) pending.remove();
  }, 300);
});
document.getElementById('fail').addEventListener('click', function () {
  console.error('自测错误');
  setTimeout(function () { undefinedFunction(); }, 0);
});
</script>
</body>
</html>
"#;

/// An HTTP server on 127.0.0.1 (a port of its own) answering `GET /` with [`PAGE`] and
/// anything else with a 404; it stops when dropped.
struct PageServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl PageServer {
    fn start() -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("the bound address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                // One thread per connection: Chromium opens connections it may never use.
                if let Ok(conn) = conn {
                    std::thread::spawn(move || answer(conn));
                }
            }
        });
        PageServer {
            port,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// Reads one request head (bounded in size and time) and answers it.
fn answer(mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match conn.read(&mut buf) {
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let (status, body) = if head.starts_with("GET / ") {
        ("200 OK", PAGE)
    } else {
        ("404 Not Found", "not found")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes());
    let _ = conn.shutdown(Shutdown::Write);
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

#[test]
fn typing_clicking_and_reading_round_trip() {
    let server = PageServer::start();
    let browser = Browser::start();
    browser.goto(&server.url());
    assert_eq!(browser.title(), "自测页");
    assert_eq!(browser.text("#pending"), "尚未提交");
    assert_eq!(browser.url(), server.url());
    let label_control = browser.eval("return document.querySelector('label[for=name]').control.id");
    assert_eq!(label_control, "name", "the input is labelled");
    let language = browser.eval("return navigator.language");
    assert_eq!(language, "zh-CN", "the browser speaks Chinese first");

    browser.type_into("#name", "张三 A-1");
    assert_eq!(browser.value("#name"), "张三 A-1");
    browser.click("#send");
    // The page writes the answer 300 ms after the submit: wait_text waits for it.
    let out = browser.wait_text("#out", "person:张三 A-1");
    assert_eq!(out, "person:张三 A-1");
    assert_eq!(browser.text("#out"), "person:张三 A-1");
    browser.wait_gone("#pending");
    assert!(browser.find_all("#pending").is_empty());

    browser.select("#kind", "org");
    assert_eq!(browser.value("#kind"), "org");
    browser.fill("#name", "莆田市某某有限公司");
    browser.click("#send");
    browser.wait_text("#out", "org:莆田市某某有限公司");

    browser.clear("#name");
    assert_eq!(browser.value("#name"), "");
    assert_eq!(
        browser.attr("#name", "autocomplete").as_deref(),
        Some("off")
    );
    assert_eq!(browser.prop("#send", "type"), "submit");
    assert_eq!(browser.find_all("#form option").len(), 2);
    assert_eq!(browser.find("#kind option[value=org]").text(), "法人");
    assert!(
        browser.console_errors().is_empty(),
        "a clean page leaves no console error"
    );
}

#[test]
fn tab_moves_the_focus_to_the_button_and_enter_activates_it() {
    let server = PageServer::start();
    let browser = Browser::start();
    browser.goto(&server.url());
    assert_eq!(
        browser.active_element_id(),
        "",
        "the body has the focus at first"
    );

    browser.press_key(Key::Tab);
    assert_eq!(browser.active_element_id(), "name");
    browser.type_keys("键盘 only");
    assert_eq!(browser.value("#name"), "键盘 only");
    browser.press_key(Key::Tab);
    assert_eq!(browser.active_element_id(), "kind");
    browser.press_key(Key::Tab);
    assert_eq!(browser.active_element_id(), "send");
    browser.press_key(Key::Enter);
    browser.wait_text("#out", "person:键盘 only");

    browser.press_chord(&[Key::Shift, Key::Tab]);
    assert_eq!(browser.active_element_id(), "kind", "Shift+Tab goes back");
}

#[test]
fn a_screenshot_is_a_png_of_the_viewport_and_print_is_a_pdf() {
    let server = PageServer::start();
    let browser = Browser::start();
    browser.goto(&server.url());
    browser.type_into("#name", "截图");
    let dir = tempfile::tempdir().expect("a temporary folder");

    let shot = dir.path().join("page.png");
    browser.screenshot(&shot);
    let png = std::fs::read(&shot).expect("reading the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "the first chunk is IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
    assert!(width > 0 && height > 0, "{width}×{height}");
    let viewport = browser.eval(
        "return [Math.round(innerWidth * devicePixelRatio), Math.round(innerHeight * devicePixelRatio)]",
    );
    assert_eq!(
        viewport,
        serde_json::json!([width, height]),
        "the screenshot is the viewport"
    );
    assert_eq!(width, 1280, "the window is 1280 wide");

    let pdf = dir.path().join("page.pdf");
    browser.print_pdf(&pdf);
    let pdf = std::fs::read(&pdf).expect("reading the PDF");
    assert!(
        pdf.starts_with(b"%PDF-"),
        "a PDF: {:?}",
        &pdf[..8.min(pdf.len())]
    );
}

#[test]
fn a_missing_element_fails_clearly_within_the_bound() {
    let server = PageServer::start();
    let mut browser = Browser::start();
    browser.goto(&server.url());
    let bound = Duration::from_secs(1);
    browser.set_wait(bound);

    let started = Instant::now();
    let error = match browser.try_find("#nowhere") {
        Ok(_) => panic!("#nowhere was found"),
        Err(e) => e,
    };
    let took = started.elapsed();
    assert!(took >= bound, "gave up early, after {took:?}");
    assert!(took < bound + Duration::from_secs(5), "hung: {took:?}");
    assert_eq!(error.code, "wait timeout", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("`#nowhere`") && message.contains("no such element"),
        "{message}"
    );

    // wait_text names the selector, the needle and the last text seen.
    browser.eval("document.getElementById('out').textContent = '已受理'");
    let error = browser
        .try_wait_text("#out", "已办结")
        .expect_err("the text never comes");
    let message = error.to_string();
    for part in ["`#out`", "已办结", "已受理"] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }

    // The panicking helpers say the same and name the page.
    let started = Instant::now();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        browser.click("#nowhere");
    }));
    assert!(started.elapsed() < bound + Duration::from_secs(5));
    let payload = panicked.expect_err("clicking nothing panics");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("could not click `#nowhere`") && message.contains(&server.url()),
        "{message}"
    );
}

#[test]
fn console_errors_are_reported() {
    let server = PageServer::start();
    let browser = Browser::start();
    browser.goto(&server.url());
    assert!(browser.console_errors().is_empty());
    browser.click("#fail");
    // The uncaught exception comes from a timer: wait for both entries (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut errors = Vec::new();
    while errors.len() < 2 && Instant::now() < deadline {
        errors.extend(browser.console_errors());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        errors.iter().any(|e| e.contains("自测错误")),
        "console.error is reported: {errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("undefinedFunction")),
        "an uncaught exception is reported: {errors:?}"
    );
}

#[test]
fn dropping_the_browser_leaves_no_process_behind() {
    let browser = Browser::start();
    let home = browser.home_dir();
    assert!(!processes_naming(&home).is_empty(), "Chromium runs");
    drop(browser);
    assert_none_left(&home);
}

#[test]
fn dropping_the_browser_after_chromedriver_died_leaves_no_chromium_behind() {
    let browser = Browser::start();
    let home = browser.home_dir();
    // Chromium's processes are children of chromedriver, or of its browser process.
    let driver = processes_naming(&home)
        .iter()
        .filter_map(|pid| parent(pid))
        .find(|ppid| command(ppid).contains("chromedriver"))
        .expect("chromedriver is the parent of Chromium's browser process");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &driver])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -KILL {driver}");
    drop(browser);
    assert_none_left(&home);
}

/// Waits (bounded: killed processes are reaped by init) until no process names `home`, and
/// the folder is gone.
fn assert_none_left(home: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = processes_naming(home);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = processes_naming(home);
    }
    let left: Vec<String> = left
        .iter()
        .map(|pid| format!("{pid}: {:.150}", command(pid)))
        .collect();
    assert!(left.is_empty(), "still running: {left:#?}");
    assert!(!home.exists(), "the folder is removed");
}

/// The ids of the processes whose command line names `path`.
fn processes_naming(path: &std::path::Path) -> Vec<String> {
    let needle = path.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.parse::<u32>().is_ok())
        .filter(|pid| command(pid).contains(&needle))
        .collect()
}

/// A process's command line, arguments separated by spaces ("" once it has exited).
fn command(pid: &str) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).replace('\0', " ")
}

/// A process's parent id.
fn parent(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = stat.lines().find(|l| l.starts_with("PPid:"))?;
    Some(line["PPid:".len()..].trim().to_string())
}
