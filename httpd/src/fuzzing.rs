//! Entry points for fuzzing and randomized tests: the sans-IO cores, with their invariants
//! checked. Not part of the public API (only with the `fuzzing` feature, hidden from docs).

use crate::parse::{self, ChunkedDecoder, Framing, HeaderSpan, Limits};

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

#[cfg(test)]
mod tests {
    use super::*;

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
        let seed = std::env::var("HTTPD_RANDOM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1234_u64);
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
}
