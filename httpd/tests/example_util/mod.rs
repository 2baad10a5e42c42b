//! The harness for tests of the example programs: build and run an example binary on a free
//! port, read its log (stderr) over a channel, stop it with SIGINT; every wait bounded.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The longest any one step (startup, a log line, an exit) may take.
/// Generous: Chromium starting on a loaded 2-core CI machine takes seconds. A bound, not a sleep.
pub const WAIT: Duration = Duration::from_secs(30);

/// The directory holding the example binaries of the profile this test was built with, after
/// making sure they are built: `cargo test` builds examples, but `cargo test --test examples`
/// does not, and an example edited since the last build would be stale.
pub fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| crate::util::cargo_build(&["-p", "httpd", "--examples"]).join("examples"))
}

pub fn example(name: &str) -> Command {
    let path = examples_dir().join(name);
    assert!(path.exists(), "no example binary at {}", path.display());
    Command::new(path)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local_addr").port()
}

/// Waits for `child` to exit, at most `timeout`; kills it (SIGKILL) if it does not.
/// `None` on timeout.
pub fn wait_bounded(child: Child, timeout: Duration) -> Option<Output> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => Some(output.expect("waiting for a child process")),
        Err(_) => {
            // Not reaped yet (the waiting thread has not returned), so the pid is still ours.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let _ = rx.recv_timeout(WAIT);
            None
        }
    }
}

/// An example server running in a child process, its stderr (the log) read by a thread.
pub struct Server {
    pub name: &'static str,
    pub port: u16,
    /// `None` once it has been waited for.
    child: Option<Child>,
    lines: Receiver<String>,
    /// Every log line read so far.
    pub log: Vec<String>,
}

impl Server {
    /// Starts example `name` on a free port and waits until it says it is ready.
    pub fn start(name: &'static str) -> Server {
        Server::start_with(name, &[])
    }

    /// [`Server::start`] with extra command-line arguments.
    pub fn start_with(name: &'static str, args: &[&str]) -> Server {
        Server::start_program(name, &examples_dir().join(name), args)
    }

    /// [`Server::start_with`] for an example binary built elsewhere (e.g. with features).
    pub fn start_program(name: &'static str, program: &Path, args: &[&str]) -> Server {
        assert!(
            program.exists(),
            "no example binary at {}",
            program.display()
        );
        // Another process may take the port between `free_port` and the bind: try again.
        let mut last_log = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(program)
                .args(["--port", &port.to_string()])
                .args(args)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
            let stderr = child.stderr.take().expect("piped stderr");
            let (tx, lines) = mpsc::channel();
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut server = Server {
                name,
                port,
                child: Some(child),
                lines,
                log: Vec::new(),
            };
            if server.try_wait_for_log("Server ready") {
                return server;
            }
            last_log = std::mem::take(&mut server.log);
        }
        panic!("{name} did not start; its log:\n{}", last_log.join("\n"));
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Reads log lines until one contains `needle` (true), the log ends, or `WAIT` passes.
    pub fn try_wait_for_log(&mut self, needle: &str) -> bool {
        self.try_wait_for_log_within(needle, WAIT)
    }

    /// [`try_wait_for_log`](Server::try_wait_for_log) giving up after `wait`.
    pub fn try_wait_for_log_within(&mut self, needle: &str, wait: Duration) -> bool {
        if self.log.iter().any(|l| l.contains(needle)) {
            return true;
        }
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.log.push(line);
                    if found {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    pub fn wait_for_log(&mut self, needle: &str) {
        assert!(
            self.try_wait_for_log(needle),
            "{} never logged {needle:?}; its log:\n{}",
            self.name,
            self.log.join("\n")
        );
    }

    /// The loopback address at the end of the first log line containing `needle` (waiting for
    /// it, bounded): `... needle 127.0.0.1:PORT`.
    pub fn addr_logged_after(&mut self, needle: &str) -> SocketAddr {
        self.wait_for_log(needle);
        let line = self
            .log
            .iter()
            .find(|l| l.contains(needle))
            .expect("just seen");
        let port = line
            .split(needle)
            .nth(1)
            .and_then(|tail| tail.split_whitespace().next())
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|p| {
                p.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The messages this example logged itself (its own target, without timestamp and level).
    pub fn own_messages(&self) -> Vec<&str> {
        let target = format!(" {}] ", self.name);
        self.log
            .iter()
            .filter_map(|l| l.split_once(&target).map(|(_, msg)| msg))
            .collect()
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for the process to exit.
    pub fn interrupt(mut self) -> ExitStatus {
        let child = self.child.take().expect("still running");
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -INT failed: {status}");
        let Some(output) = wait_bounded(child, WAIT) else {
            panic!(
                "{} did not exit within {WAIT:?} of SIGINT; its log:\n{}",
                self.name,
                self.log.join("\n")
            );
        };
        // The rest of the log, up to the end of stderr.
        while let Ok(line) = self.lines.recv_timeout(WAIT) {
            self.log.push(line);
        }
        assert!(
            self.log.iter().any(|l| l.contains("Shutting down")),
            "no stop logged:\n{}",
            self.log.join("\n")
        );
        output.status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Kills a helper process (a browser) when the test ends, however it ends.
pub struct KillOnDrop(pub Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Flags for a headless Chromium that stays off the network and keeps to itself.
pub const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The installed Chromium's command, or `None` (with a note) when there is none, which is
/// allowed unless `HTTPD_REQUIRE_BROWSER` is set (CI installs Chromium and sets it).
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("HTTPD_REQUIRE_BROWSER").is_none(),
            "HTTPD_REQUIRE_BROWSER is set but no Chromium is installed"
        );
        eprintln!("note: Chromium not installed; skipping the browser test");
    }
    found
}
