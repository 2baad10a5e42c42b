//! Helpers for the C tests: build the static library, compile C programs with the README's gcc
//! line, run them, read their logs, and stop them. Every wait is bounded; a program still
//! running when a test ends is killed.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The longest any one step (startup, a log line, an exit) may take. A bound, not a sleep.
pub const WAIT: Duration = Duration::from_secs(30);

/// The crate's directory.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds `libesp_http_server.a` with this test's profile (a no-op when it is up to date) and
/// returns its path. `cargo test` alone does not promise the static library is fresh.
pub fn static_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let lib =
            crate::util::cargo_build(&["-p", "httpd-capi", "--lib"]).join("libesp_http_server.a");
        assert!(lib.exists(), "{} missing", lib.display());
        lib
    })
}

/// Runs gcc with the README's flags (`-std=gnu11 -Wall -Werror -I include`) and `args`;
/// panics with gcc's output when it fails.
pub fn gcc<I, S>(args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new("gcc")
        .args(["-std=gnu11", "-Wall", "-Werror"])
        .arg(format!("-I{}", crate_dir().join("include").display()))
        .args(args)
        .output()
        .expect("running gcc");
    assert!(
        output.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fresh directory for this test process's binaries.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("httpd-capi-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
}

/// Compiles `src` (relative to the crate) with the README's gcc line into the scratch
/// directory, once per test process; panics with gcc's output when it fails.
pub fn compile(src: &str) -> PathBuf {
    compile_with(src, &[])
}

/// [`compile`] with extra gcc flags (e.g. `-DCONFIG_...=1`).
pub fn compile_with(src: &str, flags: &[&str]) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let key = format!("{src} {flags:?}");
    if let Some((_, exe)) = built.iter().find(|(s, _)| *s == key) {
        return exe.clone();
    }
    let exe = compile_now(src, flags, built.len());
    built.push((key, exe.clone()));
    exe
}

fn compile_now(src: &str, flags: &[&str], n: usize) -> PathBuf {
    let src = crate_dir().join(src);
    let name = src.file_stem().unwrap().to_string_lossy().into_owned();
    let out = scratch().join(format!("{name}-{n}"));
    let mut args: Vec<std::ffi::OsString> = vec!["-g".into()];
    args.extend(flags.iter().map(Into::into));
    args.push(src.into_os_string());
    args.push(static_lib().into());
    args.extend(["-lpthread", "-ldl", "-lm", "-o"].map(Into::into));
    args.push(out.clone().into_os_string());
    gcc(args);
    out
}

/// A running C program: its stderr lines arrive on a channel; the first stdout line with
/// `PORTS` gives its servers' ports.
pub struct Prog {
    child: Option<Child>,
    logs: Receiver<String>,
    seen: Vec<String>,
    pub ports: Vec<u16>,
}

impl Prog {
    /// Starts `cmd` (stdin, stdout and stderr piped) and waits for its `PORTS` line.
    pub fn spawn(cmd: Command) -> Prog {
        let mut prog = Prog::spawn_raw(cmd);
        let line = prog.wait_for_log("stdout: PORTS");
        prog.ports = line
            .split_whitespace()
            .skip(2)
            .map(|p| p.parse().expect("a port"))
            .collect();
        prog
    }

    /// Compiles and starts an example (`examples/NAME.c`) on a free port, waiting for its
    /// "Server listening on port N" log line.
    pub fn example(name: &str) -> Prog {
        let exe = compile(&format!("examples/{name}.c"));
        let mut cmd = Command::new(exe);
        cmd.arg("0");
        Prog::spawn_example(cmd)
    }

    /// Starts an example command and waits for its "Server listening on port N" line.
    pub fn spawn_example(cmd: Command) -> Prog {
        let mut prog = Prog::spawn_raw(cmd);
        let line = prog.wait_for_log("Server listening on port ");
        let port = line
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        prog.ports = vec![port];
        prog
    }

    fn spawn_raw(mut cmd: Command) -> Prog {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning the C program");
        let (tx, logs) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx2.send(line).is_err() {
                    break;
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(format!("stdout: {line}")).is_err() {
                    break;
                }
            }
        });
        Prog {
            child: Some(child),
            logs,
            seen: Vec::new(),
            ports: Vec::new(),
        }
    }

    /// Compiles and starts `src` with `args`.
    pub fn start(src: &str, args: &[&str]) -> Prog {
        let exe = compile(src);
        let mut cmd = Command::new(exe);
        cmd.args(args);
        Prog::spawn(cmd)
    }

    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    pub fn addr(&self, i: usize) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.ports[i]).into()
    }

    /// Waits (bounded) for a log line containing `needle`, returning it. Earlier lines are
    /// kept for [`logs`](Prog::logs).
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no log line with {needle:?}; seen:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "program exited before {needle:?}; seen:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Every line received so far (without waiting).
    pub fn logs(&mut self) -> Vec<String> {
        while let Ok(line) = self.logs.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Closes the program's stdin (the test programs stop their servers and exit on EOF) and
    /// waits, bounded, for it to exit.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().unwrap();
        drop(child.stdin.take());
        let status = wait_bounded(&mut child, 3 * WAIT);
        // The reader threads end at EOF: collect what is left.
        while let Ok(line) = self.logs.recv_timeout(WAIT) {
            self.seen.push(line);
        }
        (status, self.seen.clone())
    }

    /// Sends SIGINT (the examples stop on it) and waits, bounded, for the exit.
    pub fn interrupt(mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().unwrap();
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: sending a signal to our own child process, which has not been reaped.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let status = wait_bounded(&mut child, 3 * WAIT);
        while let Ok(line) = self.logs.recv_timeout(WAIT) {
            self.seen.push(line);
        }
        (status, self.seen.clone())
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the C program did not exit within {limit:?}");
        }
        // Polling a child's exit: there is no bounded wait on a process in std.
        thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Prog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
