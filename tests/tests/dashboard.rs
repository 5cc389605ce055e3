//! What a person looks at, after the scenario that rolls a wave back: `handsoff status` (text and
//! JSON), and the dashboard served live from the table, loaded in a real browser (headless
//! Chromium from Debian's packages, installed by scripts/browser-tools); the rendered page is
//! checked and a screenshot kept under target/dashboard/.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use handsoff_e2e::scenarios::{self, World};
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "{} is missing: run scripts/browser-tools (scripts/test does)",
        path.display()
    );
    path
}

/// The kill-on-drop child: the served dashboard goes when the test ends, however it ends.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Chromium, headless, with no network but loopback and a profile of its own.
fn browse(url: &str, extra: &[&str], profile: &std::path::Path) -> String {
    let output = Command::new(chromium())
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
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn status_report_and_the_dashboard_show_the_rolled_back_stage_with_its_reason() {
    runtime().block_on(async {
        let world = World::prepare().await.unwrap();
        // Errors start mid-bake: the bake's sequential test rolls the one-box back, with the
        // one-box's and the fleet's counts at every poll (what the chart draws).
        let run = scenarios::errors_start_mid_bake(&world).await.unwrap();
        assert_eq!(run.error.as_deref(), Some("Handsoff.RolledBack"), "{}", run.timeline());

        // status, as text and as JSON.
        let (code, text) = world.handsoff(&["status", "--pipeline", "orders"]);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("Prod-1") && text.contains("rolled back"), "{text}");
        assert!(
            text.contains("to lift: handsoff unblock --pipeline orders --stage Prod-1"),
            "{text}"
        );
        let (code, json) = world.handsoff(&["status", "--json"]);
        assert_eq!(code, 0, "{json}");
        let status: Value = serde_json::from_str(json.trim()).unwrap();
        let stage = &status["stages"][0];
        assert_eq!(
            (&stage["pipeline"], &stage["stage"], &stage["state"]),
            (&"orders".into(), &"Prod-1".into(), &"rolled_back".into())
        );
        assert!(stage["headline"].as_str().unwrap().contains("error rate"), "{stage}");
        assert!(
            stage["last_decisions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["gate"] == "rollback-trigger"),
            "{stage}"
        );

        // The dashboard, served live from the table, in a real browser.
        let mut child = world
            .handsoff_command(&["dashboard", "--serve", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let _served = Served(child);
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        let url = first.trim().rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{first}");
        // A page elsewhere whose name rebinds to this address sends its own Host: refused.
        let address = url.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        std::io::Write::write_all(
            &mut stream,
            b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut answer = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
        assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
        let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard");
        std::fs::create_dir_all(&artifacts).unwrap();
        let profile = handsoff_e2e::TempDir::new("chromium-profile");
        let dom = browse(&url, &["--dump-dom", "--virtual-time-budget=2000"], profile.path());
        assert!(
            dom.contains("data-stage=\"Prod-1\" data-state=\"rolled_back\""),
            "{dom}"
        );
        assert!(
            dom.contains("the one-box's error rate is"),
            "the rollback's reason: {dom}"
        );
        assert!(
            dom.contains("To lift the block: <code>handsoff unblock --pipeline orders --stage Prod-1"),
            "{dom}"
        );
        assert!(
            dom.contains("<svg class=\"error-rates\""),
            "the one-box against the fleet: {dom}"
        );
        assert!(dom.contains("rollback-trigger"), "the audit trail: {dom}");
        let screenshot = artifacts.join("dashboard.png");
        let _ = std::fs::remove_file(&screenshot);
        browse(
            &url,
            &[
                &format!("--screenshot={}", screenshot.display()),
                "--window-size=1280,1600",
            ],
            profile.path(),
        );
        let png = std::fs::read(&screenshot).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "no screenshot at {}",
            screenshot.display()
        );

        // Delivery metrics: one deployment, rolled back, not restored yet; then unblocked.
        let report = |world: &World| -> Value {
            let (code, json) = world.handsoff(&["report", "--pipeline", "orders", "--since", "1d", "--json"]);
            assert_eq!(code, 0, "{json}");
            serde_json::from_str(json.trim()).unwrap()
        };
        let before = report(&world);
        assert_eq!(
            (
                &before["deployments"],
                &before["rollbacks"],
                &before["change_failure_rate"],
                &before["still_blocked"]
            ),
            (&1.into(), &1.into(), &1.0.into(), &1.into()),
            "{before}"
        );
        assert_eq!(before["lead_time_secs"], Value::Null);
        let (code, said) = world.handsoff(&[
            "unblock",
            "--pipeline",
            "orders",
            "--stage",
            "Prod-1",
            "--reason",
            "fixed",
        ]);
        assert_eq!(code, 0, "{said}");
        let after = report(&world);
        assert_eq!(
            (&after["restored"], &after["still_blocked"]),
            (&1.into(), &0.into()),
            "{after}"
        );
        assert!(
            after["median_time_to_restore_secs"]
                .as_i64()
                .is_some_and(|secs| secs >= 0),
            "{after}"
        );

        // The same page as a file to publish.
        let out = handsoff_e2e::TempDir::new("dashboard-out");
        let (code, said) = world.handsoff(&["dashboard", "--out", &out.path().display().to_string()]);
        assert_eq!(code, 0, "{said}");
        let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
        assert!(
            page.contains("data-state=\"idle\"") && !page.contains("src=\"http"),
            "{page}"
        );
        assert!(page.contains("unblocked by"), "{page}");
    });
}
