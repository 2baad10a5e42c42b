//! The smallest end-to-end check: one handler, one keep-alive connection, two requests.
mod util;

use httpd::{Config, Handler, Method};
use util::{start, Client};

#[test]
fn hello_twice_on_one_connection() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    for _ in 0..2 {
        let r = c.get("/hello");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello World!");
        assert_eq!(r.header("content-type"), Some("text/html"));
        assert!(r.header("date").is_some());
        assert!(!r.closes());
    }
    server.stop();
    assert!(c.is_closed());
}
