//! Any JSON as a Lambda event (CodePipeline job or direct payload): parsed or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data)
        && let Err(error) = handsoff::invoke::event::Invocation::parse(value)
    {
        assert!(!error.to_string().is_empty());
    }
});
