//! `Range` requests (RFC 9110 14), sans-IO: which part of a representation of `len` bytes to
//! send.

/// What to answer a `Range` header with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// 200 with the whole representation: no `Range`, one that is not `bytes=`, a malformed
    /// one (RFC 9110 14.2 lets a server ignore it), or several satisfiable ranges (we send the
    /// whole rather than `multipart/byteranges`).
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`: no range overlaps the representation.
    Unsatisfiable,
}

/// Evaluates a `Range` header value against a representation of `len` bytes. An end past the
/// representation is trimmed to it; a suffix longer than it means all of it.
pub(crate) fn evaluate(header: &str, len: u64) -> RangeAnswer {
    let header = header.trim();
    let Some(unit) = header.get(..6) else {
        return RangeAnswer::Full;
    };
    if !unit.eq_ignore_ascii_case("bytes=") {
        return RangeAnswer::Full;
    }
    let mut found = None;
    let mut satisfiable = 0usize;
    let mut any = false;
    for spec in header[6..].split(',') {
        let spec = spec.trim_matches([' ', '\t']);
        if spec.is_empty() {
            continue; // list syntax allows empty elements
        }
        any = true;
        let Some((first, last)) = spec.split_once('-') else {
            return RangeAnswer::Full;
        };
        let range = match (number(first), number(last)) {
            // bytes=a-b and bytes=a-
            (Some(a), Some(b)) if a <= b => (a < len).then(|| (a, b.min(len - 1))),
            (Some(a), None) if last.is_empty() => (a < len).then(|| (a, len - 1)),
            // bytes=-n: the last n bytes
            (None, Some(n)) if first.is_empty() => {
                (n > 0 && len > 0).then(|| (len - n.min(len), len - 1))
            }
            _ => return RangeAnswer::Full,
        };
        if let Some(r) = range {
            satisfiable += 1;
            found = Some(r);
        }
    }
    match (any, satisfiable, found) {
        (false, _, _) => RangeAnswer::Full,
        (true, 1, Some((start, end))) => RangeAnswer::Partial { start, end },
        (true, 0, _) => RangeAnswer::Unsatisfiable,
        _ => RangeAnswer::Full,
    }
}

/// A decimal number of one or more digits; one too large for u64 saturates (it is still past
/// the end of any representation).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::{Full, Partial, Unsatisfiable};
    use super::*;

    fn p(start: u64, end: u64) -> RangeAnswer {
        Partial { start, end }
    }

    #[test]
    fn range_table() {
        let cases: &[(&str, u64, RangeAnswer)] = &[
            ("bytes=0-0", 100, p(0, 0)),
            ("bytes=0-99", 100, p(0, 99)),
            ("bytes=10-19", 100, p(10, 19)),
            ("bytes=10-", 100, p(10, 99)),
            ("bytes=-10", 100, p(90, 99)),
            ("bytes=-100", 100, p(0, 99)),
            ("bytes=-1000", 100, p(0, 99)),
            ("bytes=90-1000", 100, p(90, 99)),
            ("bytes=0-18446744073709551616", 100, p(0, 99)),
            ("BYTES=1-2", 100, p(1, 2)),
            (" bytes=1-2 ", 100, p(1, 2)),
            ("bytes= 1-2 ,", 100, p(1, 2)),
            ("bytes=1-2, 200-300", 100, p(1, 2)),
            ("bytes=100-", 100, Unsatisfiable),
            ("bytes=100-200", 100, Unsatisfiable),
            ("bytes=-0", 100, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Unsatisfiable),
            ("bytes=99999999999999999999-", 100, Unsatisfiable),
            ("bytes=200-300, 400-", 100, Unsatisfiable),
            ("bytes=0-1,5-6", 100, Full),
            ("bytes=0-1,0-1", 100, Full),
            ("bytes=5-4", 100, Full),
            ("bytes=a-b", 100, Full),
            ("bytes=1", 100, Full),
            ("bytes=-", 100, Full),
            ("bytes=--1", 100, Full),
            ("bytes=+1-2", 100, Full),
            ("bytes=", 100, Full),
            ("bytes=,", 100, Full),
            ("items=0-1", 100, Full),
            ("bytes", 100, Full),
            ("", 100, Full),
        ];
        for (header, len, want) in cases {
            assert_eq!(evaluate(header, *len), *want, "{header:?} of {len}");
        }
    }

    #[test]
    fn partial_ranges_lie_inside_the_representation() {
        for len in [0u64, 1, 2, 10, 1000] {
            for a in 0..12u64 {
                for b in 0..12u64 {
                    for h in [
                        format!("bytes={a}-{b}"),
                        format!("bytes={a}-"),
                        format!("bytes=-{b}"),
                    ] {
                        if let Partial { start, end } = evaluate(&h, len) {
                            assert!(start <= end && end < len, "{h} of {len}");
                        }
                    }
                }
            }
        }
    }
}
