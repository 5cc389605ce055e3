//! The real `alarm-blocker` binary on the Lambda runtime protocol: a bad policy and a missing context
//! are typed errors that name what to fix, never a crash. (The full flows run in the local-stack
//! scenarios, which also need this binary built.)

use std::path::Path;
use std::time::Duration;

use handsoff_e2e::{LocalRuntime, Reply};
use serde_json::json;

#[test]
fn rejects_bad_input_with_typed_errors() {
    let mut runtime = LocalRuntime::start();
    runtime.env("HANDSOFF_TABLE", "handsoff");
    runtime.push_event("r1", json!({"policy": {"windowz": {}}}));
    runtime.push_event("r2", json!("not an object"));
    runtime.spawn(Path::new(env!("CARGO_BIN_EXE_alarm-blocker")), "alarm-blocker");
    let replies = runtime.wait_for_replies(2, Duration::from_secs(60));
    assert_eq!(replies.len(), 2, "{replies:?}\n{}", runtime.output());
    let Reply::Error { error_type, body } = &replies[0].1 else {
        panic!("{:?}", replies[0])
    };
    assert_eq!(error_type, "PolicyInvalid");
    assert!(body["errorMessage"].as_str().unwrap().contains("windowz"), "{body}");
    let Reply::Error { error_type, .. } = &replies[1].1 else {
        panic!("{:?}", replies[1])
    };
    assert_eq!(error_type, "InvalidInput");
}
