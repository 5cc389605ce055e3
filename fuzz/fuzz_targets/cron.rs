//! Any text as an EventBridge-style cron expression: parsed (and its fire times walkable), or an
//! error that says what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match handsoff::window::cron::Cron::parse(text) {
            Ok(cron) => {
                let _ = cron.fire_times().take(100).count();
                let _ = (0..400).filter(|day| cron.fires_on(*day)).count();
            }
            Err(message) => assert!(!message.is_empty()),
        }
    }
});
