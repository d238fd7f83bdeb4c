//! Fuzz the Dockerfile parser and docker's word expansion: any input must give a Dockerfile
//! or a one-line error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/build/dockerfile/mod.rs"]
mod dockerfile;

fuzz_target!(|data: &[u8]| {
    let _ = dockerfile::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let vars = |name: &str| (name.len() % 2 == 0).then(|| name.to_string());
        let _ = dockerfile::expand::expand(text, '\\', &vars);
        let _ = dockerfile::expand::expand(text, '`', &vars);
    }
});
