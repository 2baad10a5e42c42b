//! A response body pulled from its source as the transport drains: a reader or a file, of
//! known or unknown length, framed as it is read. A file may instead be handed to the
//! transport to send without copying (`sendfile` on Linux TCP).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use super::transport::Transport;
use crate::proto::response::{self, LAST_CHUNK};

/// How much of a source is read into the output at a time.
pub(crate) const PULL_LEN: usize = 16 * 1024;

/// How the pulled bytes are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceFraming {
    /// `Content-Length` was sent: exactly this many bytes are still owed.
    Length(u64),
    /// `Transfer-Encoding: chunked`: each read becomes a chunk; the last chunk ends it.
    Chunked,
    /// No framing: the body ends when the connection closes (HTTP/1.0).
    UntilClose,
}

/// The most one zero-copy send asks for; the socket's free space limits it anyway.
const SEND_FILE_MAX: usize = 1 << 20;

/// A body being streamed.
pub(crate) struct Source {
    origin: Origin,
    framing: SourceFraming,
}

/// Where the bytes come from.
enum Origin {
    Reader(Box<dyn Read + Send>),
    /// A file from `offset` on; its framing is always a length.
    File {
        file: File,
        offset: u64,
    },
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

/// What one pull did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pulled {
    /// Bytes were appended; there may be more.
    More,
    /// The body is complete (its end, if framed, is appended).
    Done,
    /// The source failed or ended short of its announced length: the body cannot be completed,
    /// the connection must close.
    Broken,
}

impl Source {
    pub(crate) fn new(reader: Box<dyn Read + Send>, framing: SourceFraming) -> Self {
        Source {
            origin: Origin::Reader(reader),
            framing,
        }
    }

    /// `len` bytes of `file` from `offset`.
    pub(crate) fn file(file: File, offset: u64, len: u64) -> Self {
        Source {
            origin: Origin::File { file, offset },
            framing: SourceFraming::Length(len),
        }
    }

    /// Bytes still to come of a body of known length (0 otherwise).
    pub(crate) fn length_left(&self) -> u64 {
        match self.framing {
            SourceFraming::Length(left) => left,
            _ => 0,
        }
    }

    /// Sends the next part of a file body straight from the file to `transport`, when both
    /// can (no copy through the output buffer). `None`: not a file, or the transport cannot;
    /// pull instead. A file shorter than announced breaks the body.
    ///
    /// # Errors
    /// The transport's: `WouldBlock` when the socket is full.
    pub(crate) fn send_file(
        &mut self,
        transport: &mut impl Transport,
    ) -> Option<io::Result<Pulled>> {
        let Origin::File { file, offset } = &mut self.origin else {
            return None;
        };
        let SourceFraming::Length(left) = self.framing else {
            return None;
        };
        if left == 0 {
            return Some(Ok(Pulled::Done));
        }
        let want = usize::try_from(left)
            .unwrap_or(SEND_FILE_MAX)
            .min(SEND_FILE_MAX);
        match transport.send_file(file, offset, want)? {
            Ok(0) => {
                log::debug!("file body ended {left} bytes short");
                Some(Ok(Pulled::Broken))
            }
            Ok(n) => {
                let left = left - n as u64;
                self.framing = SourceFraming::Length(left);
                Some(Ok(if left == 0 {
                    Pulled::Done
                } else {
                    Pulled::More
                }))
            }
            Err(e) => Some(Err(e)),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.origin {
            Origin::Reader(reader) => reader.read(buf),
            Origin::File { file, offset } => {
                #[cfg(unix)]
                let n = std::os::unix::fs::FileExt::read_at(file, buf, *offset)?;
                #[cfg(not(unix))]
                let n = {
                    use std::io::{Seek, SeekFrom};
                    file.seek(SeekFrom::Start(*offset))?;
                    file.read(buf)?
                };
                *offset += n as u64;
                Ok(n)
            }
        }
    }

    /// Reads up to [`PULL_LEN`] bytes from the source into `out`, framed.
    pub(crate) fn pull(&mut self, out: &mut Vec<u8>) -> Pulled {
        let want = match self.framing {
            SourceFraming::Length(0) => return Pulled::Done,
            SourceFraming::Length(left) => PULL_LEN.min(usize::try_from(left).unwrap_or(PULL_LEN)),
            SourceFraming::Chunked | SourceFraming::UntilClose => PULL_LEN,
        };
        // Chunked: room for a fixed-width size line, filled in once the size is known (leading
        // zeros are valid in a chunk size), so the data is read in place, not copied.
        let size_line = match self.framing {
            SourceFraming::Chunked => response::CHUNK_SIZE_LINE_LEN,
            _ => 0,
        };
        let start = out.len();
        out.resize(start + size_line + want, 0);
        let read = loop {
            match self.read(&mut out[start + size_line..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                log::debug!("response body source failed: {e}");
                out.truncate(start);
                return Pulled::Broken;
            }
        };
        match self.framing {
            SourceFraming::Length(left) => {
                out.truncate(start + n);
                if n == 0 {
                    log::debug!("response body source ended {left} bytes short");
                    return Pulled::Broken;
                }
                let left = left - n as u64;
                self.framing = SourceFraming::Length(left);
                if left == 0 {
                    Pulled::Done
                } else {
                    Pulled::More
                }
            }
            SourceFraming::Chunked if n == 0 => {
                out.truncate(start);
                out.extend_from_slice(LAST_CHUNK);
                Pulled::Done
            }
            SourceFraming::Chunked => {
                response::fill_chunk_size_line(&mut out[start..start + size_line], n);
                out.truncate(start + size_line + n);
                out.extend_from_slice(b"\r\n");
                Pulled::More
            }
            SourceFraming::UntilClose => {
                out.truncate(start + n);
                if n == 0 {
                    Pulled::Done
                } else {
                    Pulled::More
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut source: Source) -> (Vec<u8>, Pulled) {
        let mut out = Vec::new();
        loop {
            match source.pull(&mut out) {
                Pulled::More => {}
                end => return (out, end),
            }
        }
    }

    #[test]
    fn known_length_is_sent_as_is() {
        let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let src = Source::new(
            Box::new(io::Cursor::new(data.clone())),
            SourceFraming::Length(40_000),
        );
        assert_eq!(drain(src), (data, Pulled::Done));
    }

    #[test]
    fn a_short_source_breaks_the_body() {
        let src = Source::new(Box::new(&b"abc"[..]), SourceFraming::Length(5));
        assert_eq!(drain(src), (b"abc".to_vec(), Pulled::Broken));
    }

    #[test]
    fn a_longer_source_is_cut_at_the_length() {
        let src = Source::new(Box::new(&b"abcdef"[..]), SourceFraming::Length(4));
        assert_eq!(drain(src), (b"abcd".to_vec(), Pulled::Done));
    }

    #[test]
    fn unknown_length_is_chunked_with_fixed_width_sizes() {
        let src = Source::new(Box::new(&b"hello"[..]), SourceFraming::Chunked);
        let (out, end) = drain(src);
        assert_eq!(end, Pulled::Done);
        assert_eq!(out, b"00000005\r\nhello\r\n0\r\n\r\n");
        let mut decoder = crate::proto::chunked::ChunkedDecoder::new(64);
        let mut body = [0u8; 16];
        let (used, n) = decoder.decode(&out, &mut body).unwrap();
        assert_eq!((used, &body[..n]), (out.len(), &b"hello"[..]));
        assert!(decoder.is_done());
    }

    #[test]
    fn a_file_is_pulled_from_its_offset_and_a_short_one_breaks() {
        let path = std::env::temp_dir().join(format!("httpd-source-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let src = Source::file(File::open(&path).unwrap(), 3, 4);
        assert_eq!(drain(src), (b"3456".to_vec(), Pulled::Done));
        let src = Source::file(File::open(&path).unwrap(), 8, 5);
        assert_eq!(drain(src), (b"89".to_vec(), Pulled::Broken));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_failing_reader_breaks_the_body() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::Other.into())
            }
        }
        let src = Source::new(Box::new(Failing), SourceFraming::Chunked);
        assert_eq!(drain(src), (Vec::new(), Pulled::Broken));
    }
}
