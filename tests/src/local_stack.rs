//! The local stack: everything the safety net needs, on 127.0.0.1, started and torn down by
//! the code that uses it (tests, the demo), nothing by hand.
//!
//! - moto_server (DynamoDB, CloudWatch through the CBOR bridge, Lambda aliases, IAM, Step
//!   Functions with execution switched on);
//! - `cargo lambda watch --only-lambda-apis`: the Lambda runtime APIs, with the six function
//!   binaries this workspace built running against them (the real runtime protocol, no rebuild);
//! - a router on moto's `MOTO_PORT`: Lambda `Invoke` requests (from Step Functions' Task states
//!   and from anyone else) go to `cargo lambda watch`, everything else to moto. Function names in
//!   the state machines are plain names, so the router needs no mapping.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lambda_router::{Answer, MotoWithLambdas};

pub const FUNCTIONS: [&str; 6] = [
    "time-window-gate",
    "alarm-blocker",
    "bake-time-waiter",
    "canary-evaluator",
    "rollback-trigger",
    "validation-test-runner",
];

pub const TABLE: &str = "handsoff";

/// The region every single-region test and scenario uses.
pub const PRIMARY_REGION: &str = "us-east-1";

/// How the router names a function of `region` to its responders: its own name in the primary
/// region (what the single-region tests script), `name@region` elsewhere.
pub fn regional_name(function: &str, region: &str) -> String {
    if region == PRIMARY_REGION {
        function.to_string()
    } else {
        format!("{function}@{region}")
    }
}

/// Starts `cargo lambda watch` (the Lambda runtime APIs only) on a free port; waits until it
/// answers.
fn start_watch(output: &Arc<Mutex<Vec<u8>>>) -> (Child, u16) {
    let watch_port = free_port();
    let mut watch = Command::new(cargo_lambda())
        .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P"])
        .arg(watch_port.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cargo lambda watch");
    collect(&mut watch, output);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", watch_port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cargo lambda watch did not start"
        );
        thread::sleep(Duration::from_millis(50));
    }
    (watch, watch_port)
}

pub struct LocalStack {
    pub aws: MotoWithLambdas,
    watches: Vec<Child>,
    functions: Vec<Child>,
    /// Everything the functions and cargo lambda watch printed.
    output: Arc<Mutex<Vec<u8>>>,
}

/// Where this workspace's binaries are: next to the running executable (a test in
/// `target/debug/deps/`, or a binary in `target/debug/`).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable");
    let dir = exe.parent().expect("its folder").to_path_buf();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().expect("target/debug").to_path_buf()
    } else {
        dir
    }
}

/// cargo-lambda, installed into `.venv/` by `scripts/python-tools`.
pub fn cargo_lambda() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/cargo-lambda");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test (it installs cargo-lambda into .venv/)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn collect(child: &mut Child, output: &Arc<Mutex<Vec<u8>>>) {
    let pipes: Vec<Box<dyn Read + Send>> = [
        child.stdout.take().map(|out| Box::new(out) as Box<dyn Read + Send>),
        child.stderr.take().map(|err| Box::new(err) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    for mut pipe in pipes {
        let output = Arc::clone(output);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if let Ok(mut output) = output.lock() {
                    output.extend_from_slice(&buffer[..read]);
                }
            }
        });
    }
}

/// Invokes a function through cargo lambda watch and answers as Lambda's Invoke API would.
fn invoke(watch_port: u16, function: &str, payload: &Value) -> Answer {
    let body = payload.to_string();
    let request = format!(
        "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: 127.0.0.1:{watch_port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", watch_port)) else {
        return Answer::error("Lambda.ServiceException", "cargo lambda watch is not answering");
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(900)));
    if stream.write_all(request.as_bytes()).is_err() {
        return Answer::error("Lambda.ServiceException", "cargo lambda watch closed the connection");
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    // The body may be chunked; the JSON object is all there is.
    let json_text = body
        .find('{')
        .map(|start| &body[start..=body.rfind('}').unwrap_or(start)])
        .unwrap_or("");
    let value: Value = serde_json::from_str(json_text).unwrap_or(Value::Null);
    match (status, value.get("errorType")) {
        (200, _) => Answer::Ok(value),
        (_, Some(error_type)) => Answer::Error {
            error_type: error_type.as_str().unwrap_or("Unhandled").to_string(),
            message: value["errorMessage"].as_str().unwrap_or_default().to_string(),
        },
        _ => Answer::error(
            "Lambda.ServiceException",
            &format!("cargo lambda watch answered {status}: {body}"),
        ),
    }
}

impl LocalStack {
    /// Starts everything, with the functions built by this workspace (`binaries_dir()`).
    pub fn start() -> LocalStack {
        LocalStack::start_with(&binaries_dir())
    }

    pub fn start_with(binaries: &Path) -> LocalStack {
        LocalStack::start_in(binaries, &[PRIMARY_REGION])
    }

    /// Everything, with the six functions running in each of `regions` (the first is
    /// [`PRIMARY_REGION`]): a function of another region is invoked by its ARN, whose region the
    /// router reads, and talks to that region of moto.
    pub fn start_in_regions(regions: &[&str]) -> LocalStack {
        LocalStack::start_in(&binaries_dir(), regions)
    }

    fn start_in(binaries: &Path, regions: &[&str]) -> LocalStack {
        for function in FUNCTIONS {
            assert!(
                binaries.join(function).exists(),
                "{} is missing: build the functions first (cargo build --bins, or scripts/test)",
                binaries.join(function).display()
            );
        }
        let aws = MotoWithLambdas::start();
        let output = Arc::new(Mutex::new(Vec::new()));
        // One cargo lambda watch per region: it serves the workspace's binaries by their own
        // names, so a region's functions get a watch of their own.
        let mut watches = Vec::new();
        let mut ports = std::collections::BTreeMap::new();
        for region in regions {
            let (watch, port) = start_watch(&output);
            watches.push(watch);
            ports.insert(region.to_string(), port);
        }
        let router = format!("http://127.0.0.1:{}", aws.router_port());
        let functions = regions
            .iter()
            .flat_map(|region| FUNCTIONS.iter().map(move |function| (*region, *function)))
            .map(|(region, function)| {
                let watch_port = ports[region];
                let mut child = Command::new(binaries.join(function))
                    .env_clear()
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("http://127.0.0.1:{watch_port}/.rt/{function}"),
                    )
                    .env("AWS_LAMBDA_FUNCTION_NAME", function)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                    .env("AWS_REGION", region)
                    .env("AWS_ACCESS_KEY_ID", "test")
                    .env("AWS_SECRET_ACCESS_KEY", "test")
                    .env("AWS_EC2_METADATA_DISABLED", "true")
                    .env("AWS_ENDPOINT_URL", &router)
                    .env("HANDSOFF_TABLE", TABLE)
                    // The validation suites' targets are test servers on loopback, which the
                    // runner refuses unless the stack allows it (as a VPC's range would be).
                    .env("HANDSOFF_ALLOWED_NETWORKS", "127.0.0.0/8")
                    .env("RUST_LOG", "info")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start a function binary");
                collect(&mut child, &output);
                child
            })
            .collect();
        aws.respond_to_all(move |function, payload| {
            let (name, region) = function.split_once('@').unwrap_or((function, PRIMARY_REGION));
            match ports.get(region) {
                Some(port) => invoke(*port, name, payload),
                None => Answer::error(
                    "ResourceNotFoundException",
                    &format!("no function {name} in {region}: the local stack runs none there"),
                ),
            }
        });
        LocalStack {
            aws,
            watches,
            functions,
            output,
        }
    }

    /// The one endpoint for every AWS call (the router).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.aws.router_port())
    }

    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::moto::sdk_config_for(&self.endpoint())
    }

    /// What the functions and cargo lambda watch printed so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().map(|output| output.clone()).unwrap_or_default()).into_owned()
    }

    /// Invokes a function the way a client would (Lambda's Invoke API, through the router).
    pub fn invoke(&self, function: &str, payload: &Value) -> Answer {
        invoke_through(self.aws.router_port(), function, payload)
    }
}

/// Lambda Invoke through the router, as an SDK would send it.
fn invoke_through(port: u16, function: &str, payload: &Value) -> Answer {
    let body = payload.to_string();
    let request = format!(
        "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the router");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if head.to_ascii_lowercase().contains("x-amz-function-error") {
        Answer::Error {
            error_type: value["errorType"].as_str().unwrap_or_default().to_string(),
            message: value["errorMessage"].as_str().unwrap_or_default().to_string(),
        }
    } else {
        Answer::Ok(value)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        for child in self.functions.iter_mut().chain(self.watches.iter_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
