//! The real `rollback-trigger` binary on the Lambda runtime protocol: a bad policy and a malformed event
//! are typed errors that name what to fix, never a crash. (The full flows run in the local-stack
//! scenarios, which also need this binary built.)

#[test]
fn rejects_bad_input_with_typed_errors() {
    handsoff_e2e::assert_rejects_bad_input(
        std::path::Path::new(env!("CARGO_BIN_EXE_rollback-trigger")),
        "rollback-trigger",
    );
}
