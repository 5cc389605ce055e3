//! Lambda for moto's Step Functions interpreter. moto's Task states invoke Lambda through
//! `localhost:$MOTO_PORT`, and moto's own Lambda would need Docker; this router sits on that
//! port: `Invoke` requests go to a handler the test gives (scripted answers, or a real binary),
//! everything else is passed through to moto unchanged. Every invocation is recorded.
//!
//! Over 400 lines: one small HTTP server (moto's side and Lambda's side of one port) and the
//! faults it can inject; split, each half would need the other's framing.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Moto;

/// What a stubbed function answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Ok(Value),
    /// A function error, as the Lambda runtime reports a typed error.
    Error {
        error_type: String,
        message: String,
    },
}

impl Answer {
    pub fn error(error_type: &str, message: &str) -> Answer {
        Answer::Error {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// A fault an AWS call can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The service's throttling error, as every retry sees it.
    Throttled,
    /// HTTP 500 with the service's internal error.
    ServerError,
    /// The caller lacks the permission.
    AccessDenied,
    /// No answer at all until the client gives up.
    Hang,
    /// HTTP 200 with a body that is not the protocol's.
    Malformed,
    /// HTTP 200 with a valid, empty answer: no items, no alarms, no results.
    Empty,
    /// `GetMetricData`: every query answered `PartialData`, with no next page.
    PartialData,
    /// `GetMetricData`: every query answered `Complete` with no datapoint (a misspelled metric).
    NoDatapoints,
}

impl Fault {
    /// The failures of a call.
    pub const ALL: [Fault; 5] = [
        Fault::Throttled,
        Fault::ServerError,
        Fault::AccessDenied,
        Fault::Hang,
        Fault::Malformed,
    ];

    /// Answers that arrive whole but say less than was asked, for a read `operation`.
    pub fn answers(operation: &str) -> &'static [Fault] {
        let read = ["Get", "Describe", "Query", "List", "Scan", "BatchGet"]
            .iter()
            .any(|verb| operation.starts_with(verb));
        match operation {
            "GetMetricData" => &[Fault::Empty, Fault::PartialData, Fault::NoDatapoints],
            _ if read => &[Fault::Empty],
            _ => &[],
        }
    }

    /// Whether this is an answer (a 200 that says less), not a failed call.
    pub fn is_answer(self) -> bool {
        matches!(self, Fault::Empty | Fault::PartialData | Fault::NoDatapoints)
    }
}

/// One invocation: the function's name (last part of its ARN) and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub function: String,
    pub payload: Value,
}

type Responder = Arc<dyn Fn(&Value) -> Answer + Send + Sync>;

#[derive(Default)]
struct Script {
    /// Answers per function, in order; the last one repeats.
    answers: HashMap<String, VecDeque<Answer>>,
    /// Functions that answer from their payload.
    responders: HashMap<String, Responder>,
    /// How every other function answers (the local stack: the real binaries).
    fallback: Option<Responder>,
    /// AWS operations that answer with a fault instead of reaching moto.
    faults: HashMap<String, Fault>,
    /// Every AWS operation that passed through (to moto or to a fault), in order.
    operations: Vec<String>,
    calls: Vec<Invocation>,
}

/// moto plus scripted Lambda functions, torn down on drop.
pub struct MotoWithLambdas {
    pub moto: Moto,
    router_port: u16,
    script: Arc<Mutex<Script>>,
    stop: Arc<AtomicBool>,
}

impl MotoWithLambdas {
    pub fn start() -> MotoWithLambdas {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let router_port = listener.local_addr().expect("address").port();
        let moto = Moto::start_with_callbacks_on(router_port);
        moto.execute_state_machines();
        let moto_port = moto.port;
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_script, thread_stop) = (script.clone(), stop.clone());
        thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let script = thread_script.clone();
                        thread::spawn(move || route(stream, moto_port, &script));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        MotoWithLambdas {
            moto,
            router_port,
            script,
            stop,
        }
    }

    /// The port of the router (moto's `MOTO_PORT`): AWS calls sent here reach moto, and Lambda
    /// invokes the functions.
    pub fn router_port(&self) -> u16 {
        self.router_port
    }

    /// Sets what `function` answers, call after call (the last answer repeats).
    pub fn script(&self, function: &str, answers: Vec<Answer>) {
        self.script
            .lock()
            .unwrap()
            .answers
            .insert(function.to_string(), answers.into());
    }

    /// Makes `function` answer each payload with `respond`.
    pub fn respond(&self, function: &str, respond: impl Fn(&Value) -> Answer + Send + Sync + 'static) {
        self.script
            .lock()
            .unwrap()
            .responders
            .insert(function.to_string(), Arc::new(respond));
    }

    /// Makes `operation` (e.g. `GetItem`, `DescribeAlarms`, `UpdateAlias`) meet `fault`.
    pub fn inject(&self, operation: &str, fault: Fault) {
        self.script.lock().unwrap().faults.insert(operation.to_string(), fault);
    }

    pub fn clear_faults(&self) {
        self.script.lock().unwrap().faults.clear();
    }

    /// The AWS operations seen since the last call, in order (Lambda invokes excluded).
    pub fn take_operations(&self) -> Vec<String> {
        std::mem::take(&mut self.script.lock().unwrap().operations)
    }

    /// Makes every function without a script or responder of its own answer with `respond`.
    pub fn respond_to_all(&self, respond: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static) {
        let respond = Arc::new(respond);
        self.script.lock().unwrap().fallback = Some(Arc::new(move |payload: &Value| {
            // The function's name travels in the payload wrapper below.
            respond(payload["function"].as_str().unwrap_or_default(), &payload["payload"])
        }));
    }

    pub fn calls(&self) -> Vec<Invocation> {
        self.script.lock().unwrap().calls.clone()
    }

    pub fn calls_to(&self, function: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|call| call.function == function)
            .map(|call| call.payload)
            .collect()
    }
}

impl Drop for MotoWithLambdas {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[index + 1..index + 3], 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(stream: TcpStream, moto_port: u16, script: &Mutex<Script>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut head = String::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let request_line = line.clone();
    let mut length = 0;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if !name.eq_ignore_ascii_case("connection") {
                headers.push(line.clone());
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let invoke = path.strip_prefix("/2015-03-31/functions/").and_then(|rest| {
        rest.split('/')
            .next()
            .map(str::to_string)
            .filter(|_| rest.contains("/invocations"))
    });
    let operation = operation_of(method, path, &headers, &body);
    let fault = {
        let mut script = script.lock().unwrap();
        script.operations.extend(operation.clone());
        operation
            .as_ref()
            .and_then(|operation| script.faults.get(operation).copied())
    };
    if let Some(fault) = fault {
        let cbor = path.starts_with("/service/");
        let rest = path.starts_with("/2015-03-31/") || path.starts_with("/2015-10-31/");
        answer_with_fault(stream, fault, cbor, rest, operation.as_deref().unwrap_or("?"), &body);
        return;
    }
    let mut stream = stream;
    if let (Some(function), "POST") = (invoke, method) {
        let function = percent_decode(&function);
        // `arn:aws:lambda:REGION:ACCOUNT:function:NAME`: a function of another region than the
        // primary is `NAME@REGION` to the responders (see local_stack::regional_name).
        let parts: Vec<&str> = function.split(':').collect();
        let function = match parts.as_slice() {
            ["arn", _, "lambda", region, _, "function", name, ..] => crate::local_stack::regional_name(name, region),
            _ => function.rsplit(':').next().unwrap_or(&function).to_string(),
        };
        let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (responder, fallback) = {
            let script = script.lock().unwrap();
            let scripted = script.answers.contains_key(&function);
            (
                script.responders.get(&function).cloned(),
                script.fallback.clone().filter(|_| !scripted),
            )
        };
        let answered = match (responder, fallback) {
            (Some(respond), _) => Some(respond(&payload)),
            (None, Some(fallback)) => Some(fallback(&json!({"function": function, "payload": payload}))),
            (None, None) => None,
        };
        let answer = {
            let mut script = script.lock().unwrap();
            script.calls.push(Invocation {
                function: function.clone(),
                payload,
            });
            if let Some(answer) = answered {
                answer
            } else {
                let queue = script.answers.entry(function.clone()).or_default();
                match queue.len() {
                    0 => Answer::error("NoStub", &format!("the test scripted no answer for {function}")),
                    1 => queue[0].clone(),
                    _ => queue.pop_front().unwrap(),
                }
            }
        };
        let (extra, body) = match answer {
            Answer::Ok(value) => (String::new(), value.to_string()),
            Answer::Error { error_type, message } => (
                "X-Amz-Function-Error: Unhandled\r\n".to_string(),
                json!({"errorType": error_type, "errorMessage": message}).to_string(),
            ),
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
        return;
    }
    // Everything else is moto's: pass it through, one request per connection.
    head.push_str(&request_line);
    for header in &headers {
        head.push_str(header);
    }
    head.push_str("Connection: close\r\n\r\n");
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", moto_port)) else {
        return;
    };
    if upstream.write_all(head.as_bytes()).is_err() || upstream.write_all(&body).is_err() {
        return;
    }
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response);
    let _ = stream.write_all(&response);
}

/// The AWS operation of a request: from `X-Amz-Target` (JSON protocols), the rpc-v2-cbor path,
/// Lambda's REST paths, or a query-protocol `Action`.
fn operation_of(method: &str, path: &str, headers: &[String], body: &[u8]) -> Option<String> {
    for header in headers {
        if let Some((name, value)) = header.trim_end().split_once(':')
            && name.eq_ignore_ascii_case("x-amz-target")
        {
            return value.trim().rsplit('.').next().map(str::to_string);
        }
    }
    if let Some(rest) = path.strip_prefix("/service/") {
        return rest.rsplit('/').next().map(str::to_string);
    }
    if path.starts_with("/2015-03-31/functions/") {
        let path = path.split('?').next().unwrap_or(path);
        return Some(
            match (method, path.contains("/aliases/"), path.ends_with("/invocations")) {
                (_, _, true) => "Invoke",
                ("GET", true, _) => "GetAlias",
                ("PUT", true, _) => "UpdateAlias",
                _ => return None,
            }
            .to_string(),
        );
    }
    let body = String::from_utf8_lossy(body);
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
}

/// A CBOR map of text to text (the rpc-v2-cbor error body).
fn cbor_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    cbor_head(&mut out, 5, pairs.len());
    for (key, value) in pairs {
        cbor_text(&mut out, key);
        cbor_text(&mut out, value);
    }
    out
}

/// The query ids of an rpc-v2-cbor `GetMetricData` request: each `Id` key's text value.
fn cbor_query_ids(body: &[u8]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut at = 0;
    while let Some(found) = body[at..].windows(3).position(|window| window == [0x62, b'I', b'd']) {
        let start = at + found + 3;
        let (length, skip) = match body.get(start) {
            Some(&head) if (0x60..0x78).contains(&head) => (usize::from(head - 0x60), 1),
            Some(0x78) => (usize::from(body.get(start + 1).copied().unwrap_or(0)), 2),
            _ => (0, 1),
        };
        if let Some(text) = body.get(start + skip..start + skip + length) {
            ids.push(String::from_utf8_lossy(text).into_owned());
        }
        at = start + skip + length;
    }
    ids
}

/// A CBOR item's head: major type and length (up to 65,535).
fn cbor_head(out: &mut Vec<u8>, major: u8, length: usize) {
    if length < 24 {
        out.push(major << 5 | length as u8);
    } else if length < 256 {
        out.extend([major << 5 | 24, length as u8]);
    } else {
        out.push(major << 5 | 25);
        out.extend((length as u16).to_be_bytes());
    }
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len());
    out.extend(text.as_bytes());
}

/// A `GetMetricData` answer: one result per query id with `status`, no datapoints.
fn metric_results(ids: &[String], status: &str) -> Vec<u8> {
    let mut out = Vec::new();
    cbor_head(&mut out, 5, 1);
    cbor_text(&mut out, "MetricDataResults");
    cbor_head(&mut out, 4, ids.len());
    for id in ids {
        cbor_head(&mut out, 5, 2);
        cbor_text(&mut out, "Id");
        cbor_text(&mut out, id);
        cbor_text(&mut out, "StatusCode");
        cbor_text(&mut out, status);
    }
    out
}

fn answer_with_fault(mut stream: TcpStream, fault: Fault, cbor: bool, rest: bool, operation: &str, request: &[u8]) {
    if fault.is_answer() {
        let body = match (fault, cbor) {
            (Fault::PartialData, true) => metric_results(&cbor_query_ids(request), "PartialData"),
            (Fault::NoDatapoints, true) => metric_results(&cbor_query_ids(request), "Complete"),
            (_, true) => vec![0xA0],
            (_, false) => b"{}".to_vec(),
        };
        let (content_type, extra) = if cbor {
            ("application/cbor", "smithy-protocol: rpc-v2-cbor\r\n")
        } else if rest {
            ("application/json", "")
        } else {
            ("application/x-amz-json-1.0", "")
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
        return;
    }
    let (status, code, message) = match fault {
        Fault::Throttled if rest => (
            "429 Too Many Requests",
            "TooManyRequestsException",
            "Rate exceeded".to_string(),
        ),
        Fault::Throttled => ("400 Bad Request", "ThrottlingException", "Rate exceeded".to_string()),
        Fault::ServerError => (
            "500 Internal Server Error",
            "ServiceUnavailable",
            "We encountered an internal error".to_string(),
        ),
        Fault::AccessDenied if rest => (
            "403 Forbidden",
            "AccessDeniedException",
            format!("User: arn:aws:sts::123456789012:assumed-role/gate is not authorized to perform: {operation}"),
        ),
        Fault::AccessDenied => (
            "400 Bad Request",
            "AccessDeniedException",
            format!("User: arn:aws:sts::123456789012:assumed-role/gate is not authorized to perform: {operation}"),
        ),
        Fault::Hang => {
            // Hold the connection without a word until the client gives up and closes it.
            let mut sink = [0u8; 256];
            while matches!(stream.read(&mut sink), Ok(read) if read > 0) {}
            return;
        }
        Fault::Malformed | Fault::Empty | Fault::PartialData | Fault::NoDatapoints => ("200 OK", "", String::new()),
    };
    let (content_type, body, extra) = if fault == Fault::Malformed {
        let body = if cbor {
            vec![0xFF, 0x00, 0x13]
        } else {
            b"<html>not the protocol</html>".to_vec()
        };
        ("text/html", body, String::new())
    } else if cbor {
        (
            "application/cbor",
            cbor_map(&[("__type", code), ("message", &message)]),
            "smithy-protocol: rpc-v2-cbor\r\n".to_string(),
        )
    } else if rest {
        (
            "application/json",
            json!({"Type": "User", "message": message}).to_string().into_bytes(),
            format!("x-amzn-errortype: {code}\r\n"),
        )
    } else {
        (
            "application/x-amz-json-1.0",
            json!({"__type": code, "message": message}).to_string().into_bytes(),
            String::new(),
        )
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}
