//! Response bodies: bytes in memory, or a source (a reader, a file) of known or unknown length
//! that the server pulls as the client takes the response.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};

/// A response body for [`Request::send_body`](crate::Request::send_body).
///
/// Bytes are sent as they are. A reader or file is not read into memory: the server pulls it
/// in pieces as the socket drains, on the server thread between other clients' turns, so a
/// large file or a generated stream costs one buffer, and a client that reads slowly holds up
/// only itself. A known length is sent as `Content-Length`; an unknown one is chunked (or, to
/// an HTTP/1.0 client, ends with the connection).
///
/// ```no_run
/// use httpd::{Body, Config, Handler, Method, Server};
/// let server = Server::start(Config::builder().port(8080).build()?)?;
/// server.register(Handler::new("/log", Method::Get, |req| {
///     let file = std::fs::File::open("/var/log/syslog")?;
///     req.set_type("text/plain")?;
///     req.send_body(Body::from_file(file)?)
/// }))?;
/// # Ok::<(), httpd::Error>(())
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    Bytes(Cow<'static, [u8]>),
    Stream {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
    /// `len` bytes of a file from `offset`: sent without copying where the transport can.
    File {
        file: File,
        offset: u64,
        len: u64,
    },
}

/// What the response side takes a body apart into.
pub(crate) enum Parts {
    Bytes(Cow<'static, [u8]>),
    Stream(Box<dyn Read + Send>, Option<u64>),
    File(File, u64, u64),
}

impl Body {
    /// No body (`Content-Length: 0`).
    pub fn empty() -> Body {
        Body::from(&b""[..])
    }

    /// A body read from `reader` as the client takes it. With `Some(len)`, exactly `len` bytes
    /// are sent (`Content-Length`): a reader that ends early or fails makes the server close the
    /// connection, so the client sees the response cut short; bytes past `len` are not read.
    /// With `None`, the body is chunked and ends when the reader does (a failure closes the
    /// connection without the last chunk).
    pub fn from_reader(reader: impl Read + Send + 'static, len: Option<u64>) -> Body {
        Body {
            kind: Kind::Stream {
                reader: Box::new(reader),
                len,
            },
        }
    }

    /// A file's contents, its length from its metadata. On Linux, over plain TCP, the server
    /// has the kernel send it (`sendfile`), without copying it through the server.
    ///
    /// # Errors
    /// When the file's metadata cannot be read.
    pub fn from_file(file: File) -> io::Result<Body> {
        let len = file.metadata()?.len();
        Ok(Body::file_part(file, 0, len))
    }

    /// `len` bytes of `file` from `offset` (a range of a static file). A file shorter than
    /// that closes the connection when its end is reached, as a short reader does.
    pub(crate) fn file_part(file: File, offset: u64, len: u64) -> Body {
        Body {
            kind: Kind::File { file, offset, len },
        }
    }

    /// The length, if known.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            Kind::Bytes(b) => Some(b.len() as u64),
            Kind::Stream { len, .. } => *len,
            Kind::File { len, .. } => Some(*len),
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    pub(crate) fn into_parts(self) -> Parts {
        match self.kind {
            Kind::Bytes(b) => Parts::Bytes(b),
            Kind::Stream { reader, len } => Parts::Stream(reader, len),
            Kind::File { file, offset, len } => Parts::File(file, offset, len),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Bytes(_) => "bytes",
            Kind::Stream { .. } => "stream",
            Kind::File { .. } => "file",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("len", &self.len())
            .finish()
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body {
            kind: Kind::Bytes(Cow::Owned(v)),
        }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(s.into_bytes())
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body {
            kind: Kind::Bytes(Cow::Borrowed(b)),
        }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(s.as_bytes())
    }
}
