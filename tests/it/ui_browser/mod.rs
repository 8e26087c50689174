//! The web UI in a real Chromium, driven over WebDriver (chromedriver on a
//! loopback port, `fantoccini`). Each test starts its own `idms serve` and
//! its own browser with a fresh profile; nextest runs at most two at once
//! (`.config/nextest.toml`, group `browser`). Controls are found by what
//! staff see (labels, button text), never by CSS classes.
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`
//! (`make deps` installs them); without them the tests fail saying so.

mod admin;
mod directory;
mod doors;
mod enrol;
mod erase;
mod expunge;
mod keyboard;
mod levels;
mod person;
mod purge;
mod sign_in_and_search;
mod tour;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::Value;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a control may take to appear.
pub const WAIT: Duration = Duration::from_secs(10);

/// axe-core, vendored (tests/assets/LICENSES.md); never fetched.
const AXE: &str = include_str!("../../assets/axe-core-4.14.1/axe.min.js");

/// A chromedriver process and one browser session on it.
pub struct Browser {
    pub c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        for bin in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: the browser tests need Debian's chromium and chromium-driver (`make deps` installs them)"
            );
        }
        for _attempt in 0..3 {
            let port = crate::server::free_port();
            let mut driver = Command::new(CHROMEDRIVER)
                .args([format!("--port={port}"), "--log-level=WARNING".into()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts (`make deps` installs chromium-driver)");
            if wait_ready(port, &mut driver, Duration::from_secs(20)) {
                let profile = tempfile::tempdir().unwrap();
                let c = fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps(profile.path()))
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
                    .expect("a Chromium session (is chromium the same version as chromium-driver?)");
                c.set_window_size(1280, 800).await.unwrap();
                c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                    Some(Duration::from_secs(30)),
                    Some(Duration::from_secs(30)),
                    None,
                ))
                .await
                .unwrap();
                return Self { c, driver, _profile: profile };
            }
            let _ = driver.kill();
            let _ = driver.wait();
        }
        panic!("chromedriver did not start");
    }

    /// Ends the browser session (chromedriver then ends Chromium), then chromedriver.
    pub async fn close(mut self) {
        let _ = self.c.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// After a failed test (no `close`): chromedriver, then the Chromium it
    /// started — found by this browser's own profile directory on its
    /// command line, which no other process has.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let mine = format!("--user-data-dir={}", self._profile.path().display());
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if cmdline.split(|b| *b == 0).any(|arg| arg == mine.as_bytes()) {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
}

/// `GET /status` until ready; false if chromedriver exited (its port was taken).
fn wait_ready(port: u16, child: &mut Child, within: Duration) -> bool {
    let (agent, end) = (crate::server::agent(), Instant::now() + within);
    while Instant::now() < end {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(mut r) = agent.get(&format!("http://127.0.0.1:{port}/status")).call()
            && r.body_mut().read_json::<Value>().is_ok_and(|v| v["value"]["ready"] == true)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn caps(profile: &Path) -> serde_json::Map<String, Value> {
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    let mut args: Vec<String> = [
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--lang=en-GB",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if root {
        // Chromium refuses to run its sandbox as root.
        args.push("--no-sandbox".into());
    }
    args.push(format!("--user-data-dir={}", profile.display()));
    serde_json::json!({
        "browserName": "chrome",
        "unhandledPromptBehavior": "ignore",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
    })
    .as_object()
    .unwrap()
    .clone()
}

/// An XPath string literal for `s` (no quote characters expected).
fn lit(s: &str) -> String {
    assert!(!s.contains('\''), "{s}");
    format!("'{s}'")
}

/// The button (or submit input, or link) whose visible text is `text`.
pub async fn button(c: &Client, text: &str) -> Element {
    let q = lit(text);
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&format!(
            "//button[normalize-space()={q}] | //input[@type='submit' and @value={q}] | //a[normalize-space()={q}]"
        )))
        .await
        .unwrap_or_else(|e| panic!("no control {text:?}: {e}"))
}

/// The input whose `<label>` reads `label`.
pub async fn field(c: &Client, label: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&format!("//*[@id=//label[normalize-space()={}]/@for]", lit(label))))
        .await
        .unwrap_or_else(|e| panic!("no field labelled {label:?}: {e}"))
}

/// The path of the page shown.
pub async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// axe-core's serious and critical violations on the page shown (WCAG 2.1
/// A/AA and best practice). WebDriver scripts are not held by the page's CSP.
pub async fn axe_serious(c: &Client) -> Vec<Value> {
    c.execute(AXE, vec![]).await.unwrap();
    let r = c
        .execute_async(
            r"const done = arguments[arguments.length - 1];
              axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag',
                    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
                 .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                                          nodes: v.nodes.map(n => n.target.join(' ')) }))))
                 .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e) }]));",
            vec![],
        )
        .await
        .unwrap();
    r.as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .cloned()
        .collect()
}

/// Starts `idms serve` on a fresh data dir with a viewer `vera`.
pub fn service(dir: &Path, password: &str) -> crate::server::Server {
    crate::server::cli(dir, &["init"]);
    let out = Command::new(crate::server::bin())
        .arg("--data-dir")
        .arg(dir)
        .args(["operator", "add", "--name", "vera", "--role", "viewer"])
        .env("IDMS_PASSWORD", password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    crate::server::Server::start(dir)
}

/// Adds an operator with `role` and `password` to the service at `dir`.
pub fn add_operator(dir: &Path, name: &str, role: &str, password: &str) {
    let out = Command::new(crate::server::bin())
        .arg("--data-dir")
        .arg(dir)
        .args(["operator", "add", "--name", name, "--role", role])
        .env("IDMS_PASSWORD", password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Signs `name` in through the sign-in page; waits for People.
pub async fn sign_in(c: &Client, base: &str, name: &str, password: &str) {
    c.goto(base).await.unwrap();
    field(c, "Operator name").await.send_keys(name).await.unwrap();
    field(c, "Password").await.send_keys(password).await.unwrap();
    button(c, "Sign in").await.click().await.unwrap();
    c.wait().at_most(WAIT).for_url(&format!("{base}/ui/people").parse().unwrap()).await.unwrap();
}

/// The element at `xpath`, waited for.
pub async fn wait_for(c: &Client, xpath: &str) -> Element {
    c.wait().at_most(WAIT).for_element(Locator::XPath(xpath)).await.unwrap_or_else(|e| panic!("{xpath}: {e}"))
}

/// Types `text` on whatever has the focus, as a person at a keyboard does
/// (WebDriver key actions: no element is clicked or focused for it).
pub async fn keys(c: &Client, text: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut a = KeyActions::new("keyboard".into());
    for value in text.chars() {
        a = a.then(KeyAction::Down { value }).then(KeyAction::Up { value });
    }
    c.perform_actions(a).await.unwrap();
}

/// Presses one key (`Key::Tab`, `Key::Enter`, `Key::Escape`, …).
pub async fn press(c: &Client, k: fantoccini::key::Key) {
    keys(c, &char::from(k).to_string()).await;
}

/// What the focused control says: its label, `aria-label`, text or value.
pub async fn focused(c: &Client) -> String {
    let v = c
        .execute(
            "const e = document.activeElement;
             if (!e || e === document.body) { return ''; }
             const label = e.labels && e.labels.length ? e.labels[0].innerText : '';
             return (label || e.getAttribute('aria-label') || e.innerText || e.value || '').trim();",
            vec![],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_string()
}

/// Presses Tab until the focused control says `text` (at most 80 times);
/// panics listing what the focus went through.
pub async fn tab_to(c: &Client, text: &str) {
    let mut seen = Vec::new();
    for _ in 0..80 {
        let now = focused(c).await;
        if now == text {
            return;
        }
        seen.push(now);
        press(c, fantoccini::key::Key::Tab).await;
    }
    panic!("Tab never reached {text:?}; the focus went through {seen:?}");
}

/// Three deleted people of org unit `lab` (CLI): Grace Hopper, Alan Turing
/// and Ada Lovelace, the last under legal hold; answers their IDs.
pub fn three_deleted_in_lab(dir: &Path) -> [String; 3] {
    let add = |given: &str, family: &str, hold: bool| {
        let mut args = vec!["user", "add", "--given", given, "--family", family, "--org-unit", "lab"];
        if hold {
            args.push("--legal-hold");
        }
        let id = crate::server::cli(dir, &args)["id"].as_str().unwrap().to_string();
        crate::server::cli(dir, &["user", "delete", &id]);
        id
    };
    [add("Grace", "Hopper", false), add("Alan", "Turing", false), add("Ada", "Lovelace", true)]
}

/// Waits until the focused control says `text`: a dialog's `close` event,
/// which moves the focus back, comes a moment after the dialog closes.
pub async fn focus_returns_to(c: &Client, text: &str) {
    let end = Instant::now() + WAIT;
    loop {
        let now = focused(c).await;
        if now == text {
            return;
        }
        assert!(Instant::now() < end, "the focus did not return to {text:?}: it is on {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A door controller `name` for door `main`, added (CLI) to the running
/// service at `base`, uploads `events` saying its clock reads `skew_secs`
/// ahead of the real one (`sent_at`); answers its ID and the upload's result.
pub fn controller_uploads(dir: &Path, base: &str, name: &str, skew_secs: i64, events: Value) -> (i64, Value) {
    let c = crate::server::cli(dir, &["controller", "add", "--name", name, "--door", "main"]);
    let (id, token) = (c["id"].as_i64().unwrap(), c["token"].as_str().unwrap().to_string());
    let agent = crate::server::agent();
    // A token the CLI makes while the service runs reaches its token set soon.
    crate::access::until("the controller's token", 200, || {
        crate::server::decide(&agent, base, &token, "04BADBAD").unwrap().0
    });
    let now = idms::clock::Clock::now(&idms::clock::SystemClock);
    let sent_at = idms::domain::Timestamp(now.0 + skew_secs).to_rfc3339();
    let mut r = agent
        .post(&format!("{base}/api/v1/access/events"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({"sent_at": sent_at, "events": events}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    (id, r.body_mut().read_json::<Value>().unwrap())
}
