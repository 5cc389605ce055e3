//! Test harness: runs a real function binary on the real Lambda runtime protocol.
//!
//! [`LocalRuntime`] is a Lambda Runtime API on 127.0.0.1 (the interface every Lambda custom
//! runtime polls) that hands out queued events and records each response or error. The same
//! port also records the CodePipeline job results the function sends through its real
//! aws-sdk client (`AWS_ENDPOINT_URL` points at it): no emulator serves `PutJobSuccessResult`.
//! Everything is torn down on drop, even when a test fails.

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use http1::{read_request, respond};

pub mod event_tap;
pub mod http1;
pub mod lambda_router;
pub mod local_stack;
pub mod managed_policies;
pub mod moto;
pub mod operator;
pub mod release;
pub mod release_run;
pub mod scenarios;
pub mod seeded_rng;
pub mod target_server;
pub mod temp_dir;
pub use lambda_router::{Answer, Fault, MotoWithLambdas};
pub use local_stack::LocalStack;
pub use moto::Moto;
pub use operator::{Said, handsoff_command, run_handsoff};
pub use seeded_rng::SeededRng;
pub use target_server::TargetServer;
pub use temp_dir::TempDir;

/// What the function sent back for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Response(Value),
    Error { error_type: String, body: Value },
}

/// One AWS API call the function made: `X-Amz-Target` and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsCall {
    pub target: String,
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// Each event's JSON text, as the runtime API hands it over.
    events: VecDeque<(String, String)>,
    replies: Vec<(String, Reply)>,
    aws_calls: Vec<AwsCall>,
    raw_requests: Vec<String>,
    first_poll: Option<Instant>,
    /// How long each invocation may run (the deadline header); 30 s unless set.
    timeout: Option<Duration>,
    /// Answers to JSON-protocol AWS calls, by `X-Amz-Target` operation (e.g. `GetJobDetails`);
    /// every other call gets `{}`.
    aws_answers: std::collections::HashMap<String, Value>,
}

pub struct LocalRuntime {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    child: Option<Child>,
    output: Arc<Mutex<Vec<u8>>>,
    spawned_at: Option<Instant>,
    extra_env: Vec<(String, String)>,
}

fn serve(stream: TcpStream, state: Arc<Mutex<State>>, stop: Arc<AtomicBool>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut stream = stream;
    while let Some(request) = read_request(&mut reader) {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if let Ok(mut state) = state.lock() {
            state
                .raw_requests
                .push(String::from_utf8_lossy(&request.body).into_owned());
        }
        let result = if request.path.ends_with("/runtime/invocation/next") {
            if let Ok(mut state) = state.lock() {
                state.first_poll.get_or_insert_with(Instant::now);
            }
            // Long poll, like the real API: wait for an event or for the harness to stop.
            loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let next = state
                    .lock()
                    .ok()
                    .and_then(|mut state| Some((state.events.pop_front()?, state.timeout)));
                if let Some(((id, event), timeout)) = next {
                    let deadline = (std::time::SystemTime::now() + timeout.unwrap_or(Duration::from_secs(30)))
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|since| since.as_millis())
                        .unwrap_or(0);
                    let headers = [
                        ("lambda-runtime-aws-request-id", id.clone()),
                        ("lambda-runtime-deadline-ms", deadline.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:test".to_string(),
                        ),
                        ("content-type", "application/json".to_string()),
                        (
                            "lambda-runtime-trace-id",
                            format!(
                                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Request={id}"
                            ),
                        ),
                    ];
                    break respond(&mut stream, "200 OK", &headers, event.as_bytes());
                }
                thread::sleep(Duration::from_millis(10));
            }
        } else if request.path.contains("/runtime/invocation/") {
            let id = request.path.split('/').nth(4).unwrap_or_default().to_string();
            let reply = if request.path.ends_with("/error") {
                // Step Functions matches `Retry`/`Catch` on the body's errorType.
                let error_type = body["errorType"].as_str().unwrap_or_default().to_string();
                Reply::Error { error_type, body }
            } else {
                Reply::Response(body)
            };
            if let Ok(mut state) = state.lock() {
                state.replies.push((id, reply));
            }
            respond(&mut stream, "202 Accepted", &[], b"{}")
        } else if request.method == "POST" && request.header("x-amz-target").is_some() {
            let target = request.header("x-amz-target").unwrap_or_default().to_string();
            let operation = target.rsplit('.').next().unwrap_or_default().to_string();
            let answer = state.lock().ok().and_then(|mut state| {
                state.aws_calls.push(AwsCall { target, body });
                state.aws_answers.get(&operation).cloned()
            });
            respond(
                &mut stream,
                "200 OK",
                &[("content-type", "application/x-amz-json-1.1".to_string())],
                answer.unwrap_or_else(|| serde_json::json!({})).to_string().as_bytes(),
            )
        } else {
            respond(&mut stream, "404 Not Found", &[], b"{}")
        };
        if result.is_err() {
            return;
        }
    }
}

impl LocalRuntime {
    /// Starts the API on 127.0.0.1, on a free port.
    pub fn start() -> LocalRuntime {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stop) = (Arc::clone(&state), Arc::clone(&stop));
        thread::spawn(move || {
            while !accept_stop.load(Ordering::SeqCst) {
                // Blocking accept: a request is served the moment it arrives (cold starts are
                // timed by it); Drop wakes the loop with a connection of its own.
                if let Ok((stream, _)) = listener.accept() {
                    let (state, stop) = (Arc::clone(&accept_state), Arc::clone(&accept_stop));
                    thread::spawn(move || serve(stream, state, stop));
                }
            }
        });
        LocalRuntime {
            port,
            state,
            stop,
            child: None,
            output: Arc::new(Mutex::new(Vec::new())),
            spawned_at: None,
            extra_env: Vec::new(),
        }
    }

    /// Answers the function's JSON-protocol AWS `operation` (e.g. `GetJobDetails`) with `answer`.
    pub fn answer_aws(&self, operation: &str, answer: Value) {
        self.state
            .lock()
            .expect("state")
            .aws_answers
            .insert(operation.to_string(), answer);
    }

    /// Queues an event for the function, under a request id.
    pub fn push_event(&self, request_id: &str, event: Value) {
        self.push_raw_event(request_id, &event.to_string());
    }

    /// Queues an event's text as it is (e.g. with a key given twice, which a `Value` cannot hold).
    pub fn push_raw_event(&self, request_id: &str, text: &str) {
        self.state
            .lock()
            .expect("state")
            .events
            .push_back((request_id.to_string(), text.to_string()));
    }

    /// Starts the function binary against this API, with a clean environment: test
    /// credentials, a region, and every AWS endpoint pointed here.
    pub fn spawn(&mut self, binary: &Path, function_name: &str) {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let spawned_at = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST")
            .env("AWS_SECRET_ACCESS_KEY", "local-test-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("RUST_LOG", "info")
            .envs(self.extra_env.iter().map(|(key, value)| (key.as_str(), value.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the function binary");
        for pipe in [
            child.stdout.take().map(|out| Box::new(out) as Box<dyn Read + Send>),
            child.stderr.take().map(|err| Box::new(err) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&self.output);
            thread::spawn(move || {
                let mut pipe = pipe;
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
        self.spawned_at = Some(spawned_at);
        self.child = Some(child);
    }

    /// Sets how long each invocation may run from now on (the runtime's deadline header).
    pub fn set_timeout(&self, timeout: Duration) {
        self.state.lock().expect("state").timeout = Some(timeout);
    }

    /// Sets an environment variable for the next `spawn`.
    pub fn env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    /// Time from process start to its first request for work (the cold start), waiting at most
    /// `within`.
    pub fn wait_for_first_poll(&self, within: Duration) -> Option<Duration> {
        let spawned = self.spawned_at?;
        let started = Instant::now();
        loop {
            if let Some(first) = self.state.lock().ok().and_then(|state| state.first_poll) {
                return Some(first.duration_since(spawned));
            }
            if started.elapsed() > within {
                return None;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// Peak resident memory of the function process so far, in KiB (Linux `VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Waits (bounded) until `count` replies arrived; returns them in arrival order.
    pub fn wait_for_replies(&self, count: usize, within: Duration) -> Vec<(String, Reply)> {
        let started = Instant::now();
        loop {
            let replies = self.state.lock().expect("state").replies.clone();
            if replies.len() >= count || started.elapsed() > within {
                return replies;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn aws_calls(&self) -> Vec<AwsCall> {
        self.state.lock().expect("state").aws_calls.clone()
    }

    /// Everything the function printed (stdout and stderr).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output")).into_owned()
    }
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs a function binary on the runtime API and checks that a bad policy and a non-object
/// event are typed errors (`PolicyInvalid` naming the field, `InvalidInput`), never a crash.
pub fn assert_rejects_bad_input(binary: &Path, function: &str) {
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.push_event("r1", serde_json::json!({"policy": {"windowz": {}}}));
    runtime.push_event("r2", serde_json::json!("not an object"));
    // A key given twice: the runtime's own parse would keep the second and say nothing.
    runtime.push_raw_event(
        "r3",
        r#"{"policy": {"windows": {"timezone": "UTC"}}, "context": {"stage": "Prod", "stage": "Beta"}}"#,
    );
    runtime.spawn(binary, function);
    let replies = runtime.wait_for_replies(3, Duration::from_secs(60));
    assert_eq!(replies.len(), 3, "{replies:?}\n{}", runtime.output());
    let Reply::Error { error_type, body } = &replies[2].1 else {
        panic!("{:?}", replies[2])
    };
    assert_eq!(error_type, "InvalidInput");
    assert_eq!(
        body["errorMessage"],
        "invalid input: payload: key `context.stage` appears twice; give each key once"
    );
    let Reply::Error { error_type, body } = &replies[0].1 else {
        panic!("{:?}", replies[0])
    };
    assert_eq!(error_type, "PolicyInvalid");
    assert!(
        body["errorMessage"].as_str().unwrap_or_default().contains("windowz"),
        "{body}"
    );
    let Reply::Error { error_type, .. } = &replies[1].1 else {
        panic!("{:?}", replies[1])
    };
    assert_eq!(error_type, "InvalidInput");
}
