//! Static files over real sockets: path safety (the traversal table), types and validators,
//! conditional requests, ranges, precompressed siblings, directories, HEAD and 405, embedded
//! assets, and large files streamed without holding up other clients.
mod files_util;
mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use files_util::{get_with, request_with, TempDir};
use httpd::{Assets, Config, Server, StaticFiles};
use util::{start, Client, Response};

const SECRET: &str = "TOP SECRET outside the root";

/// A tree: `base/secret.txt` outside the root, `base/root/` served under `/static/`.
fn tree() -> TempDir {
    let base = TempDir::new("static");
    base.write("secret.txt", SECRET);
    base.write("root/a.txt", "hello, files\n");
    base.write("root/index.html", "<h1>index</h1>");
    base.write("root/blob.unknownext", [1u8, 2, 3]);
    base.write("root/sub/index.html", "<h1>sub</h1>");
    base.write("root/sub/b.css", "body{}");
    std::fs::create_dir_all(base.path().join("root/empty")).unwrap();
    let root = base.path().join("root");
    std::os::unix::fs::symlink("../secret.txt", root.join("escape")).unwrap();
    std::os::unix::fs::symlink("..", root.join("escdir")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc_link")).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("inner")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("subdir_link")).unwrap();
    base
}

fn serve(files: StaticFiles) -> Server {
    let server = start(Config::builder());
    server
        .register(files.handler("/static/*").unwrap())
        .unwrap();
    server
}

fn fresh_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    get_with(&mut Client::connect(addr), path, headers)
}

/// The head only, on a connection of its own (304 carries a length but no body).
fn head_of(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut c = Client::connect(addr);
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n");
    for (n, v) in &all {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    c.send(req + "\r\n");
    c.head_response()
}

#[test]
fn traversal_table() {
    let base = tree();
    let server = serve(StaticFiles::new(base.path().join("root")).unwrap());
    let addr = server.local_addr();
    let cases: &[(&str, u16)] = &[
        ("/static/../secret.txt", 400),
        ("/static/..", 400),
        ("/static/a/../../secret.txt", 400),
        ("/static/sub/../../secret.txt", 400),
        ("/static/%2e%2e/secret.txt", 400),
        ("/static/%2E%2E/secret.txt", 400),
        ("/static/.%2e/secret.txt", 400),
        ("/static/%2e%2e%2fsecret.txt", 400),
        ("/static/..%2Fsecret.txt", 400),
        ("/static/sub%2f..%2f..%2fsecret.txt", 400),
        ("/static/..%5csecret.txt", 400),
        ("/static/..\\secret.txt", 400),
        ("/static/a.txt%00.html", 400),
        ("/static/%00", 400),
        ("/static/%c0%ae%c0%ae/secret.txt", 400),
        ("/static/%e0%80%ae%e0%80%ae/secret.txt", 400),
        ("/static/%c0%af..%c0%afsecret.txt", 400),
        ("/static/C:/Windows/win.ini", 400),
        ("/static/C:%5cWindows%5cwin.ini", 400),
        ("/static/%", 400),
        ("/static/%zz", 400),
        ("http://test/static/../secret.txt", 400),
        ("/static//etc/passwd", 404),
        ("/static///secret.txt", 404),
        ("/static/%252e%252e/secret.txt", 404),
        ("/static/..../secret.txt", 404),
        ("/static/escape", 403),
        ("/static/escdir/secret.txt", 403),
        ("/static/escdir/root/a.txt", 200),
        ("/static/etc_link/passwd", 403),
        ("/static/etc_link/", 404),
        ("/secret.txt", 404),
        ("/static/inner", 200),
        ("/static/subdir_link/b.css", 200),
        ("/static/./a.txt", 200),
        ("/static/sub/./b.css", 200),
    ];
    assert!(cases.len() >= 20);
    let mut c = Client::connect(addr);
    for (path, want) in cases {
        let r = c.get(path);
        assert_eq!(r.status, *want, "{path}: {}", r.text());
        assert!(!r.text().contains(SECRET), "{path} leaked the secret");
        if r.closes() {
            c = Client::connect(addr);
        }
    }
    assert_eq!(c.get("/static/inner").text(), "hello, files\n");
    // Raw bytes that are not UTF-8 in the target.
    let mut c = Client::connect(addr);
    c.send(b"GET /static/\xc0\xae\xc0\xae/secret.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.try_response();
    assert!(r.as_ref().map_or(true, |r| r.status == 400), "{r:?}");
}

#[test]
fn types_lengths_validators_head_and_405() {
    let base = tree();
    let files = StaticFiles::new(base.path().join("root"))
        .unwrap()
        .cache_control("max-age=60");
    let server = serve(files);
    let mut c = Client::connect(server.local_addr());

    let r = c.get("/static/a.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello, files\n");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    let etag = r.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let lm = r.header("last-modified").expect("Last-Modified");
    let modified = std::fs::metadata(base.path().join("root/a.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let secs =
        |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs(httpdate::parse_http_date(lm).unwrap()), secs(modified));

    assert_eq!(
        c.get("/static/sub/b.css").header("content-type"),
        Some("text/css")
    );
    assert_eq!(
        c.get("/static/index.html").header("content-type"),
        Some("text/html")
    );
    let blob = c.get("/static/blob.unknownext");
    assert_eq!(
        blob.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(blob.body, [1, 2, 3]);

    let head = request_with(&mut c, "HEAD", "/static/a.txt", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // Nothing followed the head: the next response on this connection is intact.
    assert_eq!(c.get("/static/a.txt").body, b"hello, files\n");

    for method in ["POST", "PUT", "DELETE"] {
        let r = c.request(method, "/static/a.txt", b"x");
        assert_eq!(r.status, 405, "{method}");
    }
    assert_eq!(c.get("/static/a.txt").status, 200);
}

#[test]
fn directories_index_redirect_and_no_listing() {
    let base = tree();
    let server = serve(StaticFiles::new(base.path().join("root")).unwrap());
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/static/sub");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/static/sub/"));
    assert_eq!(
        c.get("/static/sub?x=1").header("location"),
        Some("/static/sub/?x=1")
    );
    let r = c.get("/static/sub/");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>sub</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(c.get("/static/").text(), "<h1>index</h1>");
    assert_eq!(c.get("/static/empty/").status, 404);
    assert_eq!(c.get("/static/a.txt/").status, 404);
    assert_eq!(c.get("/static/missing").status, 404);

    // Without an index file a directory is 404.
    let server = serve(
        StaticFiles::new(base.path().join("root"))
            .unwrap()
            .index_file(None),
    );
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/static/sub/").status, 404);
    assert_eq!(c.get("/static/sub/b.css").status, 200);
    // A mount matching its own name without the slash redirects into it.
    let server = start(Config::builder());
    let files = StaticFiles::new(base.path().join("root")).unwrap();
    server.register(files.handler("/ui/?*").unwrap()).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/ui").header("location"), Some("/ui/"));
    assert_eq!(c.get("/ui/").text(), "<h1>index</h1>");
    assert_eq!(c.get("/ui/a.txt").text(), "hello, files\n");
}

#[test]
fn conditional_requests_table() {
    let base = tree();
    let server = serve(StaticFiles::new(base.path().join("root")).unwrap());
    let addr = server.local_addr();
    let first = fresh_get(addr, "/static/a.txt", &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let lm = first.header("last-modified").unwrap().to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"x\", {etag} , \"y\"");
    let earlier =
        httpdate::fmt_http_date(httpdate::parse_http_date(&lm).unwrap() - Duration::from_secs(1));
    let later = httpdate::fmt_http_date(
        httpdate::parse_http_date(&lm).unwrap() + Duration::from_secs(3600),
    );
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("If-None-Match", &etag)], 304),
        (&[("If-None-Match", &weak)], 304),
        (&[("If-None-Match", &list)], 304),
        (&[("If-None-Match", "*")], 304),
        (&[("If-None-Match", "\"other\"")], 200),
        (&[("If-Modified-Since", &lm)], 304),
        (&[("If-Modified-Since", &later)], 304),
        (&[("If-Modified-Since", &earlier)], 200),
        (&[("If-Modified-Since", "yesterday")], 200),
        // If-None-Match takes precedence over If-Modified-Since, either way.
        (
            &[
                ("If-None-Match", "\"other\""),
                ("If-Modified-Since", &later),
            ],
            200,
        ),
        (
            &[("If-None-Match", &etag), ("If-Modified-Since", &earlier)],
            304,
        ),
        (&[("If-Match", &etag)], 200),
        (&[("If-Match", "*")], 200),
        (&[("If-Match", "\"other\"")], 412),
        (&[("If-Match", &weak)], 412),
        (&[("If-Unmodified-Since", &lm)], 200),
        (&[("If-Unmodified-Since", &earlier)], 412),
        // A failed precondition wins over a matching If-None-Match.
        (&[("If-Match", "\"other\""), ("If-None-Match", &etag)], 412),
    ];
    for (headers, want) in cases {
        let r = head_of(addr, "/static/a.txt", headers);
        assert_eq!(r.status, *want, "{headers:?}");
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{headers:?}");
        if *want == 304 {
            assert!(r.header("content-type").is_some());
            assert_eq!(
                r.header("content-length"),
                Some("13"),
                "the 200's length, no body"
            );
        }
    }
    // A 304 has no body: the next response on the same connection parses.
    let mut c = Client::connect(addr);
    c.send(format!(
        "GET /static/a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"
    ));
    assert_eq!(c.head_response().status, 304);
    assert_eq!(c.get("/static/a.txt").body, b"hello, files\n");

    // A file changed on disk gets a new tag; the old one no longer matches.
    base.write("root/a.txt", "hello, files, again\n");
    let r = fresh_get(addr, "/static/a.txt", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello, files, again\n");
    assert_ne!(r.header("etag"), Some(etag.as_str()));
}

#[test]
fn ranges_table() {
    let base = tree();
    let data: Vec<u8> = (0..100u8).collect();
    base.write("root/hundred.bin", &data);
    let server = serve(StaticFiles::new(base.path().join("root")).unwrap());
    let addr = server.local_addr();
    let etag = fresh_get(addr, "/static/hundred.bin", &[])
        .header("etag")
        .unwrap()
        .to_owned();
    let lm = fresh_get(addr, "/static/hundred.bin", &[])
        .header("last-modified")
        .unwrap()
        .to_owned();
    // (Range, If-Range, status, body range, Content-Range)
    let cases: &[(&str, Option<&str>, u16, (usize, usize), Option<&str>)] = &[
        ("bytes=0-9", None, 206, (0, 10), Some("bytes 0-9/100")),
        ("bytes=90-", None, 206, (90, 100), Some("bytes 90-99/100")),
        ("bytes=-5", None, 206, (95, 100), Some("bytes 95-99/100")),
        (
            "bytes=95-500",
            None,
            206,
            (95, 100),
            Some("bytes 95-99/100"),
        ),
        ("bytes=-500", None, 206, (0, 100), Some("bytes 0-99/100")),
        ("bytes=50-50", None, 206, (50, 51), Some("bytes 50-50/100")),
        ("bytes=100-", None, 416, (0, 0), Some("bytes */100")),
        ("bytes=500-600", None, 416, (0, 0), Some("bytes */100")),
        ("bytes=-0", None, 416, (0, 0), Some("bytes */100")),
        ("bytes=0-1,5-6", None, 200, (0, 100), None),
        ("bytes=9-1", None, 200, (0, 100), None),
        ("lines=1-2", None, 200, (0, 100), None),
        ("bytes=x", None, 200, (0, 100), None),
        (
            "bytes=10-19",
            Some(&etag),
            206,
            (10, 20),
            Some("bytes 10-19/100"),
        ),
        ("bytes=10-19", Some("\"stale\""), 200, (0, 100), None),
        (
            "bytes=10-19",
            Some(&lm),
            206,
            (10, 20),
            Some("bytes 10-19/100"),
        ),
        (
            "bytes=10-19",
            Some("Thu, 01 Jan 1998 00:00:00 GMT"),
            200,
            (0, 100),
            None,
        ),
    ];
    let mut c = Client::connect(addr);
    for (range, if_range, status, (from, to), content_range) in cases {
        let mut headers = vec![("Range", *range)];
        if let Some(v) = if_range {
            headers.push(("If-Range", v));
        }
        let r = get_with(&mut c, "/static/hundred.bin", &headers);
        assert_eq!(r.status, *status, "{range} {if_range:?}");
        assert_eq!(r.header("content-range"), *content_range, "{range}");
        if *status == 416 {
            assert!(r.body.is_empty());
        } else {
            assert_eq!(r.body, &data[*from..*to], "{range} {if_range:?}");
        }
    }
    // An empty file has no satisfiable range.
    base.write("root/empty.bin", b"");
    assert_eq!(
        get_with(&mut c, "/static/empty.bin", &[("Range", "bytes=0-")]).status,
        416
    );
    assert_eq!(c.get("/static/empty.bin").status, 200);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn precompressed_siblings_table() {
    let base = tree();
    let js = "function hello() { return 'hello'; }\n".repeat(20);
    base.write("root/app.js", &js);
    base.write("root/app.js.gz", gzip(js.as_bytes()));
    base.write("root/app.js.br", b"pretend-brotli");
    base.write("root/only.css.gz", gzip(b"body{color:red}"));
    let server = serve(StaticFiles::new(base.path().join("root")).unwrap());
    let mut c = Client::connect(server.local_addr());
    // (path, Accept-Encoding, status, Content-Encoding)
    let cases: &[(&str, Option<&str>, u16, Option<&str>)] = &[
        ("/static/app.js", None, 200, None),
        ("/static/app.js", Some("identity"), 200, None),
        ("/static/app.js", Some("gzip"), 200, Some("gzip")),
        ("/static/app.js", Some("gzip, deflate, br"), 200, Some("br")),
        ("/static/app.js", Some("br;q=0.5, gzip"), 200, Some("gzip")),
        ("/static/app.js", Some("gzip;q=0"), 200, None),
        ("/static/app.js", Some("*"), 200, Some("br")),
        ("/static/only.css", Some("gzip"), 200, Some("gzip")),
        ("/static/only.css", None, 404, None),
        ("/static/only.css", Some("br"), 404, None),
    ];
    let mut tags = Vec::new();
    for (path, ae, status, ce) in cases {
        let headers: Vec<(&str, &str)> = ae.iter().map(|v| ("Accept-Encoding", *v)).collect();
        let r = get_with(&mut c, path, &headers);
        assert_eq!(r.status, *status, "{path} {ae:?}");
        assert_eq!(r.header("content-encoding"), *ce, "{path} {ae:?}");
        if *status != 200 {
            continue;
        }
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        let want_type = if path.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with(want_type)),
            "{path}"
        );
        match *ce {
            Some("gzip") if path.ends_with(".js") => assert_eq!(gunzip(&r.body), js.as_bytes()),
            Some("gzip") => assert_eq!(gunzip(&r.body), b"body{color:red}"),
            Some("br") => assert_eq!(r.body, b"pretend-brotli"),
            _ => assert_eq!(r.body, js.as_bytes()),
        }
        tags.push((ce.to_owned(), r.header("etag").unwrap().to_owned()));
    }
    // Each variant has its own tag.
    let plain = &tags.iter().find(|(ce, _)| ce.is_none()).unwrap().1;
    let gz = &tags.iter().find(|(ce, _)| *ce == Some("gzip")).unwrap().1;
    assert_ne!(plain, gz);
    // Ranges apply to the variant sent.
    let r = get_with(
        &mut c,
        "/static/app.js",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-1")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &[0x1f, 0x8b][..]));
    // Off: the plain file only, no Vary.
    let server = serve(
        StaticFiles::new(base.path().join("root"))
            .unwrap()
            .precompressed(false),
    );
    let mut c = Client::connect(server.local_addr());
    let r = get_with(&mut c, "/static/app.js", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, None)
    );
    assert_eq!(r.body, js.as_bytes());
}

static UI: &[(&str, &[u8])] = &[
    (
        "index.html",
        b"<!doctype html><title>ui</title><script src=app.js></script>",
    ),
    (
        "app.js.gz",
        &[
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    ),
    ("css/site.css", b"body { margin: 0 }"),
    ("big.bin", &[7u8; 100_000]),
];

#[test]
fn embedded_assets_with_a_single_page_fallback() {
    let server = start(Config::builder());
    let files = StaticFiles::embedded(Assets::new(UI))
        .fallback("index.html")
        .cache_control("no-cache");
    server.register(files.handler("/*").unwrap()).unwrap();
    let mut c = Client::connect(server.local_addr());
    let index = c.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(index.body, UI[0].1);
    assert_eq!(index.header("content-type"), Some("text/html"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(index.header("last-modified"), None);
    let etag = index.header("etag").unwrap().to_owned();
    // The single-page app's routes get index.html.
    assert_eq!(c.get("/devices/3/settings").body, UI[0].1);
    assert_eq!(
        c.get("/css/site.css").header("content-type"),
        Some("text/css")
    );
    assert_eq!(c.get("/css").header("location"), Some("/css/"));
    // Never a protocol-relative `//host/` redirect.
    assert_eq!(c.get("//css").header("location"), Some("/css/"));
    // Unsafe paths are still refused.
    assert_eq!(c.get("/%2e%2e/x").status, 400);
    let js = get_with(&mut c, "/app.js", &[("Accept-Encoding", "gzip")]);
    assert_eq!(js.header("content-encoding"), Some("gzip"));
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(gunzip(&js.body), b"");
    // No gzip: app.js does not exist as plain, so the fallback answers.
    assert_eq!(c.get("/app.js").body, UI[0].1);
    let big = get_with(&mut c, "/big.bin", &[("Range", "bytes=99990-")]);
    assert_eq!((big.status, big.body.len()), (206, 10));
    assert_eq!(c.get("/big.bin").body.len(), 100_000);
    c.send(format!(
        "GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"
    ));
    let r = c.head_response();
    assert_eq!(r.status, 304);
    assert_eq!(c.get("/css/site.css").body, b"body { margin: 0 }");
}

#[test]
fn handler_uri_must_be_a_wildcard() {
    let files = StaticFiles::embedded(Assets::new(UI));
    assert!(matches!(
        files.clone().handler("/static/"),
        Err(httpd::Error::InvalidConfig(_))
    ));
    let bad = files.cache_control("a\r\nb");
    assert!(matches!(
        bad.handler("/*"),
        Err(httpd::Error::InvalidHeader)
    ));
    assert!(StaticFiles::new("/definitely/not/here").is_err());
}

/// A 24 MiB file to a client that does not read: another client is served meanwhile, then
/// the slow one gets every byte, in order.
#[test]
fn large_files_stream_without_holding_up_other_clients() {
    let base = tree();
    const LEN: usize = 24 << 20;
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 4096) as u8).collect();
    base.write("root/large.bin", &data);
    let server = serve(StaticFiles::new(base.path().join("root")).unwrap());
    let addr = server.local_addr();

    let mut slow = Client::connect(addr);
    slow.send("GET /static/large.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    // The slow client's socket fills; others are served meanwhile, quickly.
    for _ in 0..20 {
        let started = Instant::now();
        let r = Client::connect(addr).get("/static/a.txt");
        assert_eq!(r.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "blocked by the slow reader"
        );
    }
    let r = slow.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), LEN);
    assert!(r.body == data, "large body differs");
    // And a range from the middle of it.
    let r = get_with(
        &mut slow,
        "/static/large.bin",
        &[("Range", "bytes=10000000-10000009")],
    );
    assert_eq!(r.body, &data[10_000_000..10_000_010]);
}

/// A file that is shorter than announced when the loop sends it (truncated after its length
/// was read): the client gets what there is, then the connection closes, never a hang.
#[test]
fn a_file_truncated_while_sent_closes_the_connection() {
    let base = TempDir::new("truncated");
    let path = base.write("f.bin", vec![b'x'; 1 << 20]);
    let server = start(Config::builder());
    server
        .register(httpd::Handler::new("/f", httpd::Method::Get, move |req| {
            let body = httpd::Body::from_file(std::fs::File::open(&path)?)?;
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(10)?;
            req.send_body(body)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET /f HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.head_response();
    assert_eq!(head.header("content-length"), Some("1048576"));
    // The rest (what the client had not buffered yet) ends with a close, not a timeout.
    let mut rest = Vec::new();
    let started = Instant::now();
    let end = c.stream.read_to_end(&mut rest);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection stayed open"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(rest.len() <= 10, "{} bytes", rest.len());
}

/// `serve` from a handler of its own: any method reaches it, and only GET and HEAD are
/// served (405 with `Allow`); an HTTP/1.0 client gets the file with its length.
#[test]
fn serve_from_an_any_handler_and_http10() {
    let base = tree();
    let files = StaticFiles::new(base.path().join("root")).unwrap();
    let server = start(Config::builder());
    server
        .register(
            httpd::Handler::new("/any/*", httpd::Method::Any, move |req| {
                let rel = req.path()["/any/".len()..].to_owned();
                files.serve(req, &rel)
            })
            .with_match(httpd::UriMatch::Wildcard),
        )
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    let r = c.request("DELETE", "/any/a.txt", b"");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(c.get("/any/a.txt").body, b"hello, files\n");
    assert!(base.path().join("root/a.txt").exists());

    let mut c = Client::connect(server.local_addr());
    c.send("GET /any/sub/b.css HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"body{}"[..]));
    assert_eq!(r.header("content-length"), Some("6"));
    assert!(c.is_closed());
}
