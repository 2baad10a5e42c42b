//! Validators and conditional requests (RFC 9110 8.8, 13), sans-IO: entity tags, dates, and
//! whether a request's preconditions make the answer 304 or the `Range` apply.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A representation's validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validators {
    /// A strong entity tag, quotes included.
    pub(crate) etag: String,
    /// The modification time, whole seconds (what `Last-Modified` can carry).
    pub(crate) modified: Option<SystemTime>,
}

impl Validators {
    /// For a file: its length and modification time (to the nanosecond, so a file rewritten in
    /// the same second with the same length still gets a new tag where the file system keeps
    /// sub-second times), and a tag for a precompressed variant.
    pub(crate) fn for_file(len: u64, modified: Option<SystemTime>, variant: &str) -> Self {
        let nanos = modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Validators {
            etag: format!("\"{nanos:x}-{len:x}{variant}\""),
            modified: modified.map(whole_seconds),
        }
    }

    /// For bytes compiled into the program: a hash of the content, no date.
    pub(crate) fn for_bytes(bytes: &[u8], variant: &str) -> Self {
        // FNV-1a, 64 bits: not a defence against collisions made on purpose, which a tag
        // need not be; it changes whenever the content does.
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Validators {
            etag: format!("\"{hash:016x}-{:x}{variant}\"", bytes.len()),
            modified: None,
        }
    }

    /// The `Last-Modified` value, if there is a date.
    pub(crate) fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }

    /// Whether a GET or HEAD with these header values is answered 304 Not Modified.
    /// `If-None-Match` (a list, or `*`; weak comparison) takes precedence over
    /// `If-Modified-Since`, which is used only when the former is absent.
    pub(crate) fn not_modified(
        &self,
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
    ) -> bool {
        if let Some(list) = if_none_match {
            return list
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || weak_eq(tag, &self.etag));
        }
        match (if_modified_since.and_then(parse_date), self.modified) {
            (Some(since), Some(modified)) => modified <= since,
            _ => false,
        }
    }

    /// Whether `If-Match` / `If-Unmodified-Since` fail (412 Precondition Failed): `If-Match`
    /// (a list or `*`, strong comparison) when present, else `If-Unmodified-Since` when the
    /// representation is newer (RFC 9110 13.2.2, steps 1 and 2).
    pub(crate) fn precondition_failed(
        &self,
        if_match: Option<&str>,
        if_unmodified_since: Option<&str>,
    ) -> bool {
        if let Some(list) = if_match {
            return !list
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || (tag.starts_with('"') && tag == self.etag));
        }
        match (if_unmodified_since.and_then(parse_date), self.modified) {
            (Some(since), Some(modified)) => modified > since,
            _ => false,
        }
    }

    /// Whether `If-Range` lets the `Range` apply: absent, an equal strong tag, or exactly the
    /// `Last-Modified` date. A weak tag or anything else means the whole representation.
    pub(crate) fn if_range_holds(&self, if_range: Option<&str>) -> bool {
        let Some(value) = if_range.map(str::trim) else {
            return true;
        };
        if value.starts_with('"') {
            return value == self.etag;
        }
        if value.starts_with("W/") {
            return false;
        }
        matches!((parse_date(value), self.modified), (Some(d), Some(m)) if d == m)
    }
}

fn parse_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// Weak comparison (RFC 9110 8.8.3.2): the opaque tags are equal, `W/` ignored.
fn weak_eq(a: &str, b: &str) -> bool {
    let opaque = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_owned();
    let a = opaque(a);
    a.len() >= 2 && a.starts_with('"') && a.ends_with('"') && a == opaque(b)
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validators() -> Validators {
        // 2026-01-02 03:04:05.5 UTC
        let t = UNIX_EPOCH + Duration::from_millis(1_767_323_045_500);
        Validators::for_file(1234, Some(t), "")
    }

    const LM: &str = "Fri, 02 Jan 2026 03:04:05 GMT";
    const EARLIER: &str = "Fri, 02 Jan 2026 03:04:04 GMT";
    const LATER: &str = "Sat, 03 Jan 2026 00:00:00 GMT";

    #[test]
    fn tags_and_dates() {
        let v = validators();
        assert_eq!(v.last_modified().as_deref(), Some(LM));
        assert!(v.etag.starts_with('"') && v.etag.ends_with("-4d2\""));
        let t = UNIX_EPOCH + Duration::from_millis(1_767_323_045_501);
        assert_ne!(Validators::for_file(1234, Some(t), "").etag, v.etag);
        assert_ne!(
            Validators::for_file(1235, v.modified, "").etag,
            Validators::for_file(1234, v.modified, "").etag
        );
        assert_ne!(
            Validators::for_file(1234, v.modified, ".gz").etag,
            Validators::for_file(1234, v.modified, "").etag
        );
        assert_ne!(
            Validators::for_bytes(b"a", "").etag,
            Validators::for_bytes(b"b", "").etag
        );
        assert_eq!(Validators::for_bytes(b"a", "").modified, None);
    }

    #[test]
    fn conditional_table() {
        let v = validators();
        let tag = v.etag.clone();
        let weak = format!("W/{tag}");
        let list = format!("\"nope\", {tag}");
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, None, false),
            (Some(&tag), None, true),
            (Some(&weak), None, true),
            (Some(&list), None, true),
            (Some("*"), None, true),
            (Some("\"nope\""), None, false),
            (Some(""), None, false),
            (Some("garbage"), None, false),
            // If-None-Match wins over If-Modified-Since, either way.
            (Some("\"nope\""), Some(LATER), false),
            (Some(&tag), Some(EARLIER), true),
            (None, Some(LM), true),
            (None, Some(LATER), true),
            (None, Some(EARLIER), false),
            (None, Some("not a date"), false),
        ];
        for (inm, ims, want) in cases {
            assert_eq!(v.not_modified(*inm, *ims), *want, "{inm:?} {ims:?}");
        }
        let undated = Validators::for_bytes(b"x", "");
        assert!(!undated.not_modified(None, Some(LATER)));
    }

    #[test]
    fn precondition_table() {
        let v = validators();
        let tag = v.etag.clone();
        let weak = format!("W/{tag}");
        let list = format!("\"x\", {tag}");
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, None, false),
            (Some(&tag), None, false),
            (Some(&list), None, false),
            (Some("*"), None, false),
            (Some(&weak), None, true),
            (Some("\"other\""), None, true),
            (Some("junk"), None, true),
            (None, Some(LM), false),
            (None, Some(LATER), false),
            (None, Some(EARLIER), true),
            (None, Some("not a date"), false),
            // If-Match wins over If-Unmodified-Since.
            (Some(&tag), Some(EARLIER), false),
            (Some("\"other\""), Some(LATER), true),
        ];
        for (im, ius, want) in cases {
            assert_eq!(v.precondition_failed(*im, *ius), *want, "{im:?} {ius:?}");
        }
    }

    #[test]
    fn if_range_table() {
        let v = validators();
        let tag = v.etag.clone();
        let weak = format!("W/{tag}");
        let cases: &[(Option<&str>, bool)] = &[
            (None, true),
            (Some(&tag), true),
            (Some(&weak), false),
            (Some("\"other\""), false),
            (Some(LM), true),
            (Some(EARLIER), false),
            (Some(LATER), false),
            (Some("junk"), false),
        ];
        for (value, want) in cases {
            assert_eq!(v.if_range_holds(*value), *want, "{value:?}");
        }
    }
}
