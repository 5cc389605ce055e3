//! Cold start, size and memory of the function binaries against a hello-world lambda_runtime
//! binary built with the same profile (issue: performance). Reads what
//! `cargo lambda build --release --output-format zip` left in target/lambda/, prints a table,
//! writes docs/performance.md, and exits non-zero when a target is missed.
//!
//! Cold start: process start to its first `GET /runtime/invocation/next` on a runtime API on
//! 127.0.0.1, median of 60 runs; target at most 1.5x hello-world's. The runs are interleaved
//! (one of each binary per round), so a machine that slows down mid-run slows every binary alike
//! instead of skewing the ratios, in a new order each round.
//!
//! `lambda-perf NAME=PATH...` measures those binaries instead (the first is the yardstick; a
//! NAME may carry a label, `alarm-blocker@before`) and writes nothing: for comparing builds
//! while working on a regression. Memory: peak RSS (VmHWM)
//! after one invocation; target under 40 MB. Size: the zipped bootstrap, with its ratio.

use std::path::{Path, PathBuf};
use std::time::Duration;

use handsoff_e2e::LocalRuntime;
use serde_json::{Value, json};

/// Rounds of cold starts. The issue asks for the median of at least 20; on a shared virtual
/// machine (CPU steal) 20 left the ratios swinging by 2x between identical runs.
const RUNS: usize = 60;
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
    zip_bytes: Option<u64>,
    peak_rss_kib: Option<u64>,
}

/// A binary to measure: its function name and where it is.
struct Binary {
    name: String,
    path: PathBuf,
    zip: Option<PathBuf>,
}

fn packaged(name: &str, lambda_dir: &Path) -> Result<Binary, String> {
    // The zip holds the same binary cargo lambda left in the target directory's release build.
    // A `bootstrap` beside the zip is only there after a build without `--output-format zip`,
    // and a later zip build leaves it stale: the newest candidate is the one just built.
    let target = lambda_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        lambda_dir.join(name).join("bootstrap"),
        target.join("x86_64-unknown-linux-gnu/release").join(name),
        target.join("release").join(name),
    ];
    let path = newest(&candidates)
        .ok_or_else(|| format!("no release binary of {name}: run cargo lambda build --release --output-format zip"))?;
    Ok(Binary {
        name: name.to_string(),
        path,
        zip: Some(lambda_dir.join(name).join("bootstrap.zip")),
    })
}

/// The most recently modified of the files that exist.
fn newest(paths: &[PathBuf]) -> Option<PathBuf> {
    paths
        .iter()
        .filter_map(|path| Some((std::fs::metadata(path).ok()?.modified().ok()?, path)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path.clone())
}

/// One cold start: spawn to the first request for work.
fn cold_start(binary: &Binary) -> Result<Duration, String> {
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.spawn(&binary.path, &binary.name);
    runtime
        .wait_for_first_poll(Duration::from_secs(10))
        .ok_or_else(|| format!("{} never asked for work:\n{}", binary.name, runtime.output()))
}

fn measure_all(binaries: &[Binary]) -> Result<Vec<Row>, String> {
    let mut starts = vec![Vec::new(); binaries.len()];
    let mut order: Vec<usize> = (0..binaries.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..RUNS {
        // A fixed order measured the same binary 0.05–0.1x apart depending on its place and on
        // which binary ran just before it; a fresh order each round spreads that over all.
        shuffle(&mut order, &mut seed);
        for &index in &order {
            starts[index].push(cold_start(&binaries[index])?);
        }
    }
    binaries
        .iter()
        .zip(starts)
        .map(|(binary, starts)| row(binary, median(starts)))
        .collect()
}

/// Fisher–Yates with xorshift64: the same orders on every run, no dependency for a benchmark.
fn shuffle(order: &mut [usize], seed: &mut u64) {
    for last in (1..order.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        order.swap(last, (*seed % (last as u64 + 1)) as usize);
    }
}

fn row(binary: &Binary, cold_start: Duration) -> Result<Row, String> {
    let name = binary.name.as_str();
    // `alarm-blocker@before` is alarm-blocker, labelled for a comparison.
    let function = name.split('@').next().unwrap_or(name);
    let zip_bytes = match &binary.zip {
        Some(zip) => Some(
            std::fs::metadata(zip)
                .map(|meta| meta.len())
                .map_err(|error| format!("{}: {error}", zip.display()))?,
        ),
        None => None,
    };
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.push_event(
        "perf-1",
        if function == "hello-world" {
            json!({"hello": "world"})
        } else {
            event(function)
        },
    );
    runtime.spawn(&binary.path, name);
    runtime.wait_for_replies(1, Duration::from_secs(30));
    let peak_rss_kib = runtime.peak_rss_kib();
    Ok(Row {
        name: name.to_string(),
        cold_start,
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
    let chosen: Vec<String> = std::env::args().skip(1).collect();
    let binaries: Result<Vec<Binary>, String> = if chosen.is_empty() {
        names.iter().map(|name| packaged(name, &lambda_dir)).collect()
    } else {
        chosen
            .iter()
            .map(|arg| match arg.split_once('=') {
                Some((name, path)) => Ok(Binary {
                    name: name.to_string(),
                    path: PathBuf::from(path),
                    zip: None,
                }),
                None => Err(format!("`{arg}` is not NAME=PATH")),
            })
            .collect()
    };
    let rows = match binaries.and_then(|binaries| measure_all(&binaries)) {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(2);
        }
    };
    let hello = (rows[0].cold_start, rows[0].zip_bytes);
    let mut missed = false;
    let mut table = vec![
        format!(
            "| function | cold start (median of {RUNS}) | vs hello-world | zipped size | vs hello-world | peak RSS, one invocation | result |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- |".to_string(),
    ];
    for row in &rows {
        let start_ratio = row.cold_start.as_secs_f64() / hello.0.as_secs_f64();
        let size = match (row.zip_bytes, hello.1) {
            (Some(bytes), Some(hello)) => format!(
                "{:.1} MiB | {:.2}x",
                bytes as f64 / 1_048_576.0,
                bytes as f64 / hello as f64
            ),
            _ => "n/a | n/a".to_string(),
        };
        let rss_mb = row.peak_rss_kib.map(|kib| kib as f64 / 1024.0);
        let ok =
            row.name == rows[0].name || (start_ratio <= COLD_START_RATIO && rss_mb.is_some_and(|mb| mb < MAX_RSS_MB));
        missed |= !ok;
        table.push(format!(
            "| {} | {:.2} ms | {start_ratio:.2}x | {size} | {} | {} |",
            row.name,
            row.cold_start.as_secs_f64() * 1e3,
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
    if !chosen.is_empty() {
        std::process::exit(i32::from(missed));
    }
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::newest;

    #[test]
    fn a_stale_bootstrap_loses_to_the_binary_just_built() {
        let dir = handsoff_e2e::TempDir::new("lambda-perf");
        let (stale, fresh, missing) = (dir.join("bootstrap"), dir.join("release"), dir.join("none"));
        for (path, age) in [(&stale, 3_600), (&fresh, 60)] {
            let file = std::fs::File::create(path).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(age)).unwrap();
        }
        assert_eq!(newest(&[stale.clone(), fresh.clone(), missing.clone()]), Some(fresh));
        assert_eq!(newest(&[missing.clone(), stale.clone()]), Some(stale));
        assert_eq!(newest(&[missing]), None);
    }
}
