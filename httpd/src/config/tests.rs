//! The defaults and the validation table.

use super::*;

#[test]
fn defaults_are_host_sized_and_valid() {
    let c = Config::builder().build().unwrap();
    assert_eq!(c.max_open_sockets, 4096);
    assert!(!c.max_open_sockets_set);
    assert!(c.max_req_hdr_len >= 8192 && c.max_uri_len >= 8192);
    assert!(c.max_uri_handlers >= 24 && c.max_resp_headers >= 24);
    assert!(c.backlog_conn >= 512);
}

#[test]
fn esp_idf_preset_is_httpd_default_config() {
    let c = ConfigBuilder::esp_idf().build().unwrap();
    assert_eq!(
        (
            c.max_open_sockets(),
            c.max_uri_handlers(),
            c.max_resp_headers(),
            c.backlog_conn(),
            c.max_req_hdr_len(),
            c.max_uri_len(),
            c.lru_purge_enable(),
        ),
        (7, 8, 8, 5, 1024, 512, false)
    );
    assert_eq!(c.port, 80);
    assert_eq!(c.max_open_sockets, 7);
    assert_eq!(c.max_uri_handlers, 8);
    assert_eq!(c.max_resp_headers, 8);
    assert_eq!(c.backlog_conn, 5);
    assert!(!c.lru_purge_enable);
    assert_eq!(c.recv_wait_timeout, Duration::from_secs(5));
    assert_eq!(c.send_wait_timeout, Duration::from_secs(5));
    assert_eq!(c.max_req_hdr_len, 1024);
    assert_eq!(c.max_uri_len, 512);
    assert_eq!(c.keepalive, None);
    assert_eq!(c.linger, None);
    assert_eq!(TcpKeepalive::default().count, 3);
}

#[test]
fn invalid_values_are_refused() {
    let cases: Vec<(ConfigBuilder, &str)> = vec![
        (Config::builder().stack_size(1024), "stack_size"),
        (Config::builder().max_open_sockets(0), "max_open_sockets"),
        (Config::builder().max_uri_handlers(0), "max_uri_handlers"),
        (Config::builder().max_req_headers(0), "max_req_headers"),
        (Config::builder().max_req_headers(1000), "max_req_headers"),
        (Config::builder().backlog_conn(0), "backlog_conn"),
        (
            Config::builder().recv_wait_timeout(Duration::ZERO),
            "recv_wait_timeout",
        ),
        (
            Config::builder().send_wait_timeout(Duration::ZERO),
            "send_wait_timeout",
        ),
        (
            Config::builder().idle_timeout(Some(Duration::ZERO)),
            "idle_timeout",
        ),
        (Config::builder().max_uri_len(0), "max_uri_len"),
        (Config::builder().max_req_hdr_len(1), "max_req_hdr_len"),
        (Config::builder().thread_name(""), "thread_name"),
        (Config::builder().ctrl_queue_len(0), "ctrl_queue_len"),
        (
            Config::builder().keepalive(Some(TcpKeepalive {
                count: 0,
                ..TcpKeepalive::default()
            })),
            "keepalive",
        ),
    ];
    for (builder, setting) in cases {
        match builder.build() {
            Err(Error::InvalidConfig(why)) => assert!(why.contains(setting), "{why}"),
            other => panic!("{setting}: expected InvalidConfig, got {other:?}"),
        }
    }
}
