//! The shared vocabulary every layer uses: session ids, methods, versions and URI matchers.

use std::fmt;
use std::sync::Arc;

/// The largest number of request header fields a configuration may allow.
pub const MAX_REQ_HEADERS_LIMIT: usize = 128;

/// Session generations wrap at this many (15 bits), so an id fits a non-negative `i32`.
const GENERATION_MASK: u32 = 0x7fff;
/// Slots take the low 16 bits of a raw id (`max_open_sockets` is at most 65,536).
const SLOT_BITS: u32 = 16;

/// Identifies one connection for its whole life. The generation makes ids of closed sessions
/// stale: a late `send_to` or `trigger_close` never reaches a newer connection in the same slot
/// (unless that slot has since been reused 32,768 times).
///
/// An id round-trips through a non-negative `i32` (the C API's socket descriptor):
///
/// ```
/// # fn check(id: httpd::SessionId) {
/// assert_eq!(httpd::SessionId::from_raw(id.as_raw()), Some(id));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl SessionId {
    pub(crate) fn new(slot: usize, generation: u32) -> SessionId {
        SessionId {
            slot: slot as u32,
            generation: generation & GENERATION_MASK,
        }
    }

    /// The generation the next session in this slot gets.
    pub(crate) fn next_generation(self) -> u32 {
        (self.generation + 1) & GENERATION_MASK
    }

    /// The id as a non-negative integer: the slot in the low 16 bits, the generation above.
    pub fn as_raw(self) -> i32 {
        ((self.generation << SLOT_BITS) | self.slot) as i32
    }

    /// The id an integer from [`as_raw`](SessionId::as_raw) stands for; `None` for a negative
    /// number. An id that was never given out is simply stale: using it does nothing.
    pub fn from_raw(raw: i32) -> Option<SessionId> {
        let raw = u32::try_from(raw).ok()?;
        Some(SessionId {
            slot: raw & ((1 << SLOT_BITS) - 1),
            generation: raw >> SLOT_BITS,
        })
    }

    /// The slot in the session table.
    pub(crate) fn slot(self) -> usize {
        self.slot as usize
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.slot, self.generation)
    }
}

/// An HTTP request method. [`Method::Any`] only appears in registrations: it matches every
/// method (ESP-IDF's `HTTP_ANY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `PATCH`
    Patch,
    /// `TRACE`
    Trace,
    /// `CONNECT`
    Connect,
    /// Every method; for registering a handler only.
    Any,
}

impl Method {
    /// The method's token, e.g. `"GET"`; `"ANY"` for [`Method::Any`].
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Any => "ANY",
        }
    }

    #[inline]
    pub(crate) fn from_token(token: &str) -> Option<Method> {
        Some(match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

/// How a registered URI template matches a request path (the target without its query).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum UriMatch {
    /// The path equals the template.
    #[default]
    Exact,
    /// ESP-IDF's `httpd_uri_match_wildcard`: a trailing `*` matches any suffix, a trailing `?`
    /// makes the character before it optional, `?*` / `*?` at the end combine both; `*` and `?`
    /// elsewhere are literal.
    Wildcard,
    /// A user function `(template, path) -> matches`.
    Custom(Arc<dyn Fn(&str, &str) -> bool + Send + Sync>),
}

impl UriMatch {
    /// A custom matcher from a function `(template, path) -> matches`.
    pub fn custom(f: impl Fn(&str, &str) -> bool + Send + Sync + 'static) -> Self {
        UriMatch::Custom(Arc::new(f))
    }

    /// Whether `template` matches `path` under this rule.
    ///
    /// ```
    /// use httpd::UriMatch;
    /// assert!(UriMatch::Wildcard.matches("/path/?*", "/path"));
    /// assert!(UriMatch::Wildcard.matches("/path/?*", "/path/abc"));
    /// assert!(!UriMatch::Wildcard.matches("/path/?*", "/pathb"));
    /// ```
    pub fn matches(&self, template: &str, path: &str) -> bool {
        self.matches_bytes(template, path.as_bytes())
    }

    /// On the request's bytes: only a custom matcher needs the path as text.
    #[inline]
    pub(crate) fn matches_bytes(&self, template: &str, path: &[u8]) -> bool {
        match self {
            UriMatch::Exact => template.as_bytes() == path,
            UriMatch::Wildcard => wildcard_match(template, path),
            UriMatch::Custom(f) => std::str::from_utf8(path).is_ok_and(|p| f(template, p)),
        }
    }
}

impl fmt::Debug for UriMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriMatch::Exact => f.write_str("Exact"),
            UriMatch::Wildcard => f.write_str("Wildcard"),
            UriMatch::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

fn wildcard_match(template: &str, p: &[u8]) -> bool {
    let t = template.as_bytes();
    let (star, quest, base) = match t {
        [.., b'*', b'?'] | [.., b'?', b'*'] => (true, true, t.len() - 2),
        [.., b'*'] => (true, false, t.len() - 1),
        [.., b'?'] => (false, true, t.len() - 1),
        _ => (false, false, t.len()),
    };
    if !quest {
        return if star {
            p.starts_with(&t[..base])
        } else {
            p == t
        };
    }
    // `?` needs a character before it to make optional.
    let Some(optional_at) = base.checked_sub(1) else {
        return false;
    };
    let Some(rest) = p.strip_prefix(&t[..optional_at]) else {
        return false;
    };
    match rest {
        [] => true,
        [c, tail @ ..] if *c == t[optional_at] => star || tail.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_round_trip_through_an_integer() {
        for (slot, generation) in [(0, 0), (1, 0), (65_535, 0x7fff), (7, 12_345)] {
            let id = SessionId::new(slot, generation);
            assert!(id.as_raw() >= 0);
            assert_eq!(SessionId::from_raw(id.as_raw()), Some(id));
        }
        assert_eq!(SessionId::from_raw(-1), None);
        assert_eq!(SessionId::new(3, 0x7fff).next_generation(), 0);
        assert_ne!(SessionId::new(3, 1).as_raw(), SessionId::new(3, 2).as_raw());
    }

    #[test]
    fn wildcard_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("/path/?", "/path", true),
            ("/path/?", "/path/", true),
            ("/path/?", "/path/x", false),
            ("/path/?", "/pathx", false),
            ("/path/*", "/path/", true),
            ("/path/*", "/path/abc", true),
            ("/path/*", "/path", false),
            ("/path/?*", "/path", true),
            ("/path/?*", "/path/", true),
            ("/path/?*", "/path/abc", true),
            ("/path/?*", "/pathb", false),
            ("/path/*?", "/path", true),
            ("/path/*?", "/path/abc", true),
            ("/path/*?", "/pathb", false),
            ("*", "", true),
            ("*", "/anything", true),
            ("/", "", false),
            ("/", "/", true),
            ("?", "", false),
            ("/a*b", "/a*b", true),
            ("/a*b", "/axb", false),
            ("/a?b", "/a?b", true),
            ("/a?b", "/ab", false),
        ];
        for (tpl, path, want) in cases {
            assert_eq!(
                wildcard_match(tpl, path.as_bytes()),
                *want,
                "{tpl:?} vs {path:?}"
            );
        }
    }
}
