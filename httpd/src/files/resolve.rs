//! Request paths to relative file paths, sans-IO: percent-decoding, and the refusals that keep
//! every path served or written inside the root. The file system side (symlinks) is in `fs`.

use crate::ErrorCode;

/// A request path reduced to plain segments: each non-empty, valid UTF-8, without `/`, `\`,
/// NUL, a drive prefix, `.` or `..`, so joining them onto the root stays under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelPath {
    /// INVARIANT: every segment passes [`check_segment`].
    pub(crate) segments: Vec<String>,
    /// The path named a directory (it was empty or ended with `/`).
    pub(crate) dir: bool,
}

/// Resolves `rel`, a request path below the mount point as sent (percent-encoded, without
/// query). Empty segments (`a//b`, a leading `/`) are merged and `.` segments dropped; anything
/// that could name a file outside the root, or names one ambiguously, is refused with 400.
///
/// # Errors
/// [`ErrorCode::BadRequest`]: a bad percent escape, bytes that are not UTF-8 (overlong forms
/// included), NUL, a backslash or an encoded `/` in a segment, a `..` segment, or a Windows
/// drive prefix (`C:`).
pub(crate) fn resolve(rel: &str) -> Result<RelPath, ErrorCode> {
    let mut segments = Vec::new();
    let mut dir = true;
    for raw in rel.split('/') {
        if raw.is_empty() {
            dir = true;
            continue;
        }
        let seg = decode(raw)?;
        check_segment(&seg)?;
        if seg == "." {
            dir = true;
            continue;
        }
        dir = false;
        segments.push(seg);
    }
    Ok(RelPath { segments, dir })
}

/// Refuses a decoded segment that could leave the root or mean something else on some system.
pub(crate) fn check_segment(seg: &str) -> Result<(), ErrorCode> {
    let b = seg.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if seg.is_empty() || seg == ".." || drive || seg.contains(['/', '\\', '\0']) {
        return Err(ErrorCode::BadRequest);
    }
    Ok(())
}

/// Percent-decodes one segment (`+` is literal in a path); the result must be UTF-8.
fn decode(raw: &str) -> Result<String, ErrorCode> {
    if !raw.contains('%') {
        return Ok(raw.to_owned());
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1).copied().and_then(hex);
            let l = b.get(i + 2).copied().and_then(hex);
            match (h, l) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(ErrorCode::BadRequest),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    // std's UTF-8 check refuses overlong forms (`%c0%ae` for `.`) and surrogates.
    String::from_utf8(out).map_err(|_| ErrorCode::BadRequest)
}

/// Percent-encodes a path segment (everything but unreserved characters).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn encode_segment(seg: &str, out: &mut String) {
    for &b in seg.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

/// Resolves `rel` and checks the invariants that keep a path inside the root: a refusal is
/// 400; an accepted path joins onto a root as plain components only; resolving is
/// deterministic; its segments, re-encoded, resolve to themselves.
///
/// # Panics
/// When an invariant does not hold.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check_invariants(rel: &str) {
    use std::path::{Component, Path};
    let resolved = resolve(rel);
    assert_eq!(resolved, resolve(rel));
    let path = match resolved {
        Ok(p) => p,
        Err(code) => {
            assert_eq!(code, ErrorCode::BadRequest);
            return;
        }
    };
    let root = Path::new("/srv/root");
    let mut joined = root.to_path_buf();
    let mut encoded = String::new();
    for seg in &path.segments {
        assert!(check_segment(seg).is_ok() && seg != ".", "{seg:?}");
        joined.push(seg);
        encoded.push('/');
        encode_segment(seg, &mut encoded);
    }
    let below = joined.strip_prefix(root).expect("joined under the root");
    assert!(
        below
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "{joined:?}"
    );
    assert_eq!(below.components().count(), path.segments.len());
    assert_eq!(resolve(&encoded).map(|p| p.segments), Ok(path.segments));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(segments: &[&str], dir: bool) -> Result<RelPath, ErrorCode> {
        Ok(RelPath {
            segments: segments.iter().map(|s| s.to_string()).collect(),
            dir,
        })
    }

    const BAD: Result<RelPath, ErrorCode> = Err(ErrorCode::BadRequest);

    #[test]
    fn resolution_table() {
        let cases: &[(&str, Result<RelPath, ErrorCode>)] = &[
            ("", ok(&[], true)),
            ("/", ok(&[], true)),
            ("a.txt", ok(&["a.txt"], false)),
            ("/a.txt", ok(&["a.txt"], false)),
            ("a/b/c.txt", ok(&["a", "b", "c.txt"], false)),
            ("a//b", ok(&["a", "b"], false)),
            ("sub/", ok(&["sub"], true)),
            ("./a", ok(&["a"], false)),
            ("a/.", ok(&["a"], true)),
            ("file%2etxt", ok(&["file.txt"], false)),
            ("a%20b+c", ok(&["a b+c"], false)),
            ("%E2%9C%93", ok(&["\u{2713}"], false)),
            ("...", ok(&["..."], false)),
            ("..a", ok(&["..a"], false)),
            ("ab:c", ok(&["ab:c"], false)),
            ("a:b", BAD),
            ("..", BAD),
            ("../etc/passwd", BAD),
            ("a/../../etc/passwd", BAD),
            ("a/..", BAD),
            ("%2e%2e/etc/passwd", BAD),
            ("%2E%2E/x", BAD),
            (".%2e/x", BAD),
            ("a%2f..%2f..%2fetc", BAD),
            ("a%2Fb", BAD),
            ("..%5c..%5cwindows", BAD),
            ("a\\..\\b", BAD),
            ("a%00.txt", BAD),
            ("a\0b", BAD),
            ("%c0%ae%c0%ae/etc", BAD),
            ("%c0%af", BAD),
            ("%e0%80%ae", BAD),
            ("%ff", BAD),
            ("C:/windows/win.ini", BAD),
            ("c:", BAD),
            ("C%3a%5cboot.ini", BAD),
            ("%", BAD),
            ("%2", BAD),
            ("%zz", BAD),
        ];
        for (input, want) in cases {
            assert_eq!(&resolve(input), want, "{input:?}");
        }
    }

    #[test]
    fn encoded_segments_resolve_to_themselves() {
        for seg in ["a b", "x%y", "\u{e9}t\u{e9}.txt", "a+b&c=d", "#q?"] {
            let mut enc = String::new();
            encode_segment(seg, &mut enc);
            assert!(enc.bytes().all(|b| b.is_ascii_graphic() && b != b'/'));
            assert_eq!(resolve(&enc), ok(&[seg], false));
        }
    }
}

#[cfg(test)]
mod randomized {
    use super::check_invariants;

    /// Random paths built from the dangerous pieces keep the invariants.
    /// `HTTPD_RANDOM_SEED` picks another sequence.
    #[test]
    fn randomized_paths_keep_the_invariants() {
        const PIECES: [&str; 24] = [
            "/",
            "//",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2f",
            "%5c",
            "\\",
            "%00",
            "a",
            "b.txt",
            "%c0%ae",
            "%c0%af",
            "C:",
            "c%3a",
            "%",
            "%2",
            "%e2%9c%93",
            "\u{e9}",
            ":",
            "+",
            "%25",
            "~",
        ];
        let seed = std::env::var("HTTPD_RANDOM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1234_u64);
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        for _ in 0..20_000 {
            let n = 1 + next() % 8;
            let path: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            check_invariants(&path);
        }
    }
}
