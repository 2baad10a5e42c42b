//! Answering a request with a file: lookup (directory or embedded), then the response from the
//! sans-IO decisions (conditional, range, coding).

use std::fs::File;
use std::io;
use std::path::Path;

use super::conditional::Validators;
use super::negotiate::{self, Coding};
use super::range::{self, RangeAnswer};
use super::resolve::{self, RelPath};
use super::{fs, Assets, StaticFiles, Store};
use crate::api::body::Body;
use crate::api::request::Request;
use crate::types::Method;
use crate::{Error, ErrorCode};

/// Embedded bodies up to this size are copied into the response at once; larger ones are
/// pulled as the socket drains, as files are.
const COPY_LEN: usize = 16 * 1024;

/// What a lookup found.
enum Lookup {
    Hit(Hit),
    /// A directory named without its trailing slash.
    Redirect,
    Miss(ErrorCode),
}

struct Hit {
    content: Content,
    len: u64,
    validators: Validators,
    coding: Option<Coding>,
    /// The name whose extension gives the type (of `name`, for `name.gz`).
    name: String,
}

enum Content {
    File(File),
    Bytes(&'static [u8]),
}

pub(super) fn serve(files: &StaticFiles, req: &mut Request<'_>, rel: &str) -> Result<(), Error> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        req.set_header("Allow", "GET, HEAD")?;
        return req.send_err(ErrorCode::MethodNotAllowed, None);
    }
    let path = match resolve::resolve(rel) {
        Ok(p) => p,
        Err(code) => return req.send_err(code, None),
    };
    let codings = match files.precompressed {
        true => negotiate::acceptable(req.header("accept-encoding")),
        false => Vec::new(),
    };
    let mut found = lookup(files, &path, &codings);
    if let (Lookup::Miss(ErrorCode::NotFound), Some(fallback)) = (&found, &files.fallback) {
        found = lookup(files, fallback, &codings);
    }
    match found {
        Lookup::Hit(hit) => respond(files, req, hit),
        Lookup::Redirect => redirect_to_dir(req),
        Lookup::Miss(code) => req.send_err(code, None),
    }
}

/// 301 to the same path with a trailing slash (relative links in an index then resolve
/// inside the directory). Leading slashes are merged: `//host/` would name another host.
pub(super) fn redirect_to_dir(req: &mut Request<'_>) -> Result<(), Error> {
    let path = format!("/{}", req.path().trim_start_matches('/'));
    let location = match req.query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    req.set_status("301 Moved Permanently")?;
    req.set_header("Location", &location)?;
    req.send(b"")
}

fn lookup(files: &StaticFiles, path: &RelPath, codings: &[Coding]) -> Lookup {
    let mut segments = path.segments.clone();
    if path.dir {
        match &files.index {
            Some(index) => segments.push(index.clone()),
            None => return Lookup::Miss(ErrorCode::NotFound),
        }
    }
    let name = segments.last().cloned().unwrap_or_default();
    match &files.store {
        Store::Dir(root) => lookup_dir(root, &segments, name, path.dir, codings),
        Store::Embedded(assets) => lookup_embedded(assets, &segments, name, path.dir, codings),
    }
}

fn lookup_dir(
    root: &Path,
    segments: &[String],
    name: String,
    dir: bool,
    codings: &[Coding],
) -> Lookup {
    for &coding in codings {
        if let Ok(found) = fs::locate(root, segments, coding.suffix()) {
            if found.meta.is_file() {
                return open(found, Some(coding), name);
            }
        }
    }
    match fs::locate(root, segments, "") {
        Ok(found) if found.meta.is_file() => open(found, None, name),
        Ok(found) if found.meta.is_dir() && !dir => Lookup::Redirect,
        // A directory named with its slash but without an index, a device, a FIFO.
        Ok(_) => Lookup::Miss(ErrorCode::NotFound),
        Err(code) => Lookup::Miss(code),
    }
}

/// Opens a file found under the root. On Linux the last component is opened with
/// `O_NOFOLLOW`: a symlink put in its place after the lookup is refused, not followed.
fn open_nofollow(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)
}

fn open(found: fs::Found, coding: Option<Coding>, name: String) -> Lookup {
    let file = match open_nofollow(&found.path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Lookup::Miss(ErrorCode::Forbidden)
        }
        Err(_) => return Lookup::Miss(ErrorCode::NotFound),
    };
    let len = found.meta.len();
    let variant = coding.map_or("", Coding::suffix);
    Lookup::Hit(Hit {
        content: Content::File(file),
        len,
        validators: Validators::for_file(len, found.meta.modified().ok(), variant),
        coding,
        name,
    })
}

fn lookup_embedded(
    assets: &Assets,
    segments: &[String],
    name: String,
    dir: bool,
    codings: &[Coding],
) -> Lookup {
    let key = segments.join("/");
    let hit = |key: &str, coding: Option<Coding>| {
        assets.map.get(key).map(|asset| {
            let mut validators = asset.validators.clone();
            if let Some(c) = coding {
                // The same bytes under two names must not share a tag across codings.
                validators
                    .etag
                    .insert_str(validators.etag.len() - 1, c.suffix());
            }
            Lookup::Hit(Hit {
                content: Content::Bytes(asset.bytes),
                len: asset.bytes.len() as u64,
                validators,
                coding,
                name: name.clone(),
            })
        })
    };
    for &coding in codings {
        if let Some(found) = hit(&format!("{key}{}", coding.suffix()), Some(coding)) {
            return found;
        }
    }
    if let Some(found) = hit(&key, None) {
        return found;
    }
    let prefix = format!("{key}/");
    if !dir && assets.map.keys().any(|k| k.starts_with(&prefix)) {
        return Lookup::Redirect;
    }
    Lookup::Miss(ErrorCode::NotFound)
}

fn respond(files: &StaticFiles, req: &mut Request<'_>, hit: Hit) -> Result<(), Error> {
    let v = &hit.validators;
    let failed = v.precondition_failed(req.header("if-match"), req.header("if-unmodified-since"));
    let not_modified = v.not_modified(req.header("if-none-match"), req.header("if-modified-since"));
    let answer = match req.header("range") {
        Some(r) if v.if_range_holds(req.header("if-range")) => range::evaluate(r, hit.len),
        _ => RangeAnswer::Full,
    };
    let mime = mime_guess::from_path(&hit.name)
        .first_raw()
        .unwrap_or("application/octet-stream");
    req.set_type(mime)?;
    req.set_header("ETag", &v.etag)?;
    if let Some(date) = v.last_modified() {
        req.set_header("Last-Modified", &date)?;
    }
    if let Some(cc) = &files.cache_control {
        req.set_header("Cache-Control", cc)?;
    }
    if files.precompressed {
        req.set_header("Vary", "Accept-Encoding")?;
    }
    if failed {
        req.set_status("412 Precondition Failed")?;
        return req.send(b"");
    }
    if not_modified {
        req.set_status("304 Not Modified")?;
        // No body; the length is what a 200 would have said (RFC 9110 8.6).
        return req.send_body(Body::from_reader(io::empty(), Some(hit.len)));
    }
    req.set_header("Accept-Ranges", "bytes")?;
    let (start, len) = match answer {
        RangeAnswer::Full => (0, hit.len),
        RangeAnswer::Partial { start, end } => {
            req.set_status("206 Partial Content")?;
            req.set_header("Content-Range", &format!("bytes {start}-{end}/{}", hit.len))?;
            (start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            req.set_status("416 Range Not Satisfiable")?;
            req.set_header("Content-Range", &format!("bytes */{}", hit.len))?;
            return req.send(b"");
        }
    };
    if let Some(coding) = hit.coding {
        req.set_header("Content-Encoding", coding.token())?;
    }
    let body = match hit.content {
        Content::Bytes(bytes) => {
            let part = &bytes[start as usize..(start + len) as usize];
            if part.len() <= COPY_LEN {
                Body::from(part)
            } else {
                Body::from_reader(io::Cursor::new(part), Some(len))
            }
        }
        // Sent by the loop as the socket drains: with sendfile on Linux TCP, else copied.
        Content::File(file) => Body::file_part(file, start, len),
    };
    req.send_body(body)
}
