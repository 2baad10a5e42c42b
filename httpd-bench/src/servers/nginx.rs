//! nginx as a peer: one process (`master_process off`), one worker loop, the same answer.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The nginx binary, if installed.
pub(crate) fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// The configuration: a single process serving `GET /plaintext` on 127.0.0.1:`port`, with
/// every path it writes inside `dir`, no access log, and keep-alive connections that are
/// neither closed after N requests nor timed out during a run.
/// With `files`, that directory is served under `/files/` with `sendfile on` (nginx's default
/// is off) and nginx's default `ETag` and ranges.
pub(crate) fn config_with_files(dir: &Path, port: u16, files: Option<&Path>) -> String {
    let d = dir.display();
    let files = files.map_or(String::new(), |f| {
        format!(
            "        location /files/ {{\n            alias {}/;\n            sendfile on;\n        }}\n",
            f.display()
        )
    });
    format!(
        "daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 900s;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location = /plaintext {{
            default_type text/plain;
            return 200 \"Hello, World!\";
        }}
        location = /upload {{
            client_max_body_size 0;
            default_type text/plain;
            return 200 \"ok\";
        }}
{files}    }}
}}
"
    )
}

/// Writes the configuration into `dir` (created if needed) and returns the command that
/// runs nginx in the foreground with it.
///
/// # Errors
/// nginx is not installed, or `dir` cannot be written.
pub(crate) fn command(dir: &Path, port: u16) -> io::Result<Command> {
    command_with_files(dir, port, None)
}

/// [`command`] with [`config_with_files`].
///
/// # Errors
/// As [`command`].
pub(crate) fn command_with_files(
    dir: &Path,
    port: u16,
    files: Option<&Path>,
) -> io::Result<Command> {
    let nginx = binary().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no nginx"))?;
    fs::create_dir_all(dir)?;
    let conf = dir.join("nginx.conf");
    fs::write(&conf, config_with_files(dir, port, files))?;
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("error.log"));
    Ok(cmd)
}

/// The configuration for TLS: the same server, listening with TLS 1.2 and 1.3 and the given
/// certificate and key (nginx's defaults otherwise: tickets on, no session cache).
pub(crate) fn tls_config(dir: &Path, port: u16, cert: &Path, key: &Path) -> String {
    config_with_files(dir, port, None).replace(
        &format!("listen 127.0.0.1:{port} backlog=1024;"),
        &format!(
            "listen 127.0.0.1:{port} ssl backlog=1024;\n        \
             ssl_certificate {};\n        ssl_certificate_key {};\n        \
             ssl_protocols TLSv1.2 TLSv1.3;",
            cert.display(),
            key.display()
        ),
    )
}

/// [`command`] with [`tls_config`].
///
/// # Errors
/// nginx is not installed, or `dir` cannot be written.
pub(crate) fn tls_command(dir: &Path, port: u16, cert: &Path, key: &Path) -> io::Result<Command> {
    let mut cmd = command(dir, port)?;
    fs::write(dir.join("nginx.conf"), tls_config(dir, port, cert, key))?;
    cmd.current_dir(dir);
    Ok(cmd)
}
