//! Request targets: the path routed on, query parameters and percent-decoding. Sans-IO.

use std::borrow::Cow;

/// Where the path starts in an absolute-form target (`http://host/path`), if it is one.
pub(crate) fn absolute_path_start(t: &[u8]) -> Option<usize> {
    // Bytes, not str: slicing a str at 7 or 8 could split a multi-byte character.
    let rest_at = if t.len() >= 7 && t[..7].eq_ignore_ascii_case(b"http://") {
        7
    } else if t.len() >= 8 && t[..8].eq_ignore_ascii_case(b"https://") {
        8
    } else {
        return None;
    };
    let authority_len = t[rest_at..]
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(t.len() - rest_at);
    if authority_len == 0 {
        return None;
    }
    Some(rest_at + authority_len)
}

/// The path of a request target: without query, and without scheme and authority for an
/// absolute-form target.
pub(crate) fn path_of(target: &[u8]) -> &[u8] {
    let without_query = match target.iter().position(|&b| b == b'?') {
        Some(q) => &target[..q],
        None => target,
    };
    match absolute_path_start(without_query) {
        Some(at) if at == without_query.len() => b"/",
        Some(at) => &without_query[at..],
        None => without_query,
    }
}

pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Percent-decoding for query values (`application/x-www-form-urlencoded`: `+` is a space).
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn paths() {
        assert_eq!(path_of(b"/a/b?x=1"), b"/a/b");
        assert_eq!(path_of(b"/"), b"/");
        assert_eq!(path_of(b"http://h:80/a?q"), b"/a");
        assert_eq!(path_of(b"http://h"), b"/");
        assert_eq!(path_of(b"http://h?q"), b"/");
    }

    #[test]
    fn query_values() {
        let q = "query1=a%20b&Flag&x=1&x=2&empty=";
        let find = |k: &str| {
            query_pairs(q)
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        assert_eq!(find("QUERY1"), Some("a%20b"));
        assert_eq!(find("flag"), Some(""));
        assert_eq!(find("x"), Some("1"));
        assert_eq!(find("empty"), Some(""));
        assert_eq!(find("nope"), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert!(matches!(percent_decode("plain"), Cow::Borrowed(_)));
    }
}
