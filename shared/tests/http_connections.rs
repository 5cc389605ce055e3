//! The functions' HTTP client (`handsoff::lazy_http`) keeps connections alive: AWS calls share
//! one connection instead of each paying a new TCP (and, against AWS, TLS) handshake.
//!
//! moto answers every request with `Connection: close`, so it cannot show reuse; the server here
//! is plain HTTP/1.1 with keep-alive that counts connections and answers every request with `{}`
//! (an empty `ListTables` result). It checks our connection handling, not any AWS behaviour.

use std::io::BufReader;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use handsoff::lazy_http::LazyHttpsClient;
use handsoff_e2e::http1::{read_request, respond};
use handsoff_e2e::moto::sdk_config_for;

/// Counts connections and requests; closes every connection on drop.
struct KeepAliveServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl KeepAliveServer {
    fn start() -> KeepAliveServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = KeepAliveServer {
            port: listener.local_addr().unwrap().port(),
            connections: Arc::default(),
            requests: Arc::default(),
            open: Arc::default(),
            stop: Arc::default(),
        };
        let (connections, requests) = (server.connections.clone(), server.requests.clone());
        let (open, stop) = (server.open.clone(), server.stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                connections.fetch_add(1, Ordering::SeqCst);
                open.lock().unwrap().push(stream.try_clone().unwrap());
                let requests = requests.clone();
                thread::spawn(move || serve(stream, &requests));
            }
        });
        server
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, requests: &AtomicUsize) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while read_request(&mut reader).is_some() {
        requests.fetch_add(1, Ordering::SeqCst);
        let headers = [("content-type", "application/x-amz-json-1.0".to_string())];
        if respond(&mut writer, "200 OK", &headers, b"{}").is_err() {
            return;
        }
    }
}

impl Drop for KeepAliveServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for stream in self.open.lock().unwrap().iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn calls_from_every_client_of_a_config_share_one_kept_alive_connection() {
    let server = KeepAliveServer::start();
    let config = sdk_config_for(&server.endpoint())
        .into_builder()
        .http_client(LazyHttpsClient::shared())
        .build();
    let first = aws_sdk_dynamodb::Client::new(&config);
    let second = aws_sdk_dynamodb::Client::new(&config);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        0,
        "building clients connects to nothing"
    );

    for client in [&first, &first, &second, &first] {
        let tables = client.list_tables().send().await.unwrap();
        assert!(tables.table_names().is_empty());
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 4);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        1,
        "four calls from two clients of one config should reuse one connection"
    );
}
