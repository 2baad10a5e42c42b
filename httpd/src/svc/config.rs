//! esp-idf-svc's server `Configuration`, its defaults, and how it maps onto an httpd [`Config`].

use std::time::Duration;

use crate::config::{Config, ConfigBuilder, TcpKeepalive};
use crate::types::UriMatch;
use crate::Error;

/// The smallest server thread stack the facade asks for. A chip's `stack_size` (6 KiB by
/// default, 10 KiB in esp-idf-svc's JSON example) is sized for 32-bit code built for size; the
/// same handlers built for a 64-bit host, in debug mode, need several times that, and a stack
/// overflow aborts the process. Only the pages a thread touches use memory, so a larger
/// reservation costs nothing.
pub const HOST_STACK_MIN: usize = 256 * 1024;

/// ESP-IDF's request-line limit (`CONFIG_HTTPD_MAX_URI_LEN`), set explicitly.
const ESP_IDF_MAX_URI_LEN: usize = 512;
/// ESP-IDF's header-section limit (`CONFIG_HTTPD_MAX_REQ_HDR_LEN`), set explicitly.
const ESP_IDF_MAX_REQ_HDR_LEN: usize = 1024;
/// esp-idf-svc's fixed `backlog_conn`, `recv_wait_timeout` and `send_wait_timeout`.
const ESP_IDF_BACKLOG: u32 = 5;
const ESP_IDF_IO_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP keep-alive settings (esp-idf-svc's `KeepAlive`): idle time, probe interval and probe
/// count; `Default` is 5 s, 5 s, 3.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash)]
pub struct KeepAlive {
    /// Seconds a connection is idle before the first probe.
    pub idle_secs: u32,
    /// Seconds between probes.
    pub interval_secs: u32,
    /// Unanswered probes before the connection is dropped.
    pub probe_count: u32,
}

impl KeepAlive {
    /// 5 s idle, 5 s between probes, 3 probes.
    pub const fn new() -> Self {
        KeepAlive {
            idle_secs: 5,
            interval_secs: 5,
            probe_count: 3,
        }
    }
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::new()
    }
}

/// A CPU core of the chip, for [`Configuration::core`]. Accepted and ignored on a host (the
/// operating system schedules the server thread).
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash)]
pub enum Core {
    /// The first core (PRO_CPU).
    Core0,
    /// The second core (APP_CPU).
    Core1,
}

/// The server configuration, with esp-idf-svc's field names and `Default` values.
///
/// Fields that mean nothing on a host are accepted and ignored: `ctrl_port` (httpd's control
/// queue is a channel, not a UDP socket), `https_port` (no TLS in this facade yet), `core`,
/// `task_caps`, `max_sessions` and `session_timeout` (esp-idf-svc keeps them for its own
/// session helpers). A `stack_size` below [`HOST_STACK_MIN`] is raised to it, never refused.
///
/// ```
/// use httpd::svc::Configuration;
/// let conf = Configuration { http_port: 8080, stack_size: 10240, ..Default::default() };
/// assert_eq!((conf.max_open_sockets, conf.max_uri_handlers), (4, 32));
/// ```
#[derive(Copy, Clone, Debug)]
pub struct Configuration {
    /// TCP port of the server; 0 picks a free one (see `EspHttpServer::local_addr`). Default 80.
    pub http_port: u16,
    /// ESP-IDF's control UDP port. Ignored. Default 32768.
    pub ctrl_port: u16,
    /// Port of the HTTPS server. Ignored (no TLS in this facade). Default 443.
    pub https_port: u16,
    /// Core the server task is pinned to. Ignored. Default `None`.
    pub core: Option<Core>,
    /// Used by esp-idf-svc's session helpers only. Ignored. Default 16.
    pub max_sessions: usize,
    /// Used by esp-idf-svc's session helpers only. Ignored. Default 20 minutes.
    pub session_timeout: Duration,
    /// Heap capabilities of the server task's memory. Ignored. Default
    /// `MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT`.
    pub task_caps: u32,
    /// Stack of the server thread, on which handlers run; raised to at least
    /// [`HOST_STACK_MIN`]. Default 6144.
    pub stack_size: usize,
    /// Maximum open client connections. Default 4.
    pub max_open_sockets: usize,
    /// Maximum registered handlers (a WebSocket handler counts as one). Default 32.
    pub max_uri_handlers: usize,
    /// Maximum headers a handler may add to one response. Default 8.
    pub max_resp_headers: usize,
    /// Close the least recently used connection when a new one arrives at a full table.
    /// Default `true`.
    pub lru_purge_enable: bool,
    /// Match registered URIs with ESP-IDF's wildcard rules (trailing `*` and `?`) instead of
    /// exactly. Default `false`.
    pub uri_match_wildcard: bool,
    /// TCP keep-alive on accepted connections. Default `None`.
    pub keep_alive: Option<KeepAlive>,
    /// `SO_LINGER` on accepted connections. Default `None`.
    pub so_linger: Option<Duration>,
}

/// `MALLOC_CAP_INTERNAL | MALLOC_CAP_8BIT` (bits 11 and 2), esp-idf-svc's default `task_caps`.
const DEFAULT_TASK_CAPS: u32 = (1 << 11) | (1 << 2);

impl Default for Configuration {
    fn default() -> Self {
        Configuration {
            http_port: 80,
            ctrl_port: 32768,
            https_port: 443,
            core: None,
            max_sessions: 16,
            session_timeout: Duration::from_secs(20 * 60),
            task_caps: DEFAULT_TASK_CAPS,
            stack_size: 6144,
            max_open_sockets: 4,
            max_uri_handlers: 32,
            max_resp_headers: 8,
            lru_purge_enable: true,
            uri_match_wildcard: false,
            keep_alive: None,
            so_linger: None,
        }
    }
}

impl Configuration {
    /// The httpd configuration this one maps to, as a builder to adjust before starting a
    /// server with `EspHttpServer::with_config` (e.g. to bind to loopback only): ESP-IDF's
    /// preset ([`ConfigBuilder::esp_idf`]) with this configuration's values, and the values
    /// esp-idf-svc fixes set explicitly (backlog 5, receive and send timeouts 5 s, URI limit
    /// 512 bytes, header section 1024 bytes); the ignored fields leave no trace.
    pub fn to_httpd(&self) -> ConfigBuilder {
        let keepalive = self.keep_alive.map(|ka| TcpKeepalive {
            idle: Duration::from_secs(ka.idle_secs.into()),
            interval: Duration::from_secs(ka.interval_secs.into()),
            count: ka.probe_count,
        });
        let uri_match = if self.uri_match_wildcard {
            UriMatch::Wildcard
        } else {
            UriMatch::Exact
        };
        ConfigBuilder::esp_idf()
            .port(self.http_port)
            .stack_size(self.stack_size.max(HOST_STACK_MIN))
            .max_open_sockets(self.max_open_sockets)
            .max_uri_handlers(self.max_uri_handlers)
            .max_resp_headers(self.max_resp_headers)
            .backlog_conn(ESP_IDF_BACKLOG)
            .lru_purge_enable(self.lru_purge_enable)
            .recv_wait_timeout(ESP_IDF_IO_TIMEOUT)
            .send_wait_timeout(ESP_IDF_IO_TIMEOUT)
            .max_uri_len(ESP_IDF_MAX_URI_LEN)
            .max_req_hdr_len(ESP_IDF_MAX_REQ_HDR_LEN)
            .keepalive(keepalive)
            .linger(self.so_linger)
            .uri_match(uri_match)
    }

    /// [`to_httpd`](Configuration::to_httpd), validated.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a value httpd refuses (e.g. `max_open_sockets: 0`).
    pub fn to_httpd_config(&self) -> Result<Config, Error> {
        self.to_httpd().build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_esp_idf_svc_s_and_map_onto_httpd() {
        let conf = Configuration::default();
        assert_eq!(conf.http_port, 80);
        assert_eq!(conf.stack_size, 6144);
        assert!(conf.lru_purge_enable && !conf.uri_match_wildcard);
        let config = conf.to_httpd_config().unwrap();
        assert_eq!(config.max_open_sockets(), 4);
        assert_eq!(config.max_uri_handlers(), 32);
        assert_eq!(config.recv_wait_timeout(), Duration::from_secs(5));
        assert_eq!(config.stack_size, HOST_STACK_MIN);
        assert_eq!(config.max_uri_len, 512);
        assert!(config.lru_purge_enable);
        assert!(matches!(config.uri_match, UriMatch::Exact));
    }

    #[test]
    fn ignored_fields_are_accepted_and_large_stacks_kept() {
        let conf = Configuration {
            ctrl_port: 1,
            https_port: 2,
            core: Some(Core::Core1),
            task_caps: 0,
            max_sessions: 0,
            session_timeout: Duration::ZERO,
            stack_size: 1 << 20,
            uri_match_wildcard: true,
            keep_alive: Some(KeepAlive::default()),
            ..Default::default()
        };
        let config = conf.to_httpd_config().unwrap();
        assert_eq!(config.stack_size, 1 << 20);
        assert!(matches!(config.uri_match, UriMatch::Wildcard));
        assert_eq!(config.keepalive.map(|k| k.count), Some(3));
    }
}
