//! `handsoff dashboard --out DIR | --serve ADDR`: every pipeline by stage as one self-contained
//! web page (no external scripts, styles or fonts): each stage's state and why, the command that
//! lifts a block, live overrides, bake progress, the one-box against its fleet as a chart, and
//! the audit trail, searchable. `--out` writes it as `index.html` (to publish to a bucket);
//! `--serve` answers every request with the page read from the table at that moment.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use handsoff::status::{RatePoint, StageState, state_name};
use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::aws::{AwsArgs, TableArgs, check_name, store};
use crate::status::{StageView, collect};

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Only this pipeline [default: every pipeline with a record in the table].
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,
    /// Write the page to DIR/index.html.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "serve",
        required_unless_present = "serve"
    )]
    out: Option<PathBuf>,
    /// Serve the page live at ADDR (e.g. 127.0.0.1:8080; port 0 picks a free one), until
    /// interrupted. The first line printed is its address.
    #[arg(long, value_name = "ADDR")]
    serve: Option<String>,
    #[command(flatten)]
    table: TableArgs,
}

/// Text safe inside HTML: everything the table holds came from somewhere else.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f23}\
h1{font-size:1.4rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin:0}\
.stage{border:1px solid #d0d7de;border-radius:6px;padding:1rem;margin:1rem 0}\
.state{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.85rem;margin-left:.5rem}\
.proceeding{background:#dafbe1}.waiting,.baking{background:#fff8c5}.blocked,.rolled_back{background:#ffebe9}.unknown{background:#eaeef2}\
code{background:#f6f8fa;padding:.1rem .3rem}table{border-collapse:collapse;width:100%;font-size:.85rem}\
td,th{border-bottom:1px solid #eaeef2;padding:.25rem;text-align:left;vertical-align:top}\
.evidence{color:#57606a}table{table-layout:fixed}td,.headline{overflow-wrap:anywhere}\
col.at{width:14%}col.what{width:10%}col.gate{width:10%}col.decision{width:7%}col.reason{width:34%}col.evidence{width:25%}\
svg{background:#fafbfc;border:1px solid #eaeef2}";

/// Nothing but this page's own style and its search script, from where the page came.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; base-uri 'none'; form-action 'none'";

/// The audit trail's search box (a file beside the page: no inline script).
pub const SEARCH: &str = "document.getElementById('search').addEventListener('input',function(e){\
var q=e.target.value.toLowerCase();document.querySelectorAll('tr.record').forEach(function(r){\
r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});";

/// The page, as of `now`.
pub fn page(views: &[StageView], now: Timestamp) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>handsoff</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"><style>{STYLE}</style></head><body>\
         <h1>handsoff: every pipeline by stage</h1><p>As of {}.</p>\
         <p><label>Search the audit trail: <input id=\"search\" type=\"search\"></label></p>",
        escape(&now.to_string())
    );
    if views.is_empty() {
        html.push_str("<p id=\"empty\">No stage has a record in the table yet.</p>");
    }
    let mut current = "";
    for view in views {
        let status = &view.status;
        if status.pipeline != current {
            current = &status.pipeline;
            let _ = write!(html, "<h2>{}</h2>", escape(current));
        }
        let state = serde_json::to_value(status.state)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            html,
            "<section class=\"stage\" data-stage=\"{}\" data-state=\"{}\"><h3>{}<span class=\"state {}\">{}</span></h3>\
             <p class=\"headline\">{}{}</p>",
            escape(&status.stage),
            escape(&state),
            escape(&status.stage),
            escape(&state),
            escape(state_name(status.state)),
            escape(&status.headline),
            status
                .since
                .map(|since| format!(" <small>(since {})</small>", escape(&since.to_string())))
                .unwrap_or_default(),
        );
        if let Some(unblock) = &status.unblock {
            let _ = write!(
                html,
                "<p class=\"unblock\">To lift the block: <code>{}</code></p>",
                escape(unblock)
            );
        }
        for item in &status.overrides {
            let scope = if item.alarms.is_empty() {
                "every alarm".to_string()
            } else {
                item.alarms.join(", ")
            };
            let _ = write!(
                html,
                "<p class=\"override\">Override <code>{}</code> of {} by {} until {}: {}</p>",
                escape(&item.id),
                escape(&scope),
                escape(&item.who),
                escape(&item.expires_at.to_string()),
                escape(&item.reason)
            );
        }
        if let Some(bake) = &status.bake
            && status.state == StageState::Baking
        {
            let _ = write!(
                html,
                "<p class=\"bake\">Bake: {}s of {} ({}%)</p>",
                bake.elapsed_seconds.unwrap_or(0),
                escape(bake.duration.as_deref().unwrap_or("?")),
                bake.percent_complete.unwrap_or(0)
            );
        }
        if let Some(canary) = &status.canary {
            let checks: Vec<String> = canary
                .checks
                .iter()
                .map(|check| {
                    format!(
                        "{} {} (p = {})",
                        check.name,
                        check.verdict,
                        check.p_value.map_or("n/a".to_string(), |p| format!("{p:.3e}"))
                    )
                })
                .collect();
            let _ = write!(
                html,
                "<p class=\"canary\">Canary, {}: {}. {}</p>",
                escape(&canary.at.to_string()),
                escape(&canary.decision),
                escape(&checks.join("; "))
            );
        }
        html.push_str(&chart(&view.rates));
        html.push_str("<table><colgroup><col class=\"at\"><col class=\"what\"><col class=\"gate\"><col class=\"decision\"><col class=\"reason\"><col class=\"evidence\"></colgroup><thead><tr><th>at</th><th>what</th><th>gate</th><th>decision</th><th>reason</th><th>evidence</th></tr></thead><tbody>");
        for record in view.trail.iter().rev() {
            let evidence = record.detail.to_string();
            let evidence: String = evidence.chars().take(300).collect();
            let _ = write!(
                html,
                "<tr class=\"record\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"evidence\">{}</td></tr>",
                escape(&record.at.to_string()),
                escape(&record.kind),
                escape(record.gate.as_deref().unwrap_or("")),
                escape(record.decision.as_deref().unwrap_or("")),
                escape(&record.reason),
                record
                    .who
                    .as_deref()
                    .map(|who| format!(" <small>(by {})</small>", escape(who)))
                    .unwrap_or_default(),
                escape(&evidence)
            );
        }
        html.push_str("</tbody></table></section>");
    }
    html.push_str("<script src=\"search.js\"></script></body></html>");
    html
}

/// The one-box's and the fleet's error rate at each bake poll, as an inline SVG.
fn chart(points: &[RatePoint]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let (width, height, pad) = (560.0, 160.0, 24.0);
    let top = points
        .iter()
        .map(|point| point.one_box.max(point.fleet))
        .fold(0.0_f64, f64::max)
        .max(0.001)
        * 1.2;
    let count = points.len().max(2) as f64 - 1.0;
    let coordinates = |pick: fn(&RatePoint) -> f64| -> String {
        points
            .iter()
            .enumerate()
            .map(|(index, point)| {
                let x = pad + (width - 2.0 * pad) * index as f64 / count;
                let y = height - pad - (height - 2.0 * pad) * pick(point) / top;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let last = points
        .last()
        .map(|point| (point.one_box * 100.0, point.fleet * 100.0))
        .unwrap_or_default();
    format!(
        "<figure><svg class=\"error-rates\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title>error rate: one-box against fleet, at each bake poll</title>\
         <polyline class=\"one-box\" fill=\"none\" stroke=\"#cf222e\" stroke-width=\"2\" points=\"{}\"/>\
         <polyline class=\"fleet\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"{}\"/>{}\
         <text x=\"{pad}\" y=\"16\" font-size=\"12\">max {:.2}%</text></svg>\
         <figcaption>Error rate since the bake began: one-box (red) {:.2}%, fleet (blue) {:.2}% at the last of {} polls.</figcaption></figure>",
        coordinates(|point| point.one_box),
        coordinates(|point| point.fleet),
        dots(&coordinates(|point| point.one_box), "#cf222e") + &dots(&coordinates(|point| point.fleet), "#0969da"),
        top * 100.0,
        last.0,
        last.1,
        points.len()
    )
}

/// A dot at each point, so one poll shows too.
fn dots(points: &str, colour: &str) -> String {
    points
        .split(' ')
        .filter_map(|point| point.split_once(','))
        .map(|(x, y)| format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>"))
        .collect()
}

pub async fn run(args: &DashboardArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    if let Some(pipeline) = &args.pipeline {
        check_name("--pipeline", pipeline)?;
    }
    let store = store(aws, &args.table).await?;
    if let Some(dir) = &args.out {
        let now = Timestamp::now();
        let views = collect(&store, args.pipeline.as_deref(), now).await?;
        std::fs::create_dir_all(dir).map_err(|error| format!("--out {}: {error}", dir.display()))?;
        let path = dir.join("index.html");
        std::fs::write(&path, page(&views, now)).map_err(|error| format!("--out {}: {error}", path.display()))?;
        let script = dir.join("search.js");
        std::fs::write(&script, SEARCH).map_err(|error| format!("--out {}: {error}", script.display()))?;
        return Ok(format!(
            "wrote {} and search.js ({} stages)",
            path.display(),
            views.len()
        ));
    }
    let address = args.serve.as_deref().unwrap_or("127.0.0.1:8080");
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("--serve {address}: {error}"))?;
    let bound = listener
        .local_addr()
        .map_err(|error| format!("--serve {address}: {error}"))?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "warning: serving on {bound}, beyond this machine: anyone who reaches it reads the audit trail with your credentials"
        );
    }
    println!("serving the dashboard on http://{bound}/");
    let served = std::sync::Arc::new(Served {
        store,
        pipeline: args.pipeline.clone(),
        hosts: allowed_hosts(bound),
        cached: tokio::sync::Mutex::new(None),
    });
    loop {
        let (stream, _) = listener.accept().await.map_err(|error| format!("--serve: {error}"))?;
        // Each connection on its own, with a deadline: a slow or idle client holds no one else.
        let served = std::sync::Arc::clone(&served);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), served.answer(stream)).await;
        });
    }
}

/// What `--serve` answers from.
struct Served {
    store: handsoff::ports::store::DynamoStore,
    pipeline: Option<String>,
    /// The `Host` values this server answers: its own address, and localhost at its port (a page
    /// elsewhere that rebinds its name to 127.0.0.1 sends its own name, and is refused).
    hosts: Vec<String>,
    /// The page and when it was read: at most one read of the table every 5 seconds, however
    /// often it is asked for.
    cached: tokio::sync::Mutex<Option<(std::time::Instant, String)>>,
}

fn allowed_hosts(bound: std::net::SocketAddr) -> Vec<String> {
    let port = bound.port();
    vec![
        bound.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ]
}

impl Served {
    async fn answer(&self, mut stream: tokio::net::TcpStream) {
        // One request per connection, its head only (at most 8 KiB).
        let mut head = vec![0u8; 8192];
        let read = stream.read(&mut head).await.unwrap_or(0);
        let request = String::from_utf8_lossy(&head[..read]);
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let host = request
            .lines()
            .find_map(|line| {
                line.split_once(':')
                    .filter(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
            })
            .map(|(_, value)| value.trim().to_string());
        let (status, kind, body) = match (host, path) {
            (Some(host), _) if !self.hosts.contains(&host) => (
                "421 Misdirected Request",
                "text/plain",
                "this dashboard answers to its own address only".to_string(),
            ),
            (None, _) => ("400 Bad Request", "text/plain", "no Host header".to_string()),
            (_, "/" | "/index.html") => match self.page().await {
                Ok(page) => ("200 OK", "text/html; charset=utf-8", page),
                Err(error) => (
                    "503 Service Unavailable",
                    "text/html; charset=utf-8",
                    format!(
                        "<!doctype html><p>The table could not be read: {}</p>",
                        escape(&error.to_string())
                    ),
                ),
            },
            (_, "/search.js") => ("200 OK", "text/javascript; charset=utf-8", SEARCH.to_string()),
            _ => ("404 Not Found", "text/plain", "not found".to_string()),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
    }

    async fn page(&self) -> Result<String, crate::error::CliError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, page)) = cached.as_ref()
            && at.elapsed() < std::time::Duration::from_secs(5)
        {
            return Ok(page.clone());
        }
        let now = Timestamp::now();
        let page = page(&collect(&self.store, self.pipeline.as_deref(), now).await?, now);
        *cached = Some((std::time::Instant::now(), page.clone()));
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn only_its_own_address_is_answered() {
        let hosts = super::allowed_hosts("127.0.0.1:8080".parse().unwrap());
        assert!(hosts.contains(&"localhost:8080".to_string()) && hosts.contains(&"127.0.0.1:8080".to_string()));
        assert!(!hosts.contains(&"evil.example:8080".to_string()));
    }

    #[test]
    fn text_from_the_table_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
        );
    }
}
