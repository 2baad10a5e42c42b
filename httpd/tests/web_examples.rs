//! The `restful_server` and `captive_portal` examples, black-box: the gzipped UI compiled into
//! the binary (and its assets checked against their sources), the JSON API and its validation,
//! and the captive portal's redirect of every unknown URI.
mod example_util;
mod files_util;
mod util;

use std::io::Read;
use std::path::Path;

use example_util::Server;
use files_util::get_with;
use serde_json::Value;
use util::{Client, Response};

fn asset(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/assets/restful_server");
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn json(r: &Response) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    serde_json::from_slice(&r.body).expect("a JSON body")
}

/// The committed `.gz` assets hold exactly their committed sources (regenerate with
/// `gzip -9 -n -k -f FILE` after editing one).
#[test]
fn restful_server_assets_match_their_sources() {
    for name in ["index.html", "app.js", "style.css"] {
        assert_eq!(
            gunzip(&asset(&format!("{name}.gz"))),
            asset(name),
            "{name}.gz is stale"
        );
    }
}

#[test]
fn restful_server_ui_and_api() {
    let server = Server::start("restful_server");
    let mut c = Client::connect(server.addr());
    let gz = [("Accept-Encoding", "gzip, deflate, br")];

    // The UI, gzipped, from inside the binary; the app's routes fall back to index.html.
    for (path, source, mime) in [
        ("/", "index.html", "text/html"),
        ("/light", "index.html", "text/html"),
        ("/deep/route/1", "index.html", "text/html"),
        ("/app.js", "app.js", "text/javascript"),
        ("/style.css", "style.css", "text/css"),
    ] {
        let r = get_with(&mut c, path, &gz);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        assert!(
            r.header("content-type").unwrap().starts_with(mime),
            "{path}"
        );
        assert_eq!(gunzip(&r.body), asset(source), "{path}");
    }
    let etag = get_with(&mut c, "/", &gz)
        .header("etag")
        .unwrap()
        .to_owned();
    c.send(format!(
        "GET / HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n\r\n"
    ));
    assert_eq!(c.head_response().status, 304);
    // Only gzipped inside: a client that takes no gzip finds nothing.
    assert_eq!(c.get("/app.js").status, 404);

    let info = json(&c.get("/api/v1/system/info"));
    assert!(info["version"].as_str().unwrap().starts_with("httpd "));
    assert!(info["cores"].as_u64().unwrap() >= 1);
    let raw = json(&c.get("/api/v1/temp/raw"))["raw"].as_u64().unwrap();
    assert!(raw < 20);

    let ok = c.request(
        "POST",
        "/api/v1/light/brightness",
        br#"{"red":1,"green":200,"blue":255}"#,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(
        json(&ok),
        serde_json::json!({"red": 1, "green": 200, "blue": 255})
    );
    let bad: &[&[u8]] = &[
        b"",
        b"not json",
        b"[1,2,3]",
        br#"{"red":1,"green":2}"#,
        br#"{"red":1,"green":2,"blue":256}"#,
        br#"{"red":-1,"green":2,"blue":3}"#,
        br#"{"red":"1","green":2,"blue":3}"#,
        br#"{"red":1.5,"green":2,"blue":3}"#,
        br#"{"red":1,"green":2,"blue":null}"#,
    ];
    for body in bad {
        let r = c.request("POST", "/api/v1/light/brightness", body);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert!(json(&r)["error"].is_string());
    }
    let r = c.request("POST", "/api/v1/light/brightness", &[b' '; 2000]);
    assert_eq!(r.status, 413);
    assert!(json(&r)["error"].is_string());
    let mut c = Client::connect(server.addr());
    let r = c.get("/api/v1/nope");
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (404, Some("no such endpoint"))
    );
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn captive_portal_redirects_every_unknown_uri() {
    let server = Server::start("captive_portal");
    let mut c = Client::connect(server.addr());
    let portal = c.get("/");
    assert_eq!(portal.status, 200);
    assert!(portal.text().contains("Captive portal"));
    for path in [
        "/generate_204",
        "/hotspot-detect.html",
        "/a/b?c=d",
        "/ncsi.txt",
        "/%2e%2e/",
    ] {
        let r = c.get(path);
        assert_eq!((r.status, r.header("location")), (302, Some("/")), "{path}");
        assert!(!r.closes(), "{path}: the connection stays open");
    }
    let r = c.request("POST", "/login", b"user=x");
    assert_eq!((r.status, r.header("location")), (302, Some("/")));
    assert_eq!(c.get("/").status, 200);
    assert_eq!(server.interrupt().code(), Some(0));
}
