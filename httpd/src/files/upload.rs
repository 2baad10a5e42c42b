//! Writing and removing files under a root, with the same path safety as serving: uploads are
//! streamed to a temporary file beside the target and linked into place only when complete.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::resolve::{self, RelPath};
use super::{fs as safe, StaticFiles, Store};
use crate::api::request::Request;
use crate::{Error, ErrorCode};

/// Why [`StaticFiles::save_upload`] or [`StaticFiles::remove`] refused or failed; each has the
/// status to answer with.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The path is not a file path under the root: empty, a trailing `/`, NUL, `..`, an
    /// encoded separator and the like (400), or a file where a directory is needed.
    BadPath,
    /// A symlink leads outside the root, or the store is read-only (embedded assets) (403).
    Forbidden,
    /// Nothing is there (404).
    NotFound,
    /// The target exists (a file, a directory or a symlink, which is never written through)
    /// (409).
    Exists,
    /// The body is larger than allowed (413).
    TooLarge,
    /// Reading the request body failed (the client was too slow, closed, sent a bad chunk).
    Request(Error),
    /// The file system failed (500).
    Io(io::Error),
}

impl FileError {
    /// The status line to answer with, e.g. `"409 Conflict"`.
    pub fn status_line(&self) -> &'static str {
        match self {
            FileError::BadPath => "400 Bad Request",
            FileError::Forbidden => "403 Forbidden",
            FileError::NotFound => "404 Not Found",
            FileError::Exists => "409 Conflict",
            FileError::TooLarge => "413 Content Too Large",
            FileError::Request(e) => e.status().status_line(),
            FileError::Io(_) => "500 Internal Server Error",
        }
    }

    fn from_code(code: ErrorCode) -> FileError {
        match code {
            ErrorCode::BadRequest => FileError::BadPath,
            ErrorCode::Forbidden => FileError::Forbidden,
            ErrorCode::NotFound => FileError::NotFound,
            _ => FileError::Io(io::Error::other(code.status_line())),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Request(e) => write!(f, "reading the upload: {e}"),
            FileError::Io(e) => write!(f, "file system: {e}"),
            other => f.write_str(other.status_line()),
        }
    }
}

impl std::error::Error for FileError {}

/// Distinguishes temporary files of concurrent uploads in one process.
static UPLOADS: AtomicU64 = AtomicU64::new(0);

impl StaticFiles {
    /// Stores the request body as the new file `rel` (a path under the root, percent-encoded as
    /// in a request target), creating missing directories. The body (`Content-Length` or
    /// chunked) is streamed to a temporary file in the target's directory and linked into place
    /// when complete, so a failed upload (cut, too large, a full disk) leaves nothing behind,
    /// and an existing file is never replaced. Returns the number of bytes stored.
    ///
    /// # Errors
    /// [`FileError::BadPath`], [`FileError::Forbidden`] (outside the root; embedded assets),
    /// [`FileError::Exists`], [`FileError::TooLarge`] (over `max_len`, before reading when
    /// `Content-Length` says so), [`FileError::Request`], [`FileError::Io`].
    pub fn save_upload(
        &self,
        req: &mut Request<'_>,
        rel: &str,
        max_len: u64,
    ) -> Result<u64, FileError> {
        let (root, path) = self.writable(rel)?;
        let name = path.segments.last().ok_or(FileError::BadPath)?;
        let dir = safe::parent_dir(root, &path.segments).map_err(FileError::from_code)?;
        let target = dir.join(name);
        if fs::symlink_metadata(&target).is_ok() {
            return Err(FileError::Exists);
        }
        if req.content_length().is_some_and(|n| n > max_len) {
            return Err(FileError::TooLarge);
        }
        let n = UPLOADS.fetch_add(1, Ordering::Relaxed);
        let temp = Temp(dir.join(format!(".{name}.{}-{n}.part", std::process::id())));
        // create_new: never follows or reuses an existing name (O_CREAT | O_EXCL).
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.0)
            .map_err(FileError::Io)?;
        let written = copy_body(req, &mut file, max_len)?;
        file.sync_data().map_err(FileError::Io)?;
        drop(file);
        // A hard link fails if the name was taken meanwhile, where a rename would replace it.
        match fs::hard_link(&temp.0, &target) {
            Ok(()) => Ok(written),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FileError::Exists),
            Err(e) => Err(FileError::Io(e)),
        }
        // `temp` is removed here, whatever happened.
    }

    /// Removes the file `rel` under the root. A symlink is removed itself, never its target;
    /// its parent directories must be inside the root.
    ///
    /// # Errors
    /// [`FileError::BadPath`] (also for a directory), [`FileError::Forbidden`],
    /// [`FileError::NotFound`], [`FileError::Io`].
    pub fn remove(&self, rel: &str) -> Result<(), FileError> {
        let (root, path) = self.writable(rel)?;
        let name = path.segments.last().ok_or(FileError::BadPath)?;
        let dir = safe::existing_parent_dir(root, &path.segments).map_err(FileError::from_code)?;
        let target = dir.join(name);
        match fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() => Err(FileError::BadPath),
            Ok(_) => fs::remove_file(&target).map_err(FileError::Io),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FileError::NotFound),
            Err(e) => Err(FileError::Io(e)),
        }
    }

    /// The real path of the existing file or directory `rel` (percent-encoded, as in a request
    /// target; empty or `/` is the root), for handlers that read it themselves (a directory
    /// listing). Symlinks are followed only to targets inside the root.
    ///
    /// # Errors
    /// [`FileError::BadPath`], [`FileError::Forbidden`] (outside the root; embedded assets),
    /// [`FileError::NotFound`].
    pub fn locate(&self, rel: &str) -> Result<PathBuf, FileError> {
        let Store::Dir(root) = &self.store else {
            return Err(FileError::Forbidden);
        };
        let path = resolve::resolve(rel).map_err(|_| FileError::BadPath)?;
        let found = safe::locate(root, &path.segments, "").map_err(FileError::from_code)?;
        Ok(found.path)
    }

    fn writable(&self, rel: &str) -> Result<(&Path, RelPath), FileError> {
        let Store::Dir(root) = &self.store else {
            return Err(FileError::Forbidden);
        };
        let path = resolve::resolve(rel).map_err(|_| FileError::BadPath)?;
        if path.dir || path.segments.is_empty() {
            return Err(FileError::BadPath);
        }
        Ok((root, path))
    }
}

fn copy_body(req: &mut Request<'_>, file: &mut File, max_len: u64) -> Result<u64, FileError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match req.recv(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(Error::BodyTooLarge) => return Err(FileError::TooLarge),
            Err(e) => return Err(FileError::Request(e)),
        };
        total += n as u64;
        if total > max_len {
            return Err(FileError::TooLarge);
        }
        file.write_all(&buf[..n]).map_err(FileError::Io)?;
    }
}

/// A temporary file, removed when dropped.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.0) {
            if e.kind() != io::ErrorKind::NotFound {
                log::warn!("removing {}: {e}", self.0.display());
            }
        }
    }
}
