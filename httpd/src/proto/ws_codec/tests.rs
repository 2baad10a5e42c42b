//! Unit tests of the WebSocket codec: RFC 6455 examples, every split point, every refusal.
use super::*;
use Opcode::{Binary, Close, Continuation as Cont, Ping, Pong, Text};

/// The masking key of the RFC's examples (section 5.7).
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// RFC 6455 5.7: a single-frame masked text message "Hello".
const RFC_MASKED_HELLO: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
/// RFC 6455 5.7: a masked Pong "Hello".
const RFC_MASKED_PONG: &[u8] = b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

/// A frame as a test writes it: fin, opcode, payload.
type Frame<'a> = (bool, Opcode, &'a [u8]);
/// Complete frames as decoded, and the verdict: bytes left unconsumed, or the close code.
type Outcome = (Vec<(bool, Opcode, Vec<u8>)>, Result<usize, CloseCode>);

/// A server-encoded frame as a client sends it: mask bit set, `KEY` after the header,
/// payload masked.
fn mask_as_client(server_frame: &[u8]) -> Vec<u8> {
    let header_len = match server_frame[1] & LEN {
        LEN_16 => 4,
        LEN_64 => 10,
        _ => 2,
    };
    let (header, payload) = server_frame.split_at(header_len);
    let mut out = header.to_vec();
    out[1] |= MASKED;
    raw(&out, payload)
}

/// A client stream: each frame encoded, then masked.
fn client(frames: &[Frame]) -> Vec<u8> {
    client_stream(frames)
}

/// A hand-written header (mask bit set or not, as given) plus `KEY` and the masked
/// payload: for frames the encoder would not write.
fn raw(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = [header, &KEY].concat();
    out.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    out
}

fn owned(frames: &[Frame]) -> Vec<(bool, Opcode, Vec<u8>)> {
    frames
        .iter()
        .map(|&(f, op, p)| (f, op, p.to_vec()))
        .collect()
}

fn data(n: usize, last_of_frame: bool) -> Result<Step, CloseCode> {
    Ok(Step::Data {
        range: 0..n,
        last_of_frame,
        consumed: n,
    })
}

/// Feeds `stream` through a receive buffer in pieces ending at `ends` (then the rest),
/// dropping consumed bytes after each step, as the loop will.
fn decode(stream: &[u8], max: usize, ends: impl IntoIterator<Item = usize>) -> Outcome {
    let mut ends = ends.into_iter().chain([stream.len()]);
    let mut dec = Decoder::new(max);
    let (mut buf, mut fed) = (Vec::new(), 0);
    let (mut frames, mut current) = (Vec::new(), None);
    loop {
        let consumed = match dec.next(&mut buf) {
            Ok(Step::Need) => {
                let Some(end) = ends.next() else {
                    return (frames, Ok(buf.len()));
                };
                let end = end.clamp(fed, stream.len());
                buf.extend_from_slice(&stream[fed..end]);
                fed = end;
                0
            }
            Ok(Step::Frame {
                fin,
                opcode,
                consumed,
                ..
            }) => {
                assert!(current.is_none(), "header inside a frame");
                current = Some((fin, opcode, Vec::new()));
                consumed
            }
            Ok(Step::Data {
                range,
                last_of_frame,
                consumed,
            }) => {
                assert_eq!((range.start, range.end), (0, consumed));
                let frame = current.as_mut().expect("data before a header");
                frame.2.extend_from_slice(&buf[range]);
                if last_of_frame {
                    frames.extend(current.take());
                }
                consumed
            }
            Err(code) => {
                assert_eq!(dec.next(&mut buf), Err(code), "errors are sticky");
                return (frames, Err(code));
            }
        };
        buf.drain(..consumed);
    }
}

/// Decodes `stream` whole, one byte at a time and split in two at every position (for a
/// long stream: every position near its ends and every 997th), asserting they agree.
fn decode_every_way(stream: &[u8], max: usize) -> Outcome {
    let whole = decode(stream, max, []);
    assert_eq!(decode(stream, max, 1..stream.len()), whole, "byte by byte");
    let len = stream.len();
    let cuts: Vec<usize> = if len <= 1024 {
        (0..=len).collect()
    } else {
        (0..64)
            .chain(len - 64..=len)
            .chain((64..len).step_by(997))
            .collect()
    };
    for cut in cuts {
        assert_eq!(decode(stream, max, [cut]), whole, "split at {cut}");
    }
    whole
}

#[test]
fn opcode_table() {
    let cases: &[(u8, Opcode, bool)] = &[
        (0x0, Cont, false),
        (0x1, Text, false),
        (0x2, Binary, false),
        (0x8, Close, true),
        (0x9, Ping, true),
        (0xA, Pong, true),
    ];
    for bits in 0..=u8::MAX {
        let want = cases.iter().find(|c| c.0 == bits);
        assert_eq!(Opcode::from_u8(bits), want.map(|c| c.1), "{bits:#x}");
    }
    for &(bits, op, control) in cases {
        assert_eq!((op.as_u8(), op.is_control()), (bits, control), "{op:?}");
    }
}

#[test]
fn close_codes_a_peer_may_send() {
    let valid = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
    ];
    let valid = valid.into_iter().chain([3000, 3999, 4000, 4999]);
    let invalid = [
        0,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2000,
        2999,
        5000,
        u16::MAX,
    ];
    for code in valid {
        assert!(CloseCode(code).is_valid_received(), "{code}");
    }
    for code in invalid {
        assert!(!CloseCode(code).is_valid_received(), "{code}");
    }
}

#[test]
fn accept_key_table() {
    let rfc = Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let cases: &[(&str, Option<&str>)] = &[
        ("dGhlIHNhbXBsZSBub25jZQ==", rfc), // RFC 6455 section 1.3
        (" dGhlIHNhbXBsZSBub25jZQ==\t", rfc),
        (
            "x3JJHMbDL1EzLkh9GBhXDw==",
            Some("HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
        ),
        ("", None),
        ("   ", None),
        ("not base64!", None),
        ("dGhlIHNhbXBsZSBub25jZQ", None),   // padding missing
        ("dGhlIHNhbXBsZSBub25jZR==", None), // non-canonical trailing bits
        ("dGhlIHNhbXBsZSBub25j", None),     // 15 bytes
        ("dGhlIHNhbXBsZSBub25jZSE=", None), // 17 bytes
        ("dGhlIHNhbXBsZSBub25jZQ==QQ==", None),
    ];
    for (key, want) in cases {
        assert_eq!(accept_key(key).as_deref(), *want, "{key:?}");
    }
}

#[test]
fn encoder_writes_the_rfc_examples() {
    let big = vec![0u8; 65536];
    // (frame, the header the encoder must write before the payload)
    let cases: &[(Frame, &[u8])] = &[
        ((true, Text, b"Hello"), b"\x81\x05"),
        ((false, Text, b"Hel"), b"\x01\x03"),
        ((true, Cont, b"lo"), b"\x80\x02"),
        ((true, Ping, b"Hello"), b"\x89\x05"),
        ((true, Pong, b"Hello"), b"\x8a\x05"),
        ((true, Binary, b""), b"\x82\x00"),
        ((true, Binary, &big[..125]), b"\x82\x7d"),
        ((true, Binary, &big[..126]), b"\x82\x7e\x00\x7e"),
        ((true, Binary, &big[..256]), b"\x82\x7e\x01\x00"),
        ((true, Binary, &big[..65535]), b"\x82\x7e\xff\xff"),
        (
            (true, Binary, &big),
            b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00",
        ),
    ];
    for &((fin, opcode, payload), head) in cases {
        let mut out = Vec::new();
        encode_frame(&mut out, fin, opcode, payload);
        let (h, p) = out.split_at(head.len().min(out.len()));
        assert_eq!((h, p), (head, payload), "{opcode:?} {}", payload.len());
    }
    // The RFC's masked examples are its unmasked ones masked with its key.
    assert_eq!(mask_as_client(b"\x81\x05Hello"), RFC_MASKED_HELLO);
    assert_eq!(mask_as_client(b"\x8a\x05Hello"), RFC_MASKED_PONG);
}

#[test]
fn encode_close_table() {
    let long = "a".repeat(122) + "\u{e9}"; // 124 bytes, the last character 2 bytes
    let cases: &[(Option<CloseCode>, &str, &[u8])] = &[
        (None, "", b"\x88\x00"),
        (None, "dropped without a code", b"\x88\x00"),
        (Some(CloseCode::NORMAL), "", b"\x88\x02\x03\xe8"),
        (Some(CloseCode::GOING_AWAY), "bye", b"\x88\x05\x03\xe9bye"),
        (
            Some(CloseCode(4000)),
            "\u{20ac}",
            b"\x88\x05\x0f\xa0\xe2\x82\xac",
        ),
    ];
    for &(code, reason, want) in cases {
        let mut out = Vec::new();
        encode_close(&mut out, code, reason);
        assert_eq!(out, want, "{code:?} {reason:?}");
    }
    // Cut to 123 bytes on a character boundary: the 2-byte character goes whole.
    let mut out = Vec::new();
    encode_close(&mut out, Some(CloseCode::POLICY), &long);
    let want = Ok(Some((CloseCode::POLICY, &long[..122])));
    assert_eq!((out[1], parse_close_payload(&out[2..])), (124, want));
    let mut out = Vec::new();
    encode_close(&mut out, Some(CloseCode::POLICY), &"b".repeat(200));
    assert_eq!((out[1], out.len()), (125, 127));
}

#[test]
fn parse_close_payload_table() {
    const PE: CloseCode = CloseCode::PROTOCOL_ERROR;
    let long = [&[0x03, 0xe8][..], &[b'x'; 124]].concat();
    let x123 = "x".repeat(123);
    let cases: &[(&[u8], Result<Option<(CloseCode, &str)>, CloseCode>)] = &[
        (b"", Ok(None)),
        (b"\x03", Err(PE)),
        (b"\x03\xe8", Ok(Some((CloseCode::NORMAL, "")))),
        (b"\x03\xf3ok", Ok(Some((CloseCode::INTERNAL, "ok")))),
        (b"\x03\xf4", Ok(Some((CloseCode(1012), "")))),
        (b"\x03\xed", Err(PE)), // 1005
        (b"\x03\xee", Err(PE)), // 1006
        (b"\x03\xe8\xff", Err(CloseCode::INVALID_PAYLOAD)),
        (b"\x03\xe7\xff", Err(PE)), // the code is checked first
        (&long[..125], Ok(Some((CloseCode::NORMAL, &x123)))),
        (&long, Err(PE)),
    ];
    for (payload, want) in cases {
        assert_eq!(parse_close_payload(payload), *want, "{payload:?}");
    }
}

#[test]
fn valid_streams_at_every_split() {
    let b: Vec<u8> = (0..=255).cycle().take(65536).collect();
    let close = [&[0x03, 0xe8][..], b"bye"].concat();
    let m = "h\u{e9}\u{20ac}\u{1d11e}\u{e9}\u{1d11e}\u{20ac}\u{20ac}x".as_bytes();
    // (name, max_message, frames): the stream is the frames as a client sends them.
    let cases: &[(&str, usize, &[Frame])] = &[
        (
            "RFC fragmented",
            5,
            &[(false, Text, b"Hel"), (true, Cont, b"lo")],
        ),
        (
            "RFC ping between fragments",
            5,
            &[
                (false, Text, b"Hel"),
                (true, Ping, b"Hello"),
                (true, Cont, b"lo"),
            ],
        ),
        ("RFC 256 bytes", 256, &[(true, Binary, &b[..256])]),
        ("RFC 64 KiB", 65536, &[(true, Binary, &b)]),
        (
            "125 and 126 bytes",
            126,
            &[
                (true, Binary, &b[..125]),
                (true, Ping, &b[..125]),
                (true, Binary, &b[..126]),
            ],
        ),
        (
            "empty frames",
            2,
            &[
                (true, Text, b""),
                (false, Binary, b"ab"),
                (false, Cont, b""),
                (true, Ping, b""),
                (true, Cont, b""),
            ],
        ),
        (
            "close frames",
            0,
            &[(true, Close, &close), (true, Close, b"")],
        ),
        (
            "a character in three fragments",
            5,
            &[
                (false, Text, b"a\xe2"),
                (false, Cont, b"\x82"),
                (true, Cont, b"\xacb"),
            ],
        ),
        (
            "a character cut around a ping",
            4,
            &[
                (false, Text, b"\xf0\x9d"),
                (true, Ping, b"p"),
                (true, Cont, b"\x84\x9e"),
            ],
        ),
        (
            "binary is not UTF-8 checked",
            3,
            &[(true, Binary, b"\xff\xc0\x80")],
        ),
        // Every width, back to back: the splits cut each character at each position.
        ("mixed widths", 64, &[(true, Text, m)]),
        (
            "mixed widths in odd fragments",
            64,
            &[
                (false, Text, &m[..2]),
                (false, Cont, &m[2..7]),
                (true, Cont, &m[7..]),
            ],
        ),
        (
            "max_message exactly",
            5,
            &[
                (false, Binary, b"Hel"),
                (true, Cont, b"lo"),
                (true, Text, b"Hello"),
            ],
        ),
    ];
    for &(name, max, frames) in cases {
        let got = decode_every_way(&client(frames), max);
        assert_eq!(got, (owned(frames), Ok(0)), "{name}");
    }
    // (name, stream, max_message, complete frames, bytes left unconsumed)
    let hello = [RFC_MASKED_HELLO, &RFC_MASKED_HELLO[..5]].concat();
    let ping = client(&[(true, Ping, b"Hello")]);
    let cases: &[(&str, &[u8], usize, &[Frame], usize)] = &[
        (
            "RFC masked Hello",
            RFC_MASKED_HELLO,
            5,
            &[(true, Text, b"Hello")],
            0,
        ),
        (
            "RFC masked Pong",
            RFC_MASKED_PONG,
            0,
            &[(true, Pong, b"Hello")],
            0,
        ),
        (
            "a partial header is left",
            &hello,
            5,
            &[(true, Text, b"Hello")],
            5,
        ),
        ("a partial ping is left", &ping[..9], 5, &[], 9),
        (
            "a partial data frame is consumed",
            &RFC_MASKED_HELLO[..9],
            5,
            &[],
            0,
        ),
    ];
    for &(name, stream, max, frames, left) in cases {
        let got = decode_every_way(stream, max);
        assert_eq!(got, (owned(frames), Ok(left)), "{name}");
    }
}

#[test]
fn refused_streams_at_every_split() {
    const PE: CloseCode = CloseCode::PROTOCOL_ERROR;
    const UTF8: CloseCode = CloseCode::INVALID_PAYLOAD;
    const BIG: CloseCode = CloseCode::TOO_BIG;
    let hello = |b0: u8| raw(&[b0, 0x85], b"Hello");
    let text = |payload| client(&[(true, Text, payload)]);
    let mut cases: Vec<(String, Vec<u8>, usize, CloseCode)> = vec![
        ("RSV1".into(), hello(0xC1), 9, PE),
        ("RSV2".into(), hello(0xA1), 9, PE),
        ("RSV3".into(), hello(0x91), 9, PE),
        (
            "unmasked (RFC example)".into(),
            b"\x81\x05Hello".to_vec(),
            9,
            PE,
        ),
        ("unmasked ping".into(), b"\x89\x00".to_vec(), 9, PE),
        (
            "ping of 126 bytes".into(),
            raw(b"\x89\xfe\x00\x7e", &[0; 126]),
            9,
            PE,
        ),
        (
            "ping of 2^16 bytes".into(),
            raw(b"\x89\xff\0\0\0\0\0\x01\0\0", b""),
            9,
            PE,
        ),
        ("fragmented ping".into(), hello(0x09), 9, PE),
        ("fragmented close".into(), raw(b"\x08\x80", b""), 9, PE),
        ("close of 1 byte".into(), raw(b"\x88\x81", b"\x03"), 9, PE),
        (
            "close reason".into(),
            client(&[(true, Close, b"\x03\xe8ok\xc3")]),
            9,
            UTF8,
        ),
        (
            "continuation first".into(),
            client(&[(true, Cont, b"lo")]),
            9,
            PE,
        ),
        (
            "continuation after a message".into(),
            client(&[(true, Text, b"Hel"), (true, Cont, b"lo")]),
            9,
            PE,
        ),
        (
            "text inside a message".into(),
            client(&[(false, Text, b"Hel"), (true, Text, b"lo")]),
            9,
            PE,
        ),
        (
            "binary inside a message".into(),
            client(&[(false, Text, b"Hel"), (true, Binary, b"lo")]),
            9,
            PE,
        ),
        (
            "64-bit top bit".into(),
            raw(b"\x82\xff\x80\0\0\0\0\0\0\0", b""),
            usize::MAX,
            PE,
        ),
        ("16-bit 0".into(), raw(b"\x82\xfe\0\0", b""), 9, PE),
        (
            "16-bit 125".into(),
            raw(b"\x82\xfe\0\x7d", &[0; 125]),
            999,
            PE,
        ),
        (
            "64-bit 0".into(),
            raw(b"\x82\xff\0\0\0\0\0\0\0\0", b""),
            9,
            PE,
        ),
        (
            "64-bit 65535".into(),
            raw(b"\x82\xff\0\0\0\0\0\0\xff\xff", b""),
            1 << 20,
            PE,
        ),
        ("one over max_message".into(), text(b"Hello"), 4, BIG),
        (
            "fragments one over max_message".into(),
            client(&[(false, Text, b"Hel"), (true, Cont, b"lo")]),
            4,
            BIG,
        ),
        (
            "max_message 0".into(),
            client(&[(true, Binary, b"x")]),
            0,
            BIG,
        ),
        (
            "2^40 bytes".into(),
            raw(b"\x82\xff\0\0\x01\0\0\0\0\0", b""),
            1 << 20,
            BIG,
        ),
        ("not UTF-8".into(), text(b"ok\xff"), 9, UTF8),
        ("overlong NUL".into(), text(b"\xc0\x80"), 9, UTF8),
        ("surrogate".into(), text(b"\xed\xa0\x80"), 9, UTF8),
        ("above U+10FFFF".into(), text(b"\xf4\x90\x80\x80"), 9, UTF8),
        ("cut at the end".into(), text(b"a\xe2\x82"), 9, UTF8),
        (
            "bad continuation byte in the next fragment".into(),
            client(&[(false, Text, b"\xe2\x82"), (true, Cont, b"A")]),
            9,
            UTF8,
        ),
        (
            "bad lead byte completed in the next fragment".into(),
            client(&[(false, Text, b"\xf0"), (true, Cont, b"\x80\x80\x80")]),
            9,
            UTF8,
        ),
        (
            "cut before an empty final fragment".into(),
            client(&[(false, Text, b"\xe2"), (true, Cont, b"")]),
            9,
            UTF8,
        ),
        (
            "bad first fragment, message not over".into(),
            client(&[(false, Text, b"\xff"), (false, Cont, b"a")]),
            9,
            UTF8,
        ),
    ];
    for bits in (0x3..=0x7).chain(0xB..=0xF) {
        cases.push((format!("opcode {bits:#x}"), hello(0x80 | bits), 9, PE));
    }
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
        let close = client(&[(true, Close, &code.to_be_bytes())]);
        cases.push((format!("close code {code}"), close, 9, PE));
    }
    for (name, stream, max, code) in cases {
        assert_eq!(decode_every_way(&stream, max).1, Err(code), "{name}");
    }
}

/// Each stream is refused at its last byte (one byte fewer is not refused): a refusal
/// comes as soon as the field that decides it is complete (a 64-bit length is judged
/// whole), an oversized message before its payload, bad UTF-8 at its first bad byte.
#[test]
fn refusals_come_at_the_deciding_byte() {
    const PE: CloseCode = CloseCode::PROTOCOL_ERROR;
    const BIG: CloseCode = CloseCode::TOO_BIG;
    let first = client(&[(false, Binary, b"Hel")]);
    let bad_code = client(&[(true, Close, b"\x03\xed")]);
    let bad_text = client(&[(true, Text, b"ab\xff")]);
    let cases: &[(&str, &[u8], usize, CloseCode)] = &[
        ("RSV1", b"\xc1\x85", 9, PE),
        ("reserved opcode", b"\x83\x85", 9, PE),
        ("unmasked", b"\x81\x05", 9, PE),
        ("close of 1 byte", b"\x88\x81", 9, PE),
        ("ping of 126 bytes", b"\x89\xfe", 9, PE),
        ("fragmented ping", b"\x09\x85", 9, PE),
        ("continuation first", b"\x80\x82", 9, PE),
        ("non-minimal 16-bit", b"\x82\xfe\x00\x7d", 999, PE),
        (
            "64-bit top bit",
            b"\x82\xff\x80\0\0\0\0\0\0\0",
            usize::MAX,
            PE,
        ),
        ("16-bit over max", b"\x82\xfe\x01\x00", 255, BIG),
        (
            "64-bit over max",
            b"\x82\xff\0\0\0\x01\0\0\0\0",
            1 << 20,
            BIG,
        ),
        ("7-bit over max", b"\x82\x85", 4, BIG),
        ("close code 1005", &bad_code, 9, PE),
        ("bad UTF-8", &bad_text, 9, CloseCode::INVALID_PAYLOAD),
    ];
    for &(name, stream, max, code) in cases {
        let shorter = decode_every_way(&stream[..stream.len() - 1], max);
        assert!(shorter.1.is_ok(), "{name}: refused early");
        assert_eq!(decode_every_way(stream, max).1, Err(code), "{name}");
    }
    let over = [&first[..], b"\x80\x82"].concat();
    assert_eq!(decode(&over[..first.len() + 1], 4, []).1, Ok(1));
    assert_eq!(decode(&over, 4, []).1, Err(BIG), "continuation over max");
}

#[test]
fn data_is_delivered_as_it_arrives_unmasked_in_place() {
    let mut dec = Decoder::new(5);
    let mut input = RFC_MASKED_HELLO[..8].to_vec();
    assert_eq!(dec.next(&mut input[..5]), Ok(Step::Need));
    let frame = Step::Frame {
        fin: true,
        opcode: Text,
        len: 5,
        consumed: 6,
    };
    assert_eq!(dec.next(&mut input), Ok(frame));
    assert_eq!(dec.next(&mut input[6..6]), Ok(Step::Need));
    assert_eq!(dec.next(&mut input[6..]), data(2, false));
    assert_eq!(&input[6..], b"He");
    // The rest of the payload, followed by bytes that are not this frame's.
    let mut rest = [&RFC_MASKED_HELLO[8..], RFC_MASKED_HELLO].concat();
    assert_eq!(dec.next(&mut rest), data(3, true));
    assert_eq!(&rest[..3], b"llo");
    assert_eq!(
        &rest[3..],
        RFC_MASKED_HELLO,
        "bytes past the frame untouched"
    );
}

#[test]
fn control_frames_wait_until_whole() {
    let mut dec = Decoder::new(0);
    let mut ping = client(&[(true, Ping, b"Hello")]);
    for cut in 0..ping.len() {
        assert_eq!(dec.next(&mut ping[..cut]), Ok(Step::Need), "cut {cut}");
    }
    let got = dec.next(&mut ping);
    assert!(matches!(
        got,
        Ok(Step::Frame {
            opcode: Ping,
            consumed: 6,
            ..
        })
    ));
    // Even if the caller then offers less, the payload comes whole.
    assert_eq!(dec.next(&mut ping[6..10]), Ok(Step::Need));
    assert_eq!(dec.next(&mut ping[6..]), data(5, true));
    assert_eq!(&ping[6..], b"Hello");
}

#[test]
fn an_empty_frame_gets_one_empty_data() {
    let mut dec = Decoder::new(0);
    let mut input = client(&[(true, Binary, b"")]);
    assert!(matches!(
        dec.next(&mut input),
        Ok(Step::Frame { len: 0, .. })
    ));
    assert_eq!(dec.next(&mut []), data(0, true));
    assert_eq!(dec.next(&mut []), Ok(Step::Need));
}

#[test]
fn message_opcode_follows_the_messages() {
    let frames: &[Frame] = &[
        (false, Text, b"Hel"),
        (true, Ping, b""),
        (true, Cont, b"lo"),
        (true, Binary, b"b"),
    ];
    // After the Frame and the Data step of each frame.
    let want = [Text, Text, Text, Text, Text, Text, Binary, Binary].map(Some);
    let mut dec = Decoder::new(8);
    assert_eq!(dec.message_opcode(), None);
    let (mut buf, mut got) = (client(frames), Vec::new());
    while let Ok(Step::Frame { consumed, .. } | Step::Data { consumed, .. }) = dec.next(&mut buf) {
        buf.drain(..consumed);
        got.push(dec.message_opcode());
    }
    assert_eq!((got, buf.len()), (want.to_vec(), 0));
}

#[test]
fn encoded_frames_decode_back() {
    let p: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let cases: &[&[Frame]] = &[
        &[(true, Text, b"")],
        &[(true, Text, "h\u{e9}llo w\u{f6}rld \u{20ac}".as_bytes())],
        &[(true, Binary, &p[..1])],
        &[(true, Binary, &p[..125])],
        &[(true, Binary, &p[..126])],
        &[(true, Binary, &p[..127])],
        &[(true, Binary, &p[..65535])],
        &[(true, Binary, &p[..65536])],
        &[(true, Binary, &p)],
        &[(true, Ping, &p[..125])],
        &[(true, Pong, b"")],
        &[
            (false, Binary, &p[..300]),
            (true, Ping, b"abc"),
            (false, Cont, b""),
            (true, Cont, &p),
        ],
    ];
    for &frames in cases {
        let mut server = Vec::new();
        for &(fin, opcode, payload) in frames {
            encode_frame(&mut server, fin, opcode, payload);
        }
        assert_eq!(server[1] & MASKED, 0, "server frames are never masked");
        let got = decode(&client(frames), 1 << 20, []);
        assert_eq!(got, (owned(frames), Ok(0)), "{} frames", frames.len());
    }
    let mut close = Vec::new();
    encode_close(&mut close, Some(CloseCode::GOING_AWAY), "shutting down");
    let (frames, verdict) = decode(&mask_as_client(&close), 0, []);
    let reason = parse_close_payload(&frames[0].2);
    let want = Ok(Some((CloseCode::GOING_AWAY, "shutting down")));
    assert_eq!((verdict, reason), (Ok(0), want));
}

#[test]
fn unmask_matches_the_definition_at_every_offset() {
    let data: Vec<u8> = (0..100u8).collect();
    for pos in 0..4 {
        for len in [0, 1, 3, 15, 16, 17, 33, 100] {
            let mut got = data[..len].to_vec();
            unmask(&mut got, KEY, pos);
            let want: Vec<u8> = (0..len).map(|i| data[i] ^ KEY[(pos + i) % 4]).collect();
            assert_eq!(got, want, "pos {pos} len {len}");
        }
    }
}
