//! Cold start, size and memory of the function binaries against a hello-world lambda_runtime
//! binary built with the same profile (issue: performance). Reads what
//! `cargo lambda build --release --output-format zip` left in target/lambda/, prints a table,
//! writes docs/performance.md, and exits non-zero when a target is missed.
//!
//! Cold start: process start to its first `GET /runtime/invocation/next` on a runtime API on
//! 127.0.0.1, median of 20 runs; target at most 1.5x hello-world's. Memory: peak RSS (VmHWM)
//! after one invocation; target under 40 MB. Size: the zipped bootstrap, with its ratio.

use std::path::{Path, PathBuf};
use std::time::Duration;

use handsoff_e2e::LocalRuntime;
use serde_json::{Value, json};

const RUNS: usize = 20;
const COLD_START_RATIO: f64 = 1.5;
const MAX_RSS_MB: f64 = 40.0;

fn event(function: &str) -> Value {
    let context = json!({"pipeline": "orders", "stage": "Prod", "execution_id": "exec-1", "reason": "perf"});
    let policy = match function {
        "time-window-gate" => {
            json!({"windows": {"timezone": "America/Los_Angeles", "allow": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00"}]}})
        }
        "alarm-blocker" => json!({"alarms": {"watch": [{"names": ["orders-high-sev"]}]}}),
        "bake-time-waiter" => json!({"bake": {"duration": "1h", "alarms": [{"names": ["orders-high-sev"]}]}}),
        "canary-evaluator" => json!({"canary": {"lambda_alias": {"function_name": "orders-api", "alias": "live"}}}),
        "rollback-trigger" => json!({"rollback": {"actions": [{"pipeline": {"mode": "stop"}}]}}),
        _ => json!({}),
    };
    json!({"policy": policy, "context": context})
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

struct Row {
    name: String,
    cold_start: Duration,
    zip_bytes: u64,
    peak_rss_kib: Option<u64>,
}

fn measure(name: &str, lambda_dir: &Path) -> Result<Row, String> {
    let zip = lambda_dir.join(name).join("bootstrap.zip");
    // The zip holds the same binary cargo lambda left beside the target directory's release build.
    let target = lambda_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        lambda_dir.join(name).join("bootstrap"),
        target.join("x86_64-unknown-linux-gnu/release").join(name),
        target.join("release").join(name),
    ];
    let binary =
        candidates.iter().find(|path| path.exists()).cloned().ok_or_else(|| {
            format!("no release binary of {name}: run cargo lambda build --release --output-format zip")
        })?;
    let zip_bytes = std::fs::metadata(&zip)
        .map(|meta| meta.len())
        .map_err(|error| format!("{}: {error}", zip.display()))?;
    let mut starts = Vec::new();
    for _ in 0..RUNS {
        let mut runtime = LocalRuntime::start();
        runtime.env("HANDSOFF_TABLE", "handsoff");
        runtime.spawn(&binary, name);
        starts.push(
            runtime
                .wait_for_first_poll(Duration::from_secs(10))
                .ok_or_else(|| format!("{name} never asked for work:\n{}", runtime.output()))?,
        );
    }
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.push_event(
        "perf-1",
        if name == "hello-world" {
            json!({"hello": "world"})
        } else {
            event(name)
        },
    );
    runtime.spawn(&binary, name);
    runtime.wait_for_replies(1, Duration::from_secs(30));
    let peak_rss_kib = runtime.peak_rss_kib();
    Ok(Row {
        name: name.to_string(),
        cold_start: median(starts),
        zip_bytes,
        peak_rss_kib,
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .map(|line| line.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cpu}, {cores} cores, {}", std::env::consts::ARCH)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let lambda_dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("lambda");
    let names = [
        "hello-world",
        "time-window-gate",
        "alarm-blocker",
        "bake-time-waiter",
        "canary-evaluator",
        "rollback-trigger",
        "validation-test-runner",
    ];
    let mut rows = Vec::new();
    for name in names {
        match measure(name, &lambda_dir) {
            Ok(row) => rows.push(row),
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(2);
            }
        }
    }
    let hello = (rows[0].cold_start, rows[0].zip_bytes);
    let mut missed = false;
    let mut table = vec![
        "| function | cold start (median of 20) | vs hello-world | zipped size | vs hello-world | peak RSS, one invocation | result |".to_string(),
        "| --- | --- | --- | --- | --- | --- | --- |".to_string(),
    ];
    for row in &rows {
        let start_ratio = row.cold_start.as_secs_f64() / hello.0.as_secs_f64();
        let size_ratio = row.zip_bytes as f64 / hello.1 as f64;
        let rss_mb = row.peak_rss_kib.map(|kib| kib as f64 / 1024.0);
        let ok =
            row.name == "hello-world" || (start_ratio <= COLD_START_RATIO && rss_mb.is_some_and(|mb| mb < MAX_RSS_MB));
        missed |= !ok;
        table.push(format!(
            "| {} | {:.2} ms | {start_ratio:.2}x | {:.1} MiB | {size_ratio:.2}x | {} | {} |",
            row.name,
            row.cold_start.as_secs_f64() * 1e3,
            row.zip_bytes as f64 / 1_048_576.0,
            rss_mb.map_or("n/a".to_string(), |mb| format!("{mb:.1} MB")),
            if ok { "ok" } else { "MISSED" }
        ));
    }
    let report = format!(
        "{}\n\nMeasured on {} with `benches/run-lambda` ({}). Targets: cold start at most {COLD_START_RATIO}x hello-world's, peak RSS under {MAX_RSS_MB} MB.\n",
        table.join("\n"),
        machine(),
        jiff::Timestamp::now().strftime("%Y-%m-%d")
    );
    println!("{report}");
    let docs = root.join("docs/performance.md");
    let text = std::fs::read_to_string(&docs).unwrap_or_default();
    let (head, tail) = match (
        text.find("<!-- lambda-perf:start -->"),
        text.find("<!-- lambda-perf:end -->"),
    ) {
        (Some(start), Some(end)) => (text[..start].to_string(), text[end..].to_string()),
        _ => (text.clone(), "<!-- lambda-perf:end -->\n".to_string()),
    };
    let _ = std::fs::write(&docs, format!("{head}<!-- lambda-perf:start -->\n{report}{tail}"));
    if missed {
        std::process::exit(1);
    }
}
