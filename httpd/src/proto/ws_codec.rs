//! The WebSocket (RFC 6455) codec, server side: the handshake's accept key, a streaming frame
//! decoder that unmasks client payloads in place, and the frame encoder. Sans-IO: bytes in,
//! frames out; "need more bytes" is [`Step::Need`], a refusal is the [`CloseCode`] the server
//! must close the connection with.

use std::ops::Range;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// The opcode of a WebSocket frame (RFC 6455 section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `0x0`: a later fragment of the message in progress.
    Continuation,
    /// `0x1`: the first (or only) frame of a UTF-8 text message.
    Text,
    /// `0x2`: the first (or only) frame of a binary message.
    Binary,
    /// `0x8`: the closing handshake.
    Close,
    /// `0x9`: a liveness check, answered with a [`Opcode::Pong`] carrying the same payload.
    Ping,
    /// `0xA`: the answer to a ping, or an unsolicited heartbeat.
    Pong,
}

impl Opcode {
    /// The opcode for a frame's 4-bit opcode field, or `None` for a value RFC 6455 reserves
    /// (`0x3`-`0x7`, `0xB`-`0xF`) or one that does not fit in 4 bits.
    pub fn from_u8(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// The value of the frame's 4-bit opcode field.
    pub fn as_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong (section 5.5): at most 125 bytes of payload, never fragmented,
    /// and allowed between the fragments of a data message.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A close status code (RFC 6455 section 7.4): the first two bytes of a Close frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutting down, browser leaving the page).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a kind of data the endpoint cannot accept (e.g. binary on a text-only endpoint).
    pub const UNSUPPORTED: CloseCode = CloseCode(1003);
    /// 1007: data inconsistent with its message type, e.g. a text message that is not UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message that violates the endpoint's policy (the generic refusal).
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL: CloseCode = CloseCode(1011);

    /// Whether a peer may send this code in a Close frame (section 7.4 and the IANA registry).
    ///
    /// Valid: 1000-1003, 1007-1011, 1012-1014 (registered by IANA after the RFC: service
    /// restart, try again later, bad gateway), 3000-3999 (registered for libraries and
    /// frameworks) and 4000-4999 (private use). Invalid: below 1000 (unused), 1004 (reserved),
    /// 1005, 1006 and 1015 (they stand for "no code", "abnormal closure" and "TLS failure" in
    /// APIs and must never appear on the wire), 1016-2999 (reserved for future RFCs) and 5000
    /// and above (undefined).
    pub fn is_valid_received(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// The GUID that section 1.3 appends to the client's key to compute the accept key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value that answers a `Sec-WebSocket-Key` (section 4.2.2):
/// base64 of the SHA-1 of the key followed by the GUID.
///
/// Returns `None` when the key, surrounding whitespace trimmed, is not the base64 encoding of
/// exactly 16 bytes (section 4.1: a random 16-byte nonce); the server then answers 400
/// instead of switching protocols.
pub(crate) fn accept_key(client_key: &str) -> Option<String> {
    let key = client_key.trim();
    // Decoding allocates, but only once per handshake: the strict decoder (canonical padding
    // and trailing bits) is worth more here than avoiding one small Vec.
    if BASE64.decode(key).ok()?.len() != 16 {
        return None;
    }
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(ACCEPT_GUID.as_bytes());
    Some(BASE64.encode(sha1.digest().bytes()))
}

/// Largest payload of a control frame (section 5.5); also bounds a Close frame's payload.
const MAX_CONTROL_PAYLOAD: usize = 125;
// The two fixed header bytes (section 5.2).
const FIN: u8 = 0x80;
const RSV: u8 = 0x70;
const OPCODE: u8 = 0x0F;
const MASKED: u8 = 0x80;
const LEN: u8 = 0x7F;
/// A 7-bit length of 126: the length follows in 16 bits.
const LEN_16: u8 = 126;
/// A 7-bit length of 127: the length follows in 64 bits.
const LEN_64: u8 = 127;
/// Bytes of a client frame's masking key.
const MASK_KEY_LEN: usize = 4;

/// What [`Decoder::next`] found at the start of its input.
///
/// For every frame the decoder reports one [`Step::Frame`] and then one or more
/// [`Step::Data`], the last with `last_of_frame` set; a frame with an empty payload gets one
/// empty `Data` too, so "the frame is over" always arrives the same way. A message ends at
/// the last `Data` of a data frame whose `fin` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing complete enough to report: call again with the same bytes and more. Nothing
    /// was consumed.
    Need,
    /// A frame header (`consumed` bytes, mask key included). `opcode` is the frame's own:
    /// [`Opcode::Continuation`] for a later fragment, whose message kind is
    /// [`Decoder::message_opcode`]. A control frame is reported only once its whole payload
    /// is in the input, so that its `Data` follows at once.
    Frame {
        fin: bool,
        opcode: Opcode,
        len: u64,
        consumed: usize,
    },
    /// Payload bytes of the current frame, unmasked in place at `input[range]`; `range`
    /// starts at 0 and `consumed == range.end`. As many bytes as the input holds, up to the
    /// end of the frame: never empty unless the frame's payload is. A control frame's
    /// payload comes whole in one `Data`.
    Data {
        range: Range<usize>,
        last_of_frame: bool,
        consumed: usize,
    },
}

/// Decodes the frames a client sends, validating them as RFC 6455 requires of a server.
///
/// Streaming and in place: [`Decoder::next`] takes the received bytes not yet consumed,
/// unmasks payload bytes where they lie and says how many bytes it consumed, so the caller
/// can hand a large message on in parts without copying it. No allocation.
#[derive(Debug, Clone)]
pub(crate) struct Decoder {
    state: State,
    message: Message,
    /// Validates the text message in progress across parts and fragments.
    utf8: Utf8Carry,
    /// Largest total payload of a data message; control frames are bounded by 125 instead.
    max_message: u64,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for a frame header.
    Header,
    /// Inside a frame's payload.
    Payload(Payload),
    /// The stream was refused with this code: every later call returns it again, so a caller
    /// that goes on cannot decode garbage as frames.
    Failed(CloseCode),
}

/// The frame whose payload is being delivered.
#[derive(Debug, Clone, Copy)]
struct Payload {
    opcode: Opcode,
    fin: bool,
    /// Payload bytes not yet delivered.
    remaining: u64,
    mask: [u8; MASK_KEY_LEN],
    /// Index in `mask` of the key byte for the next payload byte. INVARIANT: < 4.
    mask_pos: usize,
}

/// Where the decoder is among data messages.
#[derive(Debug, Clone, Copy)]
enum Message {
    /// Between messages. `last` is the previous message's opcode: kept so that
    /// [`Decoder::message_opcode`] still answers while the caller handles its final `Data`.
    Idle { last: Option<Opcode> },
    /// A data message has started and the payload of its final fragment has not been
    /// delivered to its end. INVARIANT: `opcode` is Text or Binary; `received` (the payload
    /// lengths of its frames so far, announced by their headers) <= `max_message`.
    Open { opcode: Opcode, received: u64 },
}

impl Decoder {
    /// A decoder that refuses (with [`CloseCode::TOO_BIG`]) a data message whose fragments
    /// add up to more than `max_message` payload bytes.
    pub(crate) fn new(max_message: usize) -> Decoder {
        Decoder {
            state: State::Header,
            message: Message::Idle { last: None },
            utf8: Utf8Carry::default(),
            max_message: u64::try_from(max_message).unwrap_or(u64::MAX),
        }
    }

    /// Text or Binary: the kind of the message the latest data frame belongs to. Set by the
    /// header of a message's first frame and kept until the next message's first header
    /// (control frames in between do not change it); `None` before the first data frame.
    pub(crate) fn message_opcode(&self) -> Option<Opcode> {
        match self.message {
            Message::Open { opcode, .. } => Some(opcode),
            Message::Idle { last } => last,
        }
    }

    /// Decodes the next step from `input`, the received bytes not yet consumed (the caller
    /// drops `consumed` bytes from its front after each step).
    ///
    /// # Errors
    /// The code to close the connection with, once the input breaks the protocol: reserved
    /// bits or opcodes, an unmasked frame, a fragmented or long control frame, a length not
    /// in its minimal encoding or with its top bit set, fragments out of order (all
    /// [`CloseCode::PROTOCOL_ERROR`]); a message over the limit, refused at the header that
    /// takes it over ([`CloseCode::TOO_BIG`]); a text message or Close reason that is not
    /// UTF-8 ([`CloseCode::INVALID_PAYLOAD`]); a Close payload that is not empty, nor a
    /// valid code and a reason ([`parse_close_payload`]). After an error, every call returns
    /// the same error.
    pub(crate) fn next(&mut self, input: &mut [u8]) -> Result<Step, CloseCode> {
        let step = match self.state {
            State::Header => self.header(input),
            State::Payload(frame) => self.payload(input, frame),
            State::Failed(code) => Err(code),
        };
        if let Err(code) = step {
            self.state = State::Failed(code);
        }
        step
    }

    fn header(&mut self, input: &[u8]) -> Result<Step, CloseCode> {
        // Each check runs as soon as its bytes are there, in a fixed order, so the verdict
        // does not depend on how the stream was split.
        let [b0, b1, ..] = *input else {
            return Ok(Step::Need);
        };
        // No extension is negotiated, so no reserved bit may be set (section 5.2).
        if b0 & RSV != 0 {
            return Err(CloseCode::PROTOCOL_ERROR);
        }
        let opcode = Opcode::from_u8(b0 & OPCODE).ok_or(CloseCode::PROTOCOL_ERROR)?;
        // Section 5.1: a server must close the connection on a frame that is not masked.
        if b1 & MASKED == 0 {
            return Err(CloseCode::PROTOCOL_ERROR);
        }
        let fin = b0 & FIN != 0;
        let len7 = b1 & LEN;
        let data = if opcode.is_control() {
            // Section 5.5: never fragmented, at most 125 bytes; a Close payload is empty or
            // starts with a 2-byte code (5.5.1).
            if !fin
                || usize::from(len7) > MAX_CONTROL_PAYLOAD
                || (opcode == Opcode::Close && len7 == 1)
            {
                return Err(CloseCode::PROTOCOL_ERROR);
            }
            None
        } else {
            Some(self.message_for(opcode)?)
        };
        // Section 5.2: the length MUST use the minimal encoding, and a 64-bit length has its
        // top bit clear. A non-minimal length is refused rather than tolerated: nothing
        // conforming sends one, and a decoder that accepts only one encoding per frame keeps
        // the stream unambiguous.
        let (len, len_bytes) = match len7 {
            LEN_16 => {
                let Some(&[hi, lo]) = input.get(2..4) else {
                    return Ok(Step::Need);
                };
                let len = u16::from_be_bytes([hi, lo]);
                if len < u16::from(LEN_16) {
                    return Err(CloseCode::PROTOCOL_ERROR);
                }
                (u64::from(len), 2)
            }
            LEN_64 => {
                let Some(bytes) = input.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                    return Ok(Step::Need);
                };
                let len = u64::from_be_bytes(bytes);
                if len >> 63 != 0 || len <= u64::from(u16::MAX) {
                    return Err(CloseCode::PROTOCOL_ERROR);
                }
                (len, 8)
            }
            short => (u64::from(short), 0),
        };
        // Refused at the header, before any of the payload is read or buffered.
        if let Some((_, received)) = data {
            if received.saturating_add(len) > self.max_message {
                return Err(CloseCode::TOO_BIG);
            }
        }
        let header_len = 2 + len_bytes + MASK_KEY_LEN;
        let Some(mask) = input
            .get(header_len - MASK_KEY_LEN..header_len)
            .and_then(|m| <[u8; MASK_KEY_LEN]>::try_from(m).ok())
        else {
            return Ok(Step::Need);
        };
        match data {
            // Control frames are tiny: waiting for the whole frame lets the caller handle one
            // without keeping partial state, and lets a bad Close be refused at its header.
            None => {
                let Some(payload) = input.get(header_len..header_len + usize::from(len7)) else {
                    return Ok(Step::Need);
                };
                if opcode == Opcode::Close {
                    check_close(payload, mask)?;
                }
            }
            Some((opcode, received)) => {
                self.message = Message::Open {
                    opcode,
                    received: received.saturating_add(len),
                };
            }
        }
        self.state = State::Payload(Payload {
            opcode,
            fin,
            remaining: len,
            mask,
            mask_pos: 0,
        });
        Ok(Step::Frame {
            fin,
            opcode,
            len,
            consumed: header_len,
        })
    }

    /// For a data frame's header: the message it belongs to and the payload that message
    /// already has (section 5.4 fragmentation rules).
    fn message_for(&self, opcode: Opcode) -> Result<(Opcode, u64), CloseCode> {
        match (opcode, self.message) {
            (Opcode::Continuation, Message::Open { opcode, received }) => Ok((opcode, received)),
            // Nothing to continue.
            (Opcode::Continuation, Message::Idle { .. }) => Err(CloseCode::PROTOCOL_ERROR),
            // A new message before the previous one's final fragment.
            (_, Message::Open { .. }) => Err(CloseCode::PROTOCOL_ERROR),
            (_, Message::Idle { .. }) => Ok((opcode, 0)),
        }
    }

    fn payload(&mut self, input: &mut [u8], frame: Payload) -> Result<Step, CloseCode> {
        let n = usize::try_from(frame.remaining).map_or(input.len(), |r| r.min(input.len()));
        let remaining = frame.remaining - n as u64;
        let last_of_frame = remaining == 0;
        // An empty input has nothing to deliver (unless the frame is empty); a control
        // frame is delivered whole (its header was only reported once it was all there).
        if !last_of_frame && (n == 0 || frame.opcode.is_control()) {
            return Ok(Step::Need);
        }
        let part = &mut input[..n];
        unmask(part, frame.mask, frame.mask_pos);
        let message_end = last_of_frame && frame.fin && !frame.opcode.is_control();
        if !frame.opcode.is_control() {
            if let Message::Open {
                opcode: Opcode::Text,
                ..
            } = self.message
            {
                // Validated as it arrives, so a bad text message is refused at its first bad
                // byte, not after it has been handed on in parts.
                self.utf8.feed(part)?;
                if message_end {
                    self.utf8.finish()?;
                }
            }
        }
        if message_end {
            self.message = Message::Idle {
                last: self.message_opcode(),
            };
        }
        self.state = if last_of_frame {
            State::Header
        } else {
            State::Payload(Payload {
                remaining,
                mask_pos: (frame.mask_pos + n) % MASK_KEY_LEN,
                ..frame
            })
        };
        Ok(Step::Data {
            range: 0..n,
            last_of_frame,
            consumed: n,
        })
    }
}

/// A Close frame's masked payload (at most 125 bytes) is empty, or a valid code and a UTF-8
/// reason. Checked on a copy so the input is unmasked only once, when it is delivered.
fn check_close(masked: &[u8], mask: [u8; MASK_KEY_LEN]) -> Result<(), CloseCode> {
    let mut copy = [0u8; MAX_CONTROL_PAYLOAD];
    let payload = copy
        .get_mut(..masked.len())
        .ok_or(CloseCode::PROTOCOL_ERROR)?;
    payload.copy_from_slice(masked);
    unmask(payload, mask, 0);
    parse_close_payload(payload).map(|_| ())
}

/// XORs `data` with the masking key (section 5.3), `pos` being the key index of `data[0]`.
fn unmask(data: &mut [u8], mask: [u8; MASK_KEY_LEN], pos: usize) {
    // Rotate the key to start at `pos`, then work in 16-byte blocks the compiler vectorizes
    // (a byte-by-byte `mask[(pos + i) % 4]` does not): this is the decoder's hot loop.
    let key: [u8; 16] = std::array::from_fn(|i| mask[(pos + i) % MASK_KEY_LEN]);
    let mut blocks = data.chunks_exact_mut(key.len());
    for block in &mut blocks {
        for (byte, k) in block.iter_mut().zip(key) {
            *byte ^= k;
        }
    }
    for (byte, k) in blocks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Incremental UTF-8 validation of a text message delivered in parts: the first bytes of a
/// character cut at a part or fragment boundary wait here for the rest.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8Carry {
    bytes: [u8; 4],
    /// INVARIANT: < 4, and `bytes[..len]` is a proper prefix of a valid UTF-8 sequence.
    len: usize,
}

impl Utf8Carry {
    /// Validates the next part of the message.
    fn feed(&mut self, mut part: &[u8]) -> Result<(), CloseCode> {
        if self.len > 0 {
            // Complete the carried character first, with as many bytes as it still needs.
            let width: usize = match self.bytes[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = width.saturating_sub(self.len).min(part.len());
            let end = self.len + take;
            let (Some(dst), Some(src)) = (self.bytes.get_mut(self.len..end), part.get(..take))
            else {
                return Err(CloseCode::INVALID_PAYLOAD);
            };
            dst.copy_from_slice(src);
            part = &part[take..];
            match std::str::from_utf8(&self.bytes[..end]) {
                Ok(_) => self.len = 0,
                // Still cut short: the part is used up, keep waiting.
                Err(e) if e.error_len().is_none() => {
                    self.len = end;
                    return Ok(());
                }
                Err(_) => return Err(CloseCode::INVALID_PAYLOAD),
            }
        }
        match std::str::from_utf8(part) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // Valid but for a character cut short at the end (1-3 bytes): carry it.
                let tail = &part[e.valid_up_to()..];
                let Some(dst) = self.bytes.get_mut(..tail.len()) else {
                    return Err(CloseCode::INVALID_PAYLOAD);
                };
                dst.copy_from_slice(tail);
                self.len = tail.len();
                Ok(())
            }
            Err(_) => Err(CloseCode::INVALID_PAYLOAD),
        }
    }

    /// The message has ended: a character still cut short is invalid.
    fn finish(&mut self) -> Result<(), CloseCode> {
        if self.len == 0 {
            Ok(())
        } else {
            Err(CloseCode::INVALID_PAYLOAD)
        }
    }
}

/// Reads a Close frame's payload (section 5.5.1): `None` when empty, else the code and the
/// reason.
///
/// # Errors
/// [`CloseCode::PROTOCOL_ERROR`] for a 1-byte payload, one over 125 bytes, or a code a peer
/// may not send ([`CloseCode::is_valid_received`]); [`CloseCode::INVALID_PAYLOAD`] for a
/// reason that is not UTF-8.
pub(crate) fn parse_close_payload(payload: &[u8]) -> Result<Option<(CloseCode, &str)>, CloseCode> {
    match payload {
        [] => Ok(None),
        _ if payload.len() > MAX_CONTROL_PAYLOAD => Err(CloseCode::PROTOCOL_ERROR),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid_received() {
                return Err(CloseCode::PROTOCOL_ERROR);
            }
            let reason = std::str::from_utf8(reason).map_err(|_| CloseCode::INVALID_PAYLOAD)?;
            Ok(Some((code, reason)))
        }
        [_] => Err(CloseCode::PROTOCOL_ERROR),
    }
}

/// Appends a server frame header (never masked, section 5.1) with the length in its minimal
/// encoding. The caller keeps control frames whole and at most 125 bytes, and `len` below
/// 2^63 (a slice's length always is).
pub(crate) fn encode_header(out: &mut Vec<u8>, fin: bool, opcode: Opcode, len: u64) {
    debug_assert!(
        !opcode.is_control() || (fin && len <= MAX_CONTROL_PAYLOAD as u64),
        "a control frame must be whole and at most 125 bytes"
    );
    let b0 = if fin { FIN } else { 0 } | opcode.as_u8();
    match len {
        0..=125 => out.extend_from_slice(&[b0, len as u8]),
        126..=0xFFFF => {
            out.extend_from_slice(&[b0, LEN_16]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.extend_from_slice(&[b0, LEN_64]);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

/// Appends a whole server frame: header and payload.
pub(crate) fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: Opcode, payload: &[u8]) {
    out.reserve(10 + payload.len());
    encode_header(out, fin, opcode, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Appends a Close frame. With a code, the payload is the code and `reason`, the reason cut to
/// 123 bytes (the 125-byte control limit less the code) on a character boundary; without
/// one, the payload is empty and `reason` is not sent (a reason needs a code, section
/// 5.5.1). The caller sends only codes that [`CloseCode::is_valid_received`] accepts.
pub(crate) fn encode_close(out: &mut Vec<u8>, code: Option<CloseCode>, reason: &str) {
    let Some(code) = code else {
        encode_header(out, true, Opcode::Close, 0);
        return;
    };
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    encode_header(out, true, Opcode::Close, 2 + reason.len() as u64);
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(reason);
}

/// Frames as a client sends them, masked with RFC 6455's example key (for tests).
#[cfg(test)]
pub(crate) fn client_stream(frames: &[(bool, Opcode, &[u8])]) -> Vec<u8> {
    const KEY: [u8; MASK_KEY_LEN] = [0x37, 0xfa, 0x21, 0x3d];
    let mut stream = Vec::new();
    for &(fin, opcode, payload) in frames {
        let start = stream.len();
        encode_header(&mut stream, fin, opcode, payload.len() as u64);
        stream[start + 1] |= MASKED;
        stream.extend(KEY);
        stream.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    }
    stream
}

#[cfg(test)]
mod tests;
