//! The file system side of path safety: a resolved path is looked up under the root, and a
//! symlink on the way is followed only when its target is still inside the root. The same
//! checks guard paths that are written or removed.
//!
//! The lookup and the open are separate calls: someone who can change the tree under the root
//! while a request is served could swap a directory on the path for a symlink in between. The
//! last component is opened with `O_NOFOLLOW` on Linux, so only directories remain exposed to
//! that race; the threat is a local user with write access to the served tree.

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use crate::ErrorCode;

/// An entry found under the root.
#[derive(Debug)]
pub(crate) struct Found {
    /// The real path (symlinks resolved), inside the root.
    pub(crate) path: PathBuf,
    /// Its metadata (of the target, for a symlink).
    pub(crate) meta: Metadata,
}

/// Looks up `segments` (already checked by `resolve`) under `root` (canonical), the last one
/// with `suffix` appended. Walks the path with `lstat`, so a path without symlinks costs one
/// call per segment; a symlink anywhere makes the whole path canonicalised and checked.
///
/// # Errors
/// [`ErrorCode::NotFound`] when nothing is there (or a segment before the last is not a
/// directory); [`ErrorCode::Forbidden`] when a symlink leads outside the root or the entry
/// cannot be read.
pub(crate) fn locate(root: &Path, segments: &[String], suffix: &str) -> Result<Found, ErrorCode> {
    let mut path = root.to_path_buf();
    let mut linked = false;
    let mut meta = None;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if last && !suffix.is_empty() {
            path.push(format!("{seg}{suffix}"));
        } else {
            path.push(seg);
        }
        let m = fs::symlink_metadata(&path).map_err(miss)?;
        if m.file_type().is_symlink() {
            linked = true;
        } else if !last && !m.is_dir() {
            return Err(ErrorCode::NotFound);
        }
        meta = Some(m);
    }
    if linked {
        let real = fs::canonicalize(&path).map_err(miss)?;
        if !real.starts_with(root) {
            log::warn!(
                "refused {}: a symlink leads outside the root",
                path.display()
            );
            return Err(ErrorCode::Forbidden);
        }
        let meta = fs::metadata(&real).map_err(miss)?;
        return Ok(Found { path: real, meta });
    }
    let meta = match meta {
        Some(m) => m,
        None => fs::metadata(&path).map_err(miss)?,
    };
    Ok(Found { path, meta })
}

fn miss(e: io::Error) -> ErrorCode {
    match e.kind() {
        io::ErrorKind::PermissionDenied => ErrorCode::Forbidden,
        _ => ErrorCode::NotFound,
    }
}

/// The directory under `root` where `segments`' parent is, created as needed: every existing
/// component must be a directory whose real path is inside the root (a symlink to a directory
/// inside is followed; one leading out is refused). Returns the real directory.
///
/// # Errors
/// [`ErrorCode::Forbidden`] for a parent outside the root; [`ErrorCode::BadRequest`] when a
/// component is a file; [`ErrorCode::InternalServerError`] when a directory cannot be created.
pub(crate) fn parent_dir(root: &Path, segments: &[String]) -> Result<PathBuf, ErrorCode> {
    let mut dir = root.to_path_buf();
    let parents = &segments[..segments.len().saturating_sub(1)];
    for seg in parents {
        let next = dir.join(seg);
        match fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                let real = fs::canonicalize(&next).map_err(|_| ErrorCode::Forbidden)?;
                if !real.starts_with(root) {
                    log::warn!(
                        "refused {}: a symlink leads outside the root",
                        next.display()
                    );
                    return Err(ErrorCode::Forbidden);
                }
                if !real.is_dir() {
                    return Err(ErrorCode::BadRequest);
                }
                dir = real;
            }
            Ok(m) if m.is_dir() => dir = next,
            Ok(_) => return Err(ErrorCode::BadRequest),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&next) {
                Ok(()) => dir = next,
                // Another request created it meanwhile: look again next round is overkill;
                // it is a directory we did not make, so check it as above.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let m = fs::symlink_metadata(&next).map_err(|_| ErrorCode::Forbidden)?;
                    if !m.is_dir() {
                        return Err(ErrorCode::Forbidden);
                    }
                    dir = next;
                }
                Err(e) => {
                    log::warn!("creating {}: {e}", next.display());
                    return Err(ErrorCode::InternalServerError);
                }
            },
            Err(_) => return Err(ErrorCode::Forbidden),
        }
    }
    Ok(dir)
}

/// Looks up an existing directory's parent chain without creating anything (for removals).
///
/// # Errors
/// As [`parent_dir`], and [`ErrorCode::NotFound`] when a component is missing.
pub(crate) fn existing_parent_dir(root: &Path, segments: &[String]) -> Result<PathBuf, ErrorCode> {
    let parents = &segments[..segments.len().saturating_sub(1)];
    if parents.is_empty() {
        return Ok(root.to_path_buf());
    }
    let found = locate(root, parents, "")?;
    if !found.meta.is_dir() {
        return Err(ErrorCode::NotFound);
    }
    Ok(found.path)
}
