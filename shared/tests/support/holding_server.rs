//! An HTTP endpoint that never answers one AWS operation: the hang no emulator or
//! aws-smithy-mocks produces. Every other request gets `200 {}` (an empty JSON-protocol result),
//! and every request is recorded, so a test can read what was sent.

use std::io::BufReader;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use handsoff_e2e::http1::{read_request, respond};

/// One request as received: its `X-Amz-Target` operation and JSON body.
#[derive(Debug, Clone)]
pub struct Received {
    pub operation: String,
    pub body: serde_json::Value,
}

/// Holds every request for `held` open without an answer; closes them all on drop.
pub struct HoldingServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl HoldingServer {
    pub fn start(held: &'static str) -> HoldingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = HoldingServer {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            open: Arc::default(),
            stop: Arc::default(),
        };
        let (received, open, stop) = (server.received.clone(), server.open.clone(), server.stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                open.lock().unwrap().push(stream.try_clone().unwrap());
                let received = received.clone();
                thread::spawn(move || serve(stream, held, &received));
            }
        });
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The operations received, in order (`""` for a request that names none).
    pub fn operations(&self) -> Vec<String> {
        self.received().into_iter().map(|request| request.operation).collect()
    }
}

/// Reads one request; answers it unless it is for `held`, then closes the connection.
fn serve(stream: TcpStream, held: &str, received: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().unwrap();
    let Some(request) = read_request(&mut BufReader::new(stream)) else {
        return;
    };
    // `CodePipeline_20150709.GetJobDetails` → `GetJobDetails`
    let operation = request
        .header("x-amz-target")
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let hold = operation == held;
    received.lock().unwrap().push(Received {
        operation,
        body: serde_json::from_slice(&request.body).unwrap_or_default(),
    });
    if hold {
        return; // the stream stays open in `HoldingServer::open` until drop
    }
    let headers = [
        ("content-type", "application/x-amz-json-1.1".to_string()),
        ("connection", "close".to_string()),
    ];
    let _ = respond(&mut writer, "200 OK", &headers, b"{}");
}

impl Drop for HoldingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for stream in self.open.lock().unwrap().iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
