//! Arbitrary bytes fed to TLS sessions over an in-memory transport, before and after a real
//! handshake: the server answers only in TLS records, closes, never panics or hangs, and keeps
//! serving HTTPS.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpd::fuzzing::tls_session(data));
