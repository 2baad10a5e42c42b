//! The `Transfer-Encoding: chunked` request body decoder. Sans-IO: bytes in, decoded bytes
//! out; an incomplete size line or trailer is left unconsumed until more bytes arrive.

/// Why a chunked body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// Bad chunk size line or chunk framing.
    Malformed,
    /// A size line, extension or trailer section longer than the decoder allows.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// Decodes a `Transfer-Encoding: chunked` body. Extensions are ignored, trailers are read and
/// discarded; both are bounded.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    trailer_len: usize,
    max_line: usize,
}

impl ChunkedDecoder {
    /// `max_line` bounds one size line (with extensions) and the whole trailer section.
    pub(crate) fn new(max_line: usize) -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            trailer_len: 0,
            max_line,
        }
    }

    /// The final chunk and trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes from `input` into `out`; returns `(consumed, produced)`. Stops when the body is
    /// done, `out` is full, or `input` ends in the middle of a size line or trailer (those bytes
    /// are not consumed: call again with them and more).
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), ChunkError> {
        let (mut pos, mut produced) = (0, 0);
        loop {
            let rest = &input[pos..];
            match self.state {
                ChunkState::Done => break,
                ChunkState::Size => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > self.max_line {
                            return Err(ChunkError::TooLong);
                        }
                        if !plausible_size_line(rest) {
                            return Err(ChunkError::Malformed);
                        }
                        break;
                    };
                    if nl + 1 > self.max_line {
                        return Err(ChunkError::TooLong);
                    }
                    // A bare LF ends nothing: refused at once, not waited on.
                    let line = rest[..nl]
                        .strip_suffix(b"\r")
                        .ok_or(ChunkError::Malformed)?;
                    let size = parse_size_line(line)?;
                    pos += nl + 1;
                    self.state = if size == 0 {
                        ChunkState::Trailer
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let room = out.len() - produced;
                    if room == 0 || rest.is_empty() {
                        break;
                    }
                    let n = rest
                        .len()
                        .min(room)
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    out[produced..produced + n].copy_from_slice(&rest[..n]);
                    produced += n;
                    pos += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = ChunkState::Size;
                    }
                    [] | [b'\r'] => break,
                    _ => return Err(ChunkError::Malformed),
                },
                ChunkState::Trailer => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if self.trailer_len + rest.len() > self.max_line {
                            return Err(ChunkError::TooLong);
                        }
                        break;
                    };
                    let line = &rest[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    pos += nl + 1;
                    if line.is_empty() {
                        self.state = ChunkState::Done;
                        continue;
                    }
                    self.trailer_len += nl + 1;
                    if self.trailer_len > self.max_line {
                        return Err(ChunkError::TooLong);
                    }
                    if !valid_trailer(line) {
                        return Err(ChunkError::Malformed);
                    }
                }
            }
        }
        Ok((pos, produced))
    }
}

/// A chunk size line without its CRLF (RFC 9112 7.1): `1*HEXDIG`, then extensions, each
/// `BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ]`. Whitespace after the size is
/// allowed only before a `;`.
fn parse_size_line(line: &[u8]) -> Result<u64, ChunkError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkError::Malformed);
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let d = (b as char).to_digit(16).unwrap_or(0);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(d)))
            .ok_or(ChunkError::Malformed)?;
    }
    let mut rest = &line[digits..];
    loop {
        rest = skip_ws(rest);
        match rest {
            [] if line.len() == digits || line.last().is_some_and(|&b| !is_ws(b)) => {
                return Ok(size)
            }
            [b';', tail @ ..] => {
                let tail = skip_ws(tail);
                let name = token_len(tail);
                if name == 0 {
                    return Err(ChunkError::Malformed);
                }
                rest = &tail[name..];
                let after = skip_ws(rest);
                if let [b'=', value @ ..] = after {
                    let value = skip_ws(value);
                    let n = match value.first() {
                        Some(b'"') => quoted_len(value).ok_or(ChunkError::Malformed)?,
                        _ => token_len(value),
                    };
                    if n == 0 {
                        return Err(ChunkError::Malformed);
                    }
                    rest = &value[n..];
                }
            }
            _ => return Err(ChunkError::Malformed),
        }
    }
}

/// Whether an unfinished size line can still become a valid one (so a line that cannot is
/// refused at once, not after the receive timeout).
fn plausible_size_line(part: &[u8]) -> bool {
    match part.first() {
        None => true,
        Some(b) if !b.is_ascii_hexdigit() => false,
        Some(_) => part.iter().enumerate().all(|(i, &b)| {
            b == b'\t' || (b >= 0x20 && b != 0x7f) || (b == b'\r' && i == part.len() - 1)
        }),
    }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_ws(b)).count();
    &s[n..]
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn token_len(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| is_tchar(b)).count()
}

/// The length of the quoted-string at the start of `s` (which starts with `"`), quotes
/// included.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i + 1),
            b'\\'
                if s.get(i + 1)
                    .is_some_and(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)) =>
            {
                i += 2
            }
            b'\t' | 0x20..=0x7e | 0x80..=0xff if s[i] != 0x7f && s[i] != b'\\' => i += 1,
            _ => return None,
        }
    }
    None
}

/// A trailer field line: a token name, a colon, a value without control characters.
fn valid_trailer(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    !name.is_empty()
        && name.iter().all(|&b| is_tchar(b))
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Skips chunked body bytes in `input` without keeping them; returns how many were used.
/// Stops at the end of the body or of `input`.
pub(crate) fn skip(decoder: &mut ChunkedDecoder, input: &[u8]) -> Result<usize, ChunkError> {
    let mut sink = [0u8; 1024];
    let mut used = 0;
    while !decoder.is_done() {
        let (c, p) = decoder.decode(&input[used..], &mut sink)?;
        used += c;
        if c == 0 && p == 0 {
            break;
        }
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(body: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut dec = ChunkedDecoder::new(64);
        let (mut out, mut pos, mut avail) = (Vec::new(), 0, 0);
        let mut buf = [0u8; 7];
        while !dec.is_done() {
            avail = (avail + step).min(body.len());
            let (c, p) = dec.decode(&body[pos..avail], &mut buf)?;
            out.extend_from_slice(&buf[..p]);
            pos += c;
            if avail == body.len() && c == 0 && p == 0 && !dec.is_done() {
                break;
            }
        }
        Ok((out, pos))
    }

    #[test]
    fn chunked_bodies_at_every_feed_size() {
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (out, used) =
                decode_all(body, step).unwrap_or_else(|e| panic!("step {step}: {e:?}"));
            assert_eq!(out, b"hello world", "step {step}");
            assert_eq!(used, body.len() - 4, "step {step}");
        }
        // Chunk framing needs CRLF (httparse's chunk-size rule); bare LF is refused.
        assert_eq!(
            decode_all(b"3\nabc\r\n0\r\n\r\n", 1).err(),
            Some(ChunkError::Malformed)
        );
        assert_eq!(
            decode_all(b"3\r\nabc\n0\r\n\r\n", 1).err(),
            Some(ChunkError::Malformed)
        );
    }

    #[test]
    fn malformed_chunked_bodies() {
        let cases: &[(&[u8], ChunkError)] = &[
            (b"zz\r\n", ChunkError::Malformed),
            (b"3\r\nabcX\r\n", ChunkError::Malformed),
            (b"ffffffffffffffffff\r\n", ChunkError::Malformed),
            (b"-1\r\n", ChunkError::Malformed),
            (b"0\r\nBad Trailer\r\n\r\n", ChunkError::Malformed),
        ];
        for (body, want) in cases {
            assert_eq!(decode_all(body, body.len()).err(), Some(*want), "{body:?}");
        }
        let long_ext = format!("1;{}\r\n", "e".repeat(100));
        assert_eq!(
            decode_all(long_ext.as_bytes(), long_ext.len()).err(),
            Some(ChunkError::TooLong)
        );
    }

    #[test]
    fn chunk_size_line_grammar() {
        let ok: &[(&str, u64)] = &[
            ("5", 5),
            ("00005", 5),
            ("aB", 0xab),
            ("5;a", 5),
            ("5;a=b", 5),
            ("5 ;a=b", 5),
            ("5\t; a = b", 5),
            ("5;a=\"quoted; \\\" x\"", 5),
            ("5;a;b=c;d=\"\"", 5),
            ("ffffffffffffffff", u64::MAX),
        ];
        for (line, size) in ok {
            assert_eq!(parse_size_line(line.as_bytes()), Ok(*size), "{line:?}");
        }
        let bad = [
            "",
            " 5",
            "5 ",
            "5\t",
            "x",
            "+5",
            "-5",
            "0x5",
            "5;",
            "5; ",
            "5;=b",
            "5;a=",
            "5;a= ",
            "5;a b",
            "5;a=b c",
            "5;a=\"open",
            "5;a=\"x\"y",
            "5;a=b;",
            "5 5",
            "5;a\x01",
            "5;a=\x7f",
            "5\x00",
            "10000000000000000",
            "5,a",
        ];
        for line in bad {
            assert_eq!(
                parse_size_line(line.as_bytes()),
                Err(ChunkError::Malformed),
                "{line:?}"
            );
        }
    }

    #[test]
    fn bad_size_lines_are_refused_before_their_end() {
        // Bare LF endings and impossible starts are refused at once, without waiting for more.
        for input in ["5\nhello", "z", ";", " ", "5;\x01"] {
            let mut dec = ChunkedDecoder::new(64);
            assert_eq!(
                dec.decode(input.as_bytes(), &mut [0; 16]).err(),
                Some(ChunkError::Malformed),
                "{input:?}"
            );
        }
        let mut dec = ChunkedDecoder::new(64);
        assert_eq!(dec.decode(b"5;a=b\r", &mut [0; 16]), Ok((0, 0)));
    }
}
