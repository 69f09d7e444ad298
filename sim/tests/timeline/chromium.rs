//! Headless Chromium driven by its command line: the DOM after the page's script ran
//! (`--dump-dom`) and a screenshot (`--screenshot`). One short process per call, each with a
//! fresh profile; calls take turns, so that parallel tests do not start several browsers on
//! the shared machine at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Chromium gets this long to render a page before the test fails (a hang guard, not a
/// performance assertion: a page renders in about a second).
const HANG_GUARD: Duration = Duration::from_secs(180);

/// Simulated time Chromium lets the page's script run before it dumps or shoots.
const VIRTUAL_TIME_MS: &str = "10000";

static TURN: Mutex<()> = Mutex::new(());
static PROFILES: AtomicUsize = AtomicUsize::new(0);

/// The Chromium binary: `$CHROMIUM`, else `chromium` on the PATH. Panics with what to
/// install when there is none: a browser test never passes without a browser.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "headless Chromium is needed by this test and was not found on the PATH: install \
             Debian's package (`apt-get install -y chromium`; .ci/run does) or set CHROMIUM to \
             the browser's path"
        )
    })
}

/// A `file://` URL of `page` with `hash` (`zoom=2`, or empty).
fn url(page: &Path, hash: &str) -> String {
    let page = page.canonicalize().expect("page written");
    let mut url = format!("file://{}", page.display());
    if !hash.is_empty() {
        url.push('#');
        url.push_str(hash);
    }
    url
}

/// Runs Chromium headless on `page` with `extra` arguments; returns its standard output.
fn run(page: &Path, hash: &str, extra: &[String]) -> Vec<u8> {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let profile = std::env::temp_dir().join(format!(
        "tcpnotify-chromium-{}-{}",
        std::process::id(),
        PROFILES.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&profile).expect("profile folder");
    let mut child = Command::new(binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // The page's console (and its uncaught errors) on standard error.
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={VIRTUAL_TIME_MS}"))
        .args(extra)
        .arg(url(page, hash))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
    // Read the pipes on their own threads so a full pipe cannot stall the browser.
    let stdout = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut out, &mut buf).map(|_| buf)
        })
    });
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut err, &mut buf).map(|_| buf)
        })
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish rendering {} in {HANG_GUARD:?}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = stdout
        .and_then(|t| t.join().ok())
        .and_then(Result::ok)
        .unwrap_or_default();
    let err = stderr
        .and_then(|t| t.join().ok())
        .and_then(Result::ok)
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success(),
        "chromium failed ({status}) on {}:\n{err}",
        page.display()
    );
    // The page logs nothing: a console line is an uncaught error of its script.
    if let Some(line) = err.lines().find(|l| l.contains(":CONSOLE")) {
        panic!("the page's console: {line}");
    }
    out
}

/// The page's DOM after its script ran, serialised as HTML.
pub fn dump_dom(page: &Path, hash: &str) -> String {
    let out = run(page, hash, &["--dump-dom".to_string()]);
    String::from_utf8(out).expect("the DOM is UTF-8")
}

/// A PNG screenshot of the page at `width` × `height`.
pub fn screenshot(page: &Path, hash: &str, (width, height): (u32, u32)) -> Vec<u8> {
    let shot = page.with_extension(format!("{}.png", hash.replace(['=', '&'], "-")));
    let _ = std::fs::remove_file(&shot);
    run(
        page,
        hash,
        &[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", shot.display()),
        ],
    );
    std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()))
}
