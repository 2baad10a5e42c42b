//! The servers under test. Each Rust one is a module here, run in-process by
//! `httpd-bench serve <name>` and built as a binary of its own (`src/bin/bench-*.rs`) that
//! the harness starts; nginx is the system's binary with a generated configuration.

mod ceiling;
mod httpd;
mod hyper;
mod may;
pub(crate) mod nginx;
pub(crate) mod port;
mod tiny;

use std::io;

/// One server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Httpd,
    Ceiling,
    Hyper,
    MayMinihttp,
    Nginx,
    TinyHttp,
}

impl Kind {
    /// Every server, in the order of the report's columns.
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Httpd,
        Kind::Ceiling,
        Kind::Hyper,
        Kind::MayMinihttp,
        Kind::Nginx,
        Kind::TinyHttp,
    ];

    /// The name used on the command line and in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Httpd => "httpd",
            Kind::Ceiling => "ceiling",
            Kind::Hyper => "hyper",
            Kind::MayMinihttp => "may_minihttp",
            Kind::Nginx => "nginx",
            Kind::TinyHttp => "tiny_http",
        }
    }

    /// The server named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The bench binary built from this crate, `None` for nginx.
    pub(crate) fn binary(self) -> Option<&'static str> {
        match self {
            Kind::Httpd => Some("bench-httpd"),
            Kind::Ceiling => Some("bench-ceiling"),
            Kind::Hyper => Some("bench-hyper"),
            Kind::MayMinihttp => Some("bench-may-minihttp"),
            Kind::Nginx => None,
            Kind::TinyHttp => Some("bench-tiny-http"),
        }
    }

    /// Serves on 127.0.0.1:`port` in this process until killed (nginx: runs it in the
    /// foreground with a generated configuration).
    pub(crate) fn serve(self, port: u16) -> io::Result<()> {
        match self {
            Kind::Httpd => httpd::run(port),
            Kind::Ceiling => ceiling::run(port),
            Kind::Hyper => hyper::run(port),
            Kind::MayMinihttp => may::run(port),
            Kind::TinyHttp => tiny::run(port),
            Kind::Nginx => {
                let dir = std::env::temp_dir().join(format!("httpd-bench-nginx-{port}"));
                let status = nginx::command(&dir, port)?.status()?;
                if status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!("nginx: {status}")))
                }
            }
        }
    }
}
