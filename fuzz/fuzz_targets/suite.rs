//! Any text as a validation suite: parsed, or rejected with a field path and a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(error) = handsoff::suite::Suite::from_json(text)
    {
        assert!(!error.path.is_empty() && !error.message.is_empty());
    }
});
