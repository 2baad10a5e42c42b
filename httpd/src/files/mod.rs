//! Static files: a directory, or assets compiled into the program, served as a production
//! server serves them (types, validators, conditional requests, ranges, precompressed
//! siblings), with every path kept inside its root. Uses `types`, `error`, `proto`, `api` and
//! `router`; nothing below uses it.
//!
//! The decisions are sans-IO and tested as tables: `resolve` (request path to segments),
//! `range`, `conditional` (validators, 304, `If-Range`) and `negotiate` (which precompressed
//! sibling). `fs` walks the file system with symlink checks; `serve` puts them together.

mod conditional;
mod fs;
mod negotiate;
mod range;
pub(crate) mod resolve;
mod serve;
mod upload;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::request::Request;
use crate::proto::response::valid_value;
use crate::router::Handler;
use crate::types::{Method, UriMatch};
use crate::Error;

use conditional::Validators;
pub use upload::FileError;

/// A handler's worth of static files: a directory on disk ([`StaticFiles::new`]) or assets
/// compiled into the program ([`StaticFiles::embedded`]), registered under a wildcard URI with
/// [`handler`](StaticFiles::handler).
///
/// What a GET or HEAD gets:
/// - `Content-Type` from the extension (`application/octet-stream` when unknown),
///   `Content-Length`, `Accept-Ranges: bytes`, a strong `ETag` (from the length and the
///   modification time to the nanosecond, or a hash of an embedded asset) and `Last-Modified`;
///   `Cache-Control` when [`cache_control`](StaticFiles::cache_control) is set.
/// - 304 Not Modified (no body) for a matching `If-None-Match` (one tag, a list or `*`), or,
///   without `If-None-Match`, an `If-Modified-Since` not older than the file; 412
///   Precondition Failed when `If-Match` names no current tag or, without it, the file changed
///   after `If-Unmodified-Since`.
/// - 206 Partial Content for one range (`bytes=a-b`, `a-`, `-n`; an end past the file is
///   trimmed), 416 with `Content-Range: bytes */LEN` when no range overlaps the file. Several
///   ranges are answered with the whole file (200), not `multipart/byteranges`. `If-Range`
///   (a strong tag or the exact date) is honoured.
/// - With [`precompressed`](StaticFiles::precompressed) (on by default): `name.br` or
///   `name.gz` when the client accepts that coding, with `Content-Encoding` and the type of
///   `name`; `Vary: Accept-Encoding` on every answer. A `name.gz` alone is served to gzip
///   clients (404 to others).
/// - A directory: its index file (`index.html` by default); a directory named without its
///   trailing slash is redirected (301) to it; no listing.
/// - Other methods: 405 with `Allow: GET, HEAD`.
///
/// Paths are percent-decoded and refused with 400 when they could leave the root or mean
/// different things to different systems: `..` segments (plain or encoded), encoded `/` and
/// `\`, backslashes, NUL, bytes that are not UTF-8 (overlong forms included) and drive
/// prefixes. Symlinks inside the root are followed only to targets inside it (403 otherwise).
/// File bodies are streamed: the server reads the file as the client's socket drains, so a
/// slow client holds only its own session and one buffer.
///
/// ```no_run
/// use httpd::{Config, Server, StaticFiles};
/// let server = Server::start(Config::builder().port(8080).build()?)?;
/// let files = StaticFiles::new("/var/www")?.cache_control("max-age=60");
/// server.register(files.handler("/static/*")?)?;
/// # Ok::<(), httpd::Error>(())
/// ```
#[derive(Clone)]
pub struct StaticFiles {
    store: Store,
    index: Option<String>,
    cache_control: Option<String>,
    precompressed: bool,
    /// Served instead of a 404 (a single-page application's `index.html`).
    fallback: Option<resolve::RelPath>,
}

#[derive(Clone)]
enum Store {
    /// INVARIANT: canonical (absolute, no symlinks), a directory when created.
    Dir(PathBuf),
    Embedded(Assets),
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StaticFiles");
        match &self.store {
            Store::Dir(root) => d.field("root", root),
            Store::Embedded(a) => d.field("assets", &a.map.len()),
        };
        d.field("index", &self.index)
            .field("cache_control", &self.cache_control)
            .field("precompressed", &self.precompressed)
            .finish_non_exhaustive()
    }
}

impl StaticFiles {
    /// Serves the directory `root`.
    ///
    /// # Errors
    /// When `root` does not exist or is not a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<StaticFiles> {
        let root = std::fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a directory",
            ));
        }
        Ok(StaticFiles::with_store(Store::Dir(root)))
    }

    /// Serves assets compiled into the program.
    ///
    /// ```
    /// use httpd::{Assets, StaticFiles};
    /// static UI: &[(&str, &[u8])] = &[
    ///     ("index.html", b"<h1>Hello</h1>"),
    ///     ("app.js.gz", &[0x1f, 0x8b /* ... include_bytes!("app.js.gz") */]),
    /// ];
    /// let files = StaticFiles::embedded(Assets::new(UI)).fallback("index.html");
    /// # let _ = files;
    /// ```
    pub fn embedded(assets: Assets) -> StaticFiles {
        StaticFiles::with_store(Store::Embedded(assets))
    }

    fn with_store(store: Store) -> StaticFiles {
        StaticFiles {
            store,
            index: Some("index.html".to_owned()),
            cache_control: None,
            precompressed: true,
            fallback: None,
        }
    }

    /// The file served for a directory (`None`: a directory is 404). Default `index.html`.
    pub fn index_file(mut self, name: Option<&str>) -> StaticFiles {
        self.index = name.map(str::to_owned);
        self
    }

    /// A `Cache-Control` value sent with every file (and 304), e.g. `"max-age=3600"` or
    /// `"no-cache"`. Default: none.
    pub fn cache_control(mut self, value: &str) -> StaticFiles {
        self.cache_control = Some(value.to_owned());
        self
    }

    /// Whether `name.br` / `name.gz` siblings are served to clients that accept them.
    /// Default on.
    pub fn precompressed(mut self, on: bool) -> StaticFiles {
        self.precompressed = on;
        self
    }

    /// A file (relative to the root) served with 200 for every path that finds nothing, as a
    /// single-page application wants for its routes. Paths refused as unsafe still get 400.
    /// A `path` that is not a plain relative path is ignored.
    pub fn fallback(mut self, path: &str) -> StaticFiles {
        self.fallback = resolve::resolve(path).ok().filter(|p| !p.dir);
        self
    }

    /// The root directory (canonical), or `None` for embedded assets.
    pub fn root(&self) -> Option<&Path> {
        match &self.store {
            Store::Dir(root) => Some(root),
            Store::Embedded(_) => None,
        }
    }

    /// A GET handler for `uri`, which must end with `*` (`"/static/*"`, `"/*"`); it is
    /// matched as a wildcard whatever the server's `uri_match`. The part of the path after the
    /// template's prefix names the file. (HEAD is answered by it too; other methods get the
    /// router's 405.)
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `uri` does not end with `*`; [`Error::InvalidHeader`]
    /// for a `cache_control` value with control characters.
    pub fn handler(self, uri: &str) -> Result<Handler, Error> {
        let Some(base) = uri.strip_suffix('*') else {
            return Err(Error::InvalidConfig(
                "StaticFiles::handler: the URI must end with `*`",
            ));
        };
        if self
            .cache_control
            .as_deref()
            .is_some_and(|v| v.is_empty() || !valid_value(v))
        {
            return Err(Error::InvalidHeader);
        }
        // `/static/?*` also matches `/static`: the optional character is not part of the path.
        let prefix_len = base
            .strip_suffix('?')
            .map_or(base.len(), |b| b.len().saturating_sub(1));
        let files = Arc::new(self);
        Ok(Handler::new(uri, Method::Get, move |req| {
            let path = req.path().to_owned();
            if path.is_empty() {
                // A target that is not UTF-8 has no path as text.
                return req.send_err(crate::ErrorCode::BadRequest, None);
            }
            let rel = path.get(prefix_len..).unwrap_or("");
            if rel.is_empty() && !path.ends_with('/') {
                return serve::redirect_to_dir(req);
            }
            files.serve(req, rel)
        })
        .with_match(UriMatch::Wildcard))
    }

    /// Answers `req` with the file `rel` names (a path relative to the root, percent-encoded
    /// as in a request target), for handlers that choose the file themselves.
    ///
    /// # Errors
    /// Those of sending the response ([`Request::send`]).
    pub fn serve(&self, req: &mut Request<'_>, rel: &str) -> Result<(), Error> {
        serve::serve(self, req, rel)
    }
}

/// Assets compiled into the program: a table of `(path, bytes)`, e.g. from `include_bytes!`.
/// Paths are relative to the mount point (a leading `/` is ignored); a `name.gz` or `name.br`
/// entry is a precompressed sibling of `name`, which need not be in the table itself.
#[derive(Clone)]
pub struct Assets {
    map: Arc<HashMap<&'static str, Asset>>,
}

struct Asset {
    bytes: &'static [u8],
    validators: Validators,
}

impl Assets {
    /// Indexes `table` (each asset is hashed once, here, for its `ETag`). A later entry for the
    /// same path replaces an earlier one.
    pub fn new(table: &'static [(&'static str, &'static [u8])]) -> Assets {
        let map = table
            .iter()
            .map(|&(path, bytes)| {
                let validators = Validators::for_bytes(bytes, "");
                (path.trim_start_matches('/'), Asset { bytes, validators })
            })
            .collect();
        Assets { map: Arc::new(map) }
    }

    /// The bytes stored for `path`.
    pub fn get(&self, path: &str) -> Option<&'static [u8]> {
        self.map.get(path.trim_start_matches('/')).map(|a| a.bytes)
    }

    /// How many assets there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for Assets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}
