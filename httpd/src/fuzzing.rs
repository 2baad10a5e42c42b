//! Entry points for fuzzing and randomized tests: the sans-IO cores, with their invariants
//! checked. Not part of the public API (only with the `fuzzing` feature, hidden from docs).

use std::time::Duration;

use crate::proto::chunked::ChunkedDecoder;
use crate::proto::head::{self as parse, Framing, HeaderSpan, Limits};
use crate::proto::ws_codec::{self, CloseCode, Decoder, Opcode, Step};
use crate::runtime::harness::Harness;
use crate::{Config, Handler, Method};

/// Parses `data` as a request head under small limits and checks the parser's invariants:
/// positions lie inside the head, limits hold, the parse is deterministic, and any shorter
/// prefix of a complete head is incomplete or refused, never a different head.
///
/// # Panics
/// When an invariant does not hold.
pub fn parse_head(data: &[u8]) {
    let limits = Limits {
        max_uri_len: 64,
        max_hdr_len: 256,
        max_headers: 8,
    };
    let mut headers: Vec<HeaderSpan> = Vec::new();
    let Ok(Some(head)) = parse::parse_head(data, &limits, &mut headers) else {
        return;
    };
    assert!(head.len <= data.len());
    let target = head.target;
    assert!(target.start <= target.end && target.end as usize <= head.len);
    assert!((target.end - target.start) as usize <= limits.max_uri_len);
    assert!(headers.len() <= limits.max_headers);
    for h in &headers {
        assert!(h.name.end as usize <= head.len && h.value.end as usize <= head.len);
        assert!(!h.name.get(data).is_empty());
    }
    if let Framing::Length(n) = head.framing {
        assert!(n > 0);
    }
    let mut again = Vec::new();
    let reparsed = parse::parse_head(&data[..head.len], &limits, &mut again);
    assert!(matches!(reparsed, Ok(Some(h)) if h.len == head.len && h.target == head.target));
    let mut shorter = Vec::new();
    for cut in [head.len / 2, head.len.saturating_sub(1)] {
        if let Ok(Some(h)) = parse::parse_head(&data[..cut], &limits, &mut shorter) {
            panic!("prefix of {cut} bytes parsed as a {}-byte head", h.len);
        }
    }
}

/// Decodes `data` as a chunked body twice, all at once and in pieces of `step` bytes into a
/// small buffer, and checks both give the same body, the same end and the same verdict.
///
/// # Panics
/// When the two decodings disagree or a count is out of bounds.
pub fn decode_chunked(data: &[u8], step: usize) {
    let whole = decode(data, data.len().max(1), 1 << 16);
    let pieces = decode(data, step.max(1), 7);
    if whole.3 || pieces.3 {
        // Refused: what was decoded before the error is discarded, only the verdict counts.
        assert_eq!((whole.2, whole.3), (pieces.2, pieces.3));
    } else {
        assert_eq!(whole, pieces);
    }
}

/// (body, bytes consumed, finished, refused)
fn decode(data: &[u8], step: usize, out_len: usize) -> (Vec<u8>, usize, bool, bool) {
    let mut decoder = ChunkedDecoder::new(128);
    let mut out = vec![0u8; out_len];
    let (mut body, mut pos, mut avail) = (Vec::new(), 0, 0);
    loop {
        avail = (avail + step).min(data.len());
        match decoder.decode(&data[pos..avail], &mut out) {
            Ok((used, produced)) => {
                assert!(pos + used <= avail && produced <= out.len());
                body.extend_from_slice(&out[..produced]);
                pos += used;
                if decoder.is_done() {
                    return (body, pos, true, false);
                }
                if used == 0 && produced == 0 && avail == data.len() {
                    return (body, pos, false, false);
                }
            }
            Err(_) => return (body, pos, false, true),
        }
    }
}

/// Decodes `data[1..]` as the frames a WebSocket client sends, three ways (all at once, in
/// pieces, one byte at a time) through a receive buffer as the server loop will, and checks
/// that all three report the same frames and the same verdict, and that every step keeps the
/// decoder's invariants. `data[0]` picks the piece size (low 4 bits) and the message limit
/// (top 2 bits).
///
/// # Panics
/// When the decodings disagree or an invariant does not hold.
pub fn ws_decode(data: &[u8]) {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(pick & 0x0f) + 1;
    let max = [0, 16, 300, 70_000][usize::from(pick >> 6)];
    let whole = ws_run(stream, max, stream.len().max(1));
    assert_eq!(whole, ws_run(stream, max, step), "in pieces of {step}");
    assert_eq!(whole, ws_run(stream, max, 1), "byte by byte");
}

/// A complete frame: fin, opcode, payload.
type WsFrame = (bool, Opcode, Vec<u8>);

/// Feeds `stream` to a decoder `step` bytes at a time; returns the complete frames and the
/// verdict: the bytes left unconsumed at the end, or the close code.
fn ws_run(stream: &[u8], max: usize, step: usize) -> (Vec<WsFrame>, Result<usize, CloseCode>) {
    let mut decoder = Decoder::new(max);
    let (mut buf, mut fed) = (Vec::new(), 0);
    let mut frames: Vec<WsFrame> = Vec::new();
    // The frame being received (fin, opcode, length, payload so far) and its message.
    let mut current: Option<(bool, Opcode, u64, Vec<u8>)> = None;
    let mut message = Vec::new();
    // Each step feeds a byte or more, consumes a byte or more, or is the one empty Data of
    // an empty frame (whose header consumed 6 bytes or more): a bound that catches a loop.
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(
            steps <= 3 * stream.len() + 3,
            "the decoder makes no progress"
        );
        match decoder.next(&mut buf) {
            Ok(Step::Need) => {
                if fed == stream.len() {
                    return (frames, Ok(buf.len()));
                }
                let end = (fed + step).min(stream.len());
                buf.extend_from_slice(&stream[fed..end]);
                fed = end;
            }
            Ok(Step::Frame {
                fin,
                opcode,
                len,
                consumed,
            }) => {
                assert!(current.is_none(), "a header inside a frame");
                assert!((6..=14).contains(&consumed) && consumed <= buf.len());
                // Lengths are minimal, so the server's encoding of the same frame is the
                // client's header without the mask bit and key.
                let mut header = Vec::new();
                ws_codec::encode_header(&mut header, fin, opcode, len);
                let mut seen = buf[..consumed - 4].to_vec();
                seen[1] &= 0x7f;
                assert_eq!(header, seen);
                if opcode.is_control() {
                    assert!(fin && len <= 125);
                } else {
                    let kind = decoder.message_opcode();
                    assert!(matches!(kind, Some(Opcode::Text | Opcode::Binary)));
                    if opcode != Opcode::Continuation {
                        assert_eq!(kind, Some(opcode));
                        message.clear();
                    }
                    assert!(message.len() as u64 + len <= max as u64, "over max_message");
                }
                current = Some((fin, opcode, len, Vec::new()));
                buf.drain(..consumed);
            }
            Ok(Step::Data {
                range,
                last_of_frame,
                consumed,
            }) => {
                assert!(range.start == 0 && range.end == consumed && consumed <= buf.len());
                let Some((fin, opcode, len, mut payload)) = current.take() else {
                    panic!("data outside a frame");
                };
                assert!(consumed > 0 || len == 0, "empty data of a non-empty frame");
                payload.extend_from_slice(&buf[range]);
                buf.drain(..consumed);
                assert_eq!(last_of_frame, payload.len() as u64 == len);
                assert!(
                    last_of_frame || !opcode.is_control(),
                    "a control frame in parts"
                );
                if !last_of_frame {
                    current = Some((fin, opcode, len, payload));
                    continue;
                }
                if opcode == Opcode::Close {
                    assert!(ws_codec::parse_close_payload(&payload).is_ok());
                } else if !opcode.is_control() {
                    message.extend_from_slice(&payload);
                    if fin && decoder.message_opcode() == Some(Opcode::Text) {
                        assert!(std::str::from_utf8(&message).is_ok(), "text not UTF-8");
                    }
                }
                frames.push((fin, opcode, payload));
            }
            Err(code) => {
                assert_eq!(decoder.next(&mut buf), Err(code), "errors are sticky");
                return (frames, Err(code));
            }
        }
    }
}

/// The handlers the session fuzz targets serve: a fixed answer, an echo, a streamed body
/// and a WebSocket echo.
fn handlers() -> Vec<Handler> {
    vec![
        Handler::new("/hello", Method::Get, |req| req.send_str("Hello World!")),
        Handler::new("/echo", Method::Any, |req| {
            let body = req.read_body(64 * 1024)?;
            req.send(&body)
        }),
        Handler::new("/stream", Method::Get, |req| {
            req.send_body(crate::Body::from_reader(&b"streamed"[..], None))
        }),
        crate::WsHandler::new("/ws", |conn, frame| match frame.text() {
            Some(text) => conn.send_text(text),
            None => conn.send_binary(frame.payload()),
        })
        .into(),
    ]
}

/// Feeds `data` to one session of a server core over an in-memory pipe, then closes the
/// client's side, and checks that the server answered with HTTP/1.1 responses (or nothing),
/// closed the session, and still serves a well-formed request on a new session.
///
/// # Panics
/// When one of those does not hold.
pub fn session(data: &[u8]) {
    let config = Config::builder()
        .max_open_sockets(4)
        .recv_wait_timeout(Duration::from_millis(50))
        .max_body_len(Some(64 * 1024))
        .build()
        .expect("valid config");
    let mut harness = Harness::new(config, handlers());
    let (slot, client) = harness.connect().expect("a free slot");
    client.send(data);
    client.close();
    harness.run(slot, true, 10_000);
    let reply = client.received();
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 "),
        "{reply:?}"
    );
    assert!(
        harness.closed(slot),
        "session still open after the client closed"
    );

    let (slot, client) = harness.connect().expect("a free slot");
    client.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    harness.run(slot, false, 100);
    assert!(
        client.received().ends_with(b"Hello World!"),
        "server stopped serving"
    );
}

#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub use tls::tls_session;

/// Resolves `data` (as text) as a static-file request path and checks that whatever it
/// accepts stays inside the root (see `files::resolve`).
///
/// # Panics
/// When an invariant does not hold.
pub fn files_resolve(data: &[u8]) {
    crate::files::resolve::check_invariants(&String::from_utf8_lossy(data));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `HTTPD_RANDOM_SEED`, or a fixed default.
    fn seed() -> u64 {
        std::env::var("HTTPD_RANDOM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1234_u64)
    }

    /// xorshift64*: a few lines of deterministic randomness, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const SEEDS: [&[u8]; 6] = [
        b"GET /hello?a=b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
        b"GET http://h/p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"PUT /a HTTP/1.1\nHost: y\nExpect: 100-continue\nContent-Length: 3\n\nabc",
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    ];
    const TOKENS: [&[u8]; 14] = [
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b":",
        b"\t",
        b"\0",
        b"chunked",
        b"Content-Length: ",
        b"Transfer-Encoding: ",
        b"0",
        b"ffffffffffffffffff",
        b";",
        b"HTTP/1.1",
    ];

    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        for _ in 0..=rng.below(4) {
            let at = rng.below(input.len() + 1);
            match rng.below(5) {
                0 if at < input.len() => input[at] = rng.next() as u8,
                1 if at < input.len() => {
                    input.remove(at);
                }
                2 => {
                    let t = TOKENS[rng.below(TOKENS.len())];
                    input.splice(at..at, t.iter().copied());
                }
                3 => input.truncate(at),
                _ => {
                    let n = rng.below(8);
                    let extra: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    input.splice(at..at, extra);
                }
            }
        }
    }

    /// Mutated requests and bodies through the parser's and decoder's invariant checks.
    /// `HTTPD_RANDOM_SEED` picks another sequence; the failing input is printed on panic.
    #[test]
    fn randomized_inputs_keep_parser_and_decoder_invariants() {
        let seed = seed();
        let mut rng = Rng(seed | 1);
        for i in 0..30_000 {
            let mut input = SEEDS[rng.below(SEEDS.len())].to_vec();
            mutate(&mut rng, &mut input);
            let step = 1 + rng.below(9);
            let result = std::panic::catch_unwind(|| {
                parse_head(&input);
                decode_chunked(&input, step);
                if let Some(body) = input.windows(4).position(|w| w == b"\r\n\r\n") {
                    decode_chunked(&input[body + 4..], step);
                }
            });
            assert!(
                result.is_ok(),
                "seed {seed}, case {i}: input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    /// Mutated requests through a whole session over the in-memory pipe.
    #[test]
    fn randomized_inputs_through_a_session() {
        let seed = seed();
        let mut rng = Rng(seed | 1);
        let upgrade: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let frames = ws_seeds();
        for i in 0..2_000 {
            let mut input = if rng.below(4) == 0 {
                [upgrade, &frames[rng.below(frames.len())]].concat()
            } else {
                SEEDS[rng.below(SEEDS.len())].to_vec()
            };
            if rng.below(2) == 0 {
                input.extend_from_slice(SEEDS[rng.below(SEEDS.len())]);
            }
            mutate(&mut rng, &mut input);
            let result = std::panic::catch_unwind(|| session(&input));
            assert!(
                result.is_ok(),
                "seed {seed}, case {i}: input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    /// Client WebSocket streams (masked with the RFC's example key) to mutate.
    fn ws_seeds() -> Vec<Vec<u8>> {
        let frame =
            |fin, opcode, payload: &[u8]| ws_codec::client_stream(&[(fin, opcode, payload)]);
        vec![
            frame(true, Opcode::Text, b"Hello"),
            [
                frame(false, Opcode::Text, b"Hel"),
                frame(true, Opcode::Ping, b"Hello"),
                frame(true, Opcode::Continuation, b"lo"),
            ]
            .concat(),
            [
                frame(false, Opcode::Text, b"a\xe2"),
                frame(true, Opcode::Continuation, b"\x82\xac"),
            ]
            .concat(),
            frame(true, Opcode::Binary, &[7; 300]),
            [
                frame(false, Opcode::Text, "h\u{e9}\u{20ac}".as_bytes()),
                frame(true, Opcode::Continuation, "\u{1d11e}\u{e9}".as_bytes()),
            ]
            .concat(),
            [
                frame(true, Opcode::Close, b"\x03\xe8bye"),
                frame(true, Opcode::Pong, b""),
            ]
            .concat(),
        ]
    }

    /// Mutated WebSocket streams through the decoder's invariant checks (whole, in pieces and
    /// byte by byte agree). `HTTPD_RANDOM_SEED` picks another sequence.
    #[test]
    fn randomized_frames_keep_ws_decoder_invariants() {
        let seed = seed();
        let mut rng = Rng(seed | 1);
        let seeds = ws_seeds();
        for i in 0..20_000 {
            let mut input = seeds[rng.below(seeds.len())].clone();
            mutate(&mut rng, &mut input);
            input.insert(0, rng.next() as u8);
            let result = std::panic::catch_unwind(|| ws_decode(&input));
            assert!(result.is_ok(), "seed {seed}, case {i}: input {input:?}");
        }
    }
}
