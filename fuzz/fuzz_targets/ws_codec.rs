//! Arbitrary bytes as the frames a WebSocket client sends: the decoder never panics, keeps its
//! invariants, and decoding all at once, in pieces and byte by byte agree.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| httpd::fuzzing::ws_decode(data));
