//! Content negotiation of precompressed siblings (`name.br`, `name.gz`), sans-IO.

/// A content coding a precompressed sibling can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    /// The sibling's file name suffix.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
        }
    }

    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The codings `Accept-Encoding` allows, most preferred first (equal weights: brotli first,
/// it is smaller). No header, or `q=0`, allows none: the plain file is sent.
pub(crate) fn acceptable(accept_encoding: Option<&str>) -> Vec<Coding> {
    let Some(header) = accept_encoding else {
        return Vec::new();
    };
    let weight = |coding: Coding| {
        let mut star = None;
        for element in header.split(',') {
            let mut params = element.split(';');
            let name = params.next().unwrap_or("").trim();
            let q = params
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1000), |(_, v)| qvalue(v.trim()));
            let Some(q) = q else { continue };
            if name.eq_ignore_ascii_case(coding.token())
                || (coding == Coding::Gzip && name.eq_ignore_ascii_case("x-gzip"))
            {
                return q;
            }
            if name == "*" {
                star = Some(q);
            }
        }
        star.unwrap_or(0)
    };
    let mut allowed: Vec<(u16, Coding)> = [Coding::Brotli, Coding::Gzip]
        .into_iter()
        .map(|c| (weight(c), c))
        .filter(|(q, _)| *q > 0)
        .collect();
    allowed.sort_by_key(|a| std::cmp::Reverse(a.0)); // stable: brotli stays first on a tie
    allowed.into_iter().map(|(_, c)| c).collect()
}

/// A qvalue (RFC 9110 12.4.2) in thousandths: `0`, `1`, `0.5`, `1.000`; `None` if malformed.
fn qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Coding::{Brotli, Gzip};
    use super::*;

    #[test]
    fn accept_encoding_table() {
        let cases: &[(Option<&str>, &[Coding])] = &[
            (None, &[]),
            (Some(""), &[]),
            (Some("identity"), &[]),
            (Some("gzip"), &[Gzip]),
            (Some("GZIP"), &[Gzip]),
            (Some("x-gzip"), &[Gzip]),
            (Some("br"), &[Brotli]),
            (Some("gzip, deflate, br, zstd"), &[Brotli, Gzip]),
            (Some("gzip;q=1.0, br;q=0.5"), &[Gzip, Brotli]),
            (Some("gzip;q=0"), &[]),
            (Some("gzip; q=0.000"), &[]),
            (Some("*"), &[Brotli, Gzip]),
            (Some("*;q=0.1, gzip;q=0"), &[Brotli]),
            (Some("br;q=0, *"), &[Gzip]),
            (Some("gzip;q=2"), &[]),
            (Some("gzip;q=0.1234"), &[]),
            (Some("gzip;q=abc, br"), &[Brotli]),
            (Some("deflate"), &[]),
        ];
        for (header, want) in cases {
            assert_eq!(acceptable(*header), want.to_vec(), "{header:?}");
        }
    }
}
