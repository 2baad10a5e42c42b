//! Arbitrary bytes as a chunked body: decoding all at once and in pieces agree.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let step = data.first().map_or(1, |&b| usize::from(b % 16) + 1);
    httpd::fuzzing::decode_chunked(data.get(1..).unwrap_or_default(), step);
});
