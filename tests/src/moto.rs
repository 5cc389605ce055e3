//! moto_server (PyPI `moto[server]`, installed into `.venv/` by `scripts/python-tools`) on
//! 127.0.0.1 and a free port, started by the test and stopped when dropped, even on failure.
//! It runs through `moto_serial.py`, which serializes requests so that conditional writes are
//! atomic, as DynamoDB's are.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub port: u16,
    child: Child,
}

/// The Python with moto installed: `HANDSOFF_PYTHON`, else the workspace's `.venv/bin/python`.
pub fn python_path() -> PathBuf {
    if let Ok(path) = std::env::var("HANDSOFF_PYTHON") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

impl Moto {
    /// Starts moto_server and waits (at most 60 s) until it answers.
    pub fn start() -> Moto {
        Moto::launch(None)
    }

    /// Starts moto_server with its Step Functions service integrations calling back on
    /// `callbacks_port` instead of on moto itself (a router that sends Lambda invokes elsewhere).
    pub fn start_with_callbacks_on(callbacks_port: u16) -> Moto {
        Moto::launch(Some(callbacks_port))
    }

    fn launch(callbacks_port: Option<u16>) -> Moto {
        let path = python_path();
        // moto_server's own app, one request at a time (see moto_serial.py).
        let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("moto_serial.py");
        assert!(
            path.exists(),
            "{} is missing: run scripts/test (it installs moto into .venv/)",
            path.display()
        );
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&path)
                .arg(&launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                // Step Functions' service integrations call back into moto on MOTO_PORT.
                .env("MOTO_PORT", callbacks_port.unwrap_or(port).to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let mut moto = Moto { port, child };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(60) {
                if answers(port) {
                    return moto;
                }
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not start on 127.0.0.1");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Creates an IAM role (moto's Lambda wants its role to exist) through IAM's query API;
    /// returns its ARN. moto routes by the credential scope, not the signature.
    pub fn create_iam_role(&self, name: &str) -> String {
        let body = format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D");
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len(),
            port = self.port
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        stream.write_all(request.as_bytes()).expect("send CreateRole");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "CreateRole failed: {response}"
        );
        format!("arn:aws:iam::123456789012:role/{name}")
    }
}

impl Moto {
    /// Makes moto's Step Functions interpret the ASL of executions (off by default).
    pub fn execute_state_machines(&self) {
        let body = r#"{"stepfunctions": {"execute_state_machine": true}}"#;
        let request = format!(
            "POST /moto-api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len(),
            port = self.port
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        stream.write_all(request.as_bytes()).expect("send moto config");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.contains(" 20"), "moto config failed: {response}");
    }
}

impl Moto {
    /// An SDK configuration for this moto: its endpoint, us-east-1, test credentials.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint())
    }
}

/// An SDK configuration for a local endpoint: us-east-1 and moto's test credentials.
pub fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("test", "test", None, None, "moto"),
        ))
        .build()
}
