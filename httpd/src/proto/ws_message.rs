//! WebSocket message assembly, sans-IO: decoded frames in, what an endpoint sees out (whole
//! messages up to a size limit, or message parts as they arrive, and control frames).

use std::ops::Range;

use super::ws_codec::{CloseCode, Decoder, Opcode, Step};

/// A message buffer that grew larger than this is freed after its message.
const KEEP_MESSAGE_CAPACITY: usize = 4 * 1024;

/// Something the endpoint must see or the session must do. Ranges index the input given to
/// [`Assembler::next`], whose bytes they name are unmasked in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Nothing more until more bytes arrive.
    Need,
    /// A whole control frame (Ping, Pong or Close) with its payload.
    Control { opcode: Opcode, range: Range<usize> },
    /// Message payload as it arrived (with parts delivery); `last` ends the message.
    Part {
        kind: Opcode,
        range: Range<usize>,
        last: bool,
    },
    /// A whole message (whole-message delivery): its payload is [`Assembler::take_message`].
    Message { kind: Opcode },
    /// A whole data frame (frame delivery): its own opcode ([`Opcode::Continuation`] for a
    /// later fragment) and FIN bit; its payload is [`Assembler::take_message`].
    Frame { opcode: Opcode, fin: bool },
    /// The client broke the protocol: close with this code.
    Refused(CloseCode),
}

/// How messages are handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Whole messages, assembled in the assembler's buffer.
    Whole,
    /// Payload as it arrives, without copying.
    Parts,
    /// Each data frame whole, as the client framed it (ESP-IDF's per-frame receive).
    Frames,
}

/// Frames to messages for one connection.
#[derive(Debug)]
pub(crate) struct Assembler {
    decoder: Decoder,
    delivery: Delivery,
    max_message: usize,
    /// The frame whose payload is arriving: its opcode and FIN bit.
    frame: Option<(Opcode, bool)>,
    /// The message ([`Delivery::Whole`]) or frame ([`Delivery::Frames`]) being assembled.
    message: Vec<u8>,
}

impl Assembler {
    pub(crate) fn new(max_message: usize, delivery: Delivery) -> Self {
        Assembler {
            decoder: Decoder::new(max_message),
            delivery,
            max_message,
            frame: None,
            message: Vec::new(),
        }
    }

    /// Decodes `input` up to the next event; returns it and the bytes of `input` used up.
    /// Bytes named by the event's range are among those used.
    pub(crate) fn next(&mut self, input: &mut [u8]) -> (Event, usize) {
        let mut pos = 0;
        loop {
            let (range, last_of_frame) = match self.decoder.next(&mut input[pos..]) {
                Ok(Step::Need) => return (Event::Need, pos),
                Err(code) => return (Event::Refused(code), pos),
                Ok(Step::Frame {
                    fin,
                    opcode,
                    consumed,
                    ..
                }) => {
                    pos += consumed;
                    self.frame = Some((opcode, fin));
                    continue;
                }
                Ok(Step::Data {
                    range,
                    last_of_frame,
                    consumed,
                }) => {
                    let range = pos + range.start..pos + range.end;
                    pos += consumed;
                    (range, last_of_frame)
                }
            };
            let Some((opcode, fin)) = self.frame else {
                return (Event::Refused(CloseCode::PROTOCOL_ERROR), pos);
            };
            if last_of_frame {
                self.frame = None;
            }
            if opcode.is_control() {
                return (Event::Control { opcode, range }, pos);
            }
            let kind = self.decoder.message_opcode().unwrap_or(Opcode::Binary);
            let last = fin && last_of_frame;
            if self.delivery == Delivery::Parts {
                return (Event::Part { kind, range, last }, pos);
            }
            if self.message.len() + range.len() > self.max_message {
                // The decoder checks announced lengths; this is a second line of defence.
                return (Event::Refused(CloseCode::TOO_BIG), pos);
            }
            self.message.extend_from_slice(&input[range]);
            if self.delivery == Delivery::Frames && last_of_frame {
                return (Event::Frame { opcode, fin }, pos);
            }
            if last {
                return (Event::Message { kind }, pos);
            }
        }
    }

    /// Takes the message an [`Event::Message`] announced; give the buffer back with
    /// [`recycle`](Assembler::recycle) once done with it.
    pub(crate) fn take_message(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.message)
    }

    /// Returns a message buffer for reuse (unless it grew large).
    pub(crate) fn recycle(&mut self, mut message: Vec<u8>) {
        message.clear();
        if message.capacity() <= KEEP_MESSAGE_CAPACITY {
            self.message = message;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ws_codec::encode_frame;

    /// A client frame.
    fn frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        crate::proto::ws_codec::client_stream(&[(fin, opcode, payload)])
    }

    /// Every event for `stream`, fed in pieces of `step` bytes, with message payloads.
    fn events(a: &mut Assembler, stream: &[u8], step: usize) -> Vec<(Event, Vec<u8>)> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            let (event, used) = a.next(&mut buf);
            let payload = match &event {
                Event::Control { range, .. } | Event::Part { range, .. } => {
                    buf[range.clone()].to_vec()
                }
                Event::Message { .. } | Event::Frame { .. } => {
                    let m = a.take_message();
                    let copy = m.clone();
                    a.recycle(m);
                    copy
                }
                Event::Need | Event::Refused(_) => Vec::new(),
            };
            buf.drain(..used);
            match event {
                Event::Need if fed == stream.len() => return out,
                Event::Need => {
                    let end = (fed + step).min(stream.len());
                    buf.extend_from_slice(&stream[fed..end]);
                    fed = end;
                }
                Event::Refused(_) => {
                    out.push((event, payload));
                    return out;
                }
                // Empty parts come with empty frames; whether a split adds them is not news.
                Event::Part {
                    ref range,
                    last: false,
                    ..
                } if range.is_empty() => {}
                other => out.push((other, payload)),
            }
        }
    }

    fn fragmented_with_ping() -> Vec<u8> {
        [
            frame(false, Opcode::Text, b"Hel"),
            frame(true, Opcode::Ping, b"?"),
            frame(false, Opcode::Continuation, b"lo, "),
            frame(true, Opcode::Continuation, b"world"),
            frame(true, Opcode::Binary, &[9; 300]),
        ]
        .concat()
    }

    #[test]
    fn whole_messages_at_every_feed_size() {
        let stream = fragmented_with_ping();
        for step in 1..=stream.len() {
            let mut a = Assembler::new(1024, Delivery::Whole);
            let got = events(&mut a, &stream, step);
            let want = vec![
                (
                    Event::Control {
                        opcode: Opcode::Ping,
                        range: 0..0,
                    },
                    b"?".to_vec(),
                ),
                (
                    Event::Message { kind: Opcode::Text },
                    b"Hello, world".to_vec(),
                ),
                (
                    Event::Message {
                        kind: Opcode::Binary,
                    },
                    vec![9; 300],
                ),
            ];
            let strip = |v: Vec<(Event, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
                v.into_iter()
                    .map(|(e, p)| {
                        let name = match e {
                            Event::Control { opcode, .. } => format!("control {opcode:?}"),
                            other => format!("{other:?}"),
                        };
                        (name, p)
                    })
                    .collect()
            };
            assert_eq!(strip(got), strip(want), "step {step}");
        }
    }

    #[test]
    fn parts_arrive_without_assembly_and_the_last_one_says_so() {
        let stream = fragmented_with_ping();
        for step in [1, 7, stream.len()] {
            let mut a = Assembler::new(1024, Delivery::Parts);
            let mut text = Vec::new();
            let mut ends = 0;
            for (event, payload) in events(&mut a, &stream, step) {
                if let Event::Part { kind, last, .. } = event {
                    if kind == Opcode::Text {
                        text.extend(payload);
                    }
                    ends += usize::from(last);
                }
            }
            assert_eq!(text, b"Hello, world", "step {step}");
            assert_eq!(ends, 2, "step {step}");
        }
    }

    #[test]
    fn frames_arrive_whole_with_their_own_opcode_and_fin() {
        let stream = fragmented_with_ping();
        for step in 1..=stream.len() {
            let mut a = Assembler::new(1024, Delivery::Frames);
            let got: Vec<(Event, Vec<u8>)> = events(&mut a, &stream, step)
                .into_iter()
                .filter(|(e, _)| !matches!(e, Event::Control { .. }))
                .collect();
            let frame = |opcode, fin| Event::Frame { opcode, fin };
            let want = vec![
                (frame(Opcode::Text, false), b"Hel".to_vec()),
                (frame(Opcode::Continuation, false), b"lo, ".to_vec()),
                (frame(Opcode::Continuation, true), b"world".to_vec()),
                (frame(Opcode::Binary, true), vec![9; 300]),
            ];
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn a_message_over_the_limit_is_refused_with_1009() {
        let stream = [
            frame(false, Opcode::Binary, &[1; 60]),
            frame(true, Opcode::Continuation, &[2; 60]),
        ]
        .concat();
        let mut a = Assembler::new(100, Delivery::Whole);
        let got = events(&mut a, &stream, stream.len());
        assert_eq!(
            got.last().map(|(e, _)| e.clone()),
            Some(Event::Refused(CloseCode::TOO_BIG))
        );
    }

    #[test]
    fn an_unmasked_frame_is_refused() {
        let mut stream = Vec::new();
        encode_frame(&mut stream, true, Opcode::Text, b"hi");
        let mut a = Assembler::new(100, Delivery::Whole);
        let got = events(&mut a, &stream, 1);
        assert_eq!(
            got,
            vec![(Event::Refused(CloseCode::PROTOCOL_ERROR), Vec::new())]
        );
    }
}
