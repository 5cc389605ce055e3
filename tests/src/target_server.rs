//! An HTTP server for validation tests to test against, on 127.0.0.1: endpoints that answer
//! well, slowly, with the wrong status, with a body that is not JSON, never, or only on the
//! third try. It counts requests per path and keeps each request's headers and body.
//! Torn down on drop (the accept loop ends; a hanging request ends when its client gives up).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::json;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Default)]
struct State {
    seen: Vec<SeenRequest>,
    /// Bytes of `/huge`'s body written before the client stopped reading.
    huge_sent: usize,
}

/// The size `/huge` says its body has: more than a small Lambda's memory.
pub const HUGE_BODY: usize = 300 << 20;

pub struct TargetServer {
    port: u16,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
}

impl TargetServer {
    pub fn start() -> TargetServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State::default()));
        let (thread_stop, thread_state) = (stop.clone(), state.clone());
        thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let state = thread_state.clone();
                        thread::spawn(move || serve(stream, &state));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TargetServer { port, stop, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How much of `/huge`'s body was written before the client closed the connection.
    pub fn huge_sent(&self) -> usize {
        self.state.lock().unwrap().huge_sent
    }

    /// Requests seen on `path` (without the query).
    pub fn requests(&self, path: &str) -> Vec<SeenRequest> {
        let state = self.state.lock().unwrap();
        state.seen.iter().filter(|seen| seen.path == path).cloned().collect()
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_nonblocking(false);
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).into_owned();
    let seen = SeenRequest {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        body: body.clone(),
    };
    let count = {
        let mut state = state.lock().unwrap();
        state.seen.push(seen);
        state.seen.iter().filter(|seen| seen.path == path).count()
    };
    let good = json!({"status": "ok", "version": "1.4.2", "items": [{"id": 7}]}).to_string();
    let (status, content_type, body) = match path.as_str() {
        "/good" => (200, "application/json", good),
        "/slow" => {
            thread::sleep(Duration::from_millis(400));
            (200, "application/json", good)
        }
        "/wrong-status" => (
            503,
            "application/json",
            json!({"message": "Service Unavailable"}).to_string(),
        ),
        "/bad-json" => (200, "application/json", "<html>upstream error</html>".to_string()),
        "/huge" => {
            // 300 MB, written until the client stops reading and closes the connection.
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {HUGE_BODY}\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 << 10];
            let mut sent = 0;
            while sent < HUGE_BODY && stream.write_all(&chunk).is_ok() {
                sent += chunk.len();
                state.lock().unwrap().huge_sent = sent;
            }
            return;
        }
        "/hang" => {
            // Never answers: waits until the client gives up and closes.
            let mut sink = [0u8; 64];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
        "/flaky" if count < 3 => (500, "text/plain", "warming up".to_string()),
        "/flaky" => (200, "application/json", good),
        "/orders" if method == "POST" => (
            201,
            "application/json",
            json!({"id": "ord-1", "received": body}).to_string(),
        ),
        "/orders" => (405, "text/plain", "POST only".to_string()),
        "/echo" => (
            200,
            "application/json",
            json!({
                "method": method,
                "target": target,
                "headers": headers.iter().map(|(name, value)| format!("{name}: {value}")).collect::<Vec<_>>(),
                "body": body,
            })
            .to_string(),
        ),
        _ => (404, "text/plain", "not found".to_string()),
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\nx-served-by: target\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}
