//! Readings: CPU time and resident memory from /proc, idle keep-alive connections opened
//! from this process, stripped binary sizes, and the machine setup (tools, affinity,
//! descriptor limit).

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

/// The core the server under test is pinned to.
pub(crate) const SERVER_CORE: usize = 0;

/// The request the harness sends when it opens a connection itself.
const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
/// The body every server answers with.
const BODY: &[u8] = b"Hello, World!";

/// Clock ticks per second, the unit of the CPU times in /proc.
pub(crate) fn clock_ticks_per_sec() -> u64 {
    use nix::unistd::{sysconf, SysconfVar};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n.unsigned_abs(),
        _ => 100,
    }
}

/// User plus system CPU time of process `pid` (all its threads, ended ones included), in
/// clock ticks: fields 14 and 15 of `/proc/<pid>/stat`.
pub(crate) fn cpu_ticks(pid: u32) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: {stat}")))
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first after ')'
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Nanoseconds the threads of process `pid` have spent runnable but waiting for a CPU, summed
/// over its live threads (the second field of `/proc/<pid>/task/*/schedstat`).
pub(crate) fn run_delay_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(stat) = fs::read_to_string(task?.path().join("schedstat")) else {
            continue; // the thread ended meanwhile
        };
        total += stat
            .split_whitespace()
            .nth(1)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// Resident memory of process `pid` in bytes (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_bytes(pid: u32) -> io::Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// Peak resident memory of process `pid` so far in bytes (`VmHWM`).
pub(crate) fn peak_rss_bytes(pid: u32) -> io::Result<u64> {
    status_bytes(pid, "VmHWM:")
}

fn status_bytes(pid: u32, key: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_kib(&status, key).ok_or_else(|| io::Error::other(format!("/proc/{pid}/status: no {key}")))
}

#[cfg(test)]
fn parse_rss(status: &str) -> Option<u64> {
    parse_kib(status, "VmRSS:")
}

fn parse_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Clock ticks of one core so far, from /proc/stat.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CoreTicks {
    /// Running anything (user, nice, system, irq, softirq).
    pub(crate) busy: u64,
    /// Taken by the hypervisor for other guests.
    pub(crate) steal: u64,
    /// Everything, idle included.
    pub(crate) total: u64,
}

/// Clock ticks of `core` so far, from /proc/stat.
pub(crate) fn core_ticks(core: usize) -> io::Result<CoreTicks> {
    let stat = fs::read_to_string("/proc/stat")?;
    let name = format!("cpu{core}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .ok_or_else(|| io::Error::other(format!("/proc/stat has no {name}")))?;
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    if v.len() < 8 {
        return Err(io::Error::other(format!("/proc/stat: {line}")));
    }
    let total: u64 = v.iter().sum();
    Ok(CoreTicks {
        busy: total - v[3] - v[4] - v[7],
        steal: v[7],
        total,
    })
}

/// A command that runs `program` pinned to `core` at the highest priority (`nice -n -20
/// taskset -c core program`; both exec, so the child's pid is the program's). The priority
/// keeps other work on a shared machine (compilers) off the measured cores; without the
/// right to raise it, `nice` says so and runs the program anyway.
pub(crate) fn pinned(core: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "-20", "taskset", "-c"])
        .arg(core.to_string())
        .arg(program);
    cmd
}

/// A bench server binary from `bins`, pinned to the server core, listening on `port`.
pub(crate) fn server_command(bins: &Path, bin: &str, port: u16) -> Command {
    let mut cmd = pinned(SERVER_CORE, bins.join(bin));
    cmd.arg("--port").arg(port.to_string());
    cmd
}

/// `cmd` (program and arguments) pinned to the server core.
pub(crate) fn pinned_server(cmd: &Command) -> Command {
    let mut pinned = pinned(SERVER_CORE, cmd.get_program());
    pinned.args(cmd.get_args());
    pinned
}

/// The nice value of this session's scheduling group, restored when dropped.
#[derive(Debug)]
pub(crate) struct SessionPriority {
    previous: i32,
}

impl Drop for SessionPriority {
    fn drop(&mut self) {
        // The group outlives this process (it is the caller's shell session's): give the
        // session its old priority back.
        let _ = fs::write("/proc/self/autogroup", self.previous.to_string());
    }
}

/// Raises this process's scheduling group to the highest priority until the guard is
/// dropped. With autogroups on (`kernel.sched_autogroup_enabled`), `nice` only ranks
/// processes within one session and each session gets an equal share of a core: a compiler
/// started from another shell would take half of the server's core. The group's own nice
/// value (`/proc/self/autogroup`, root only) ranks sessions. `None` without autogroups.
pub(crate) fn prioritise_session() -> io::Result<Option<SessionPriority>> {
    let enabled = fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|s| s.trim() == "1");
    if !enabled {
        return Ok(None);
    }
    // "/autogroup-10 nice 0"
    let current = fs::read_to_string("/proc/self/autogroup")?;
    let previous = current
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| io::Error::other(format!("/proc/self/autogroup: {current:?}")))?;
    fs::write("/proc/self/autogroup", "-20")?;
    Ok(Some(SessionPriority { previous }))
}

/// A free port on 127.0.0.1 (free when asked; the server binds it right after).
pub(crate) fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Sends one request on `stream` and reads until the answer's body has arrived.
fn request(stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(REQUEST)?;
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while !got.ends_with(BODY) {
        let n = stream.read(&mut buf)?;
        if n == 0 || got.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("bad answer: {:?}", String::from_utf8_lossy(&got)),
            ));
        }
        got.extend_from_slice(&buf[..n]);
    }
    if !got.starts_with(b"HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "not a 200: {:?}",
            String::from_utf8_lossy(&got)
        )));
    }
    Ok(())
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}

/// Waits until 127.0.0.1:`port` accepts connections (up to `attempts` tries 20 ms apart,
/// giving up early when `exited` says the server is gone), then checks one request.
pub(crate) fn wait_ready(
    port: u16,
    attempts: u32,
    mut exited: impl FnMut() -> bool,
) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    for _ in 0..attempts {
        if exited() {
            return Err(io::Error::other("server exited"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return request(&mut connect(port)?);
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("nothing accepts on port {port}"),
    ))
}

/// Opens `n` keep-alive connections to 127.0.0.1:`port`, each having had one request
/// answered, so the server has really set each of them up.
pub(crate) fn open_idle(port: u16, n: usize) -> io::Result<Vec<TcpStream>> {
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream =
            connect(port).map_err(|e| io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
        request(&mut stream)
            .map_err(|e| io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
        conns.push(stream);
    }
    Ok(conns)
}

/// Size in bytes of a stripped copy of `binary` (the copy is made in `work_dir`).
pub(crate) fn stripped_size(binary: &Path, work_dir: &Path) -> io::Result<u64> {
    let name = binary.file_name().unwrap_or_default();
    let copy = work_dir.join(name).with_extension("stripped");
    fs::copy(binary, &copy)?;
    let status = Command::new("strip")
        .arg(&copy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "strip {}: {status}",
            binary.display()
        )));
    }
    let size = fs::metadata(&copy)?.len();
    fs::remove_file(&copy)?;
    Ok(size)
}

/// `tool` on the PATH (or in /usr/sbin), installing Debian's `package` with apt-get when it
/// is missing.
pub(crate) fn find_or_install(tool: &str, package: &str) -> io::Result<PathBuf> {
    let find = || {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    eprintln!("{tool} is missing: apt-get install -y {package}");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", package])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        // The package lists may be missing or stale on a fresh machine.
        let _ = Command::new("apt-get")
            .args(["update", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        install();
    }
    find().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{tool} not found and `apt-get install -y {package}` did not provide it"),
        )
    })
}

/// Raises this process's soft RLIMIT_NOFILE (inherited by the servers and wrk) to at least
/// `want`, as far as the hard limit allows (`ulimit -n`). Returns the soft limit in force.
pub(crate) fn raise_nofile(want: u64) -> io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft >= want {
        return Ok(soft);
    }
    let new = want.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, new, hard).map_err(io::Error::from)?;
    Ok(new)
}

/// Pins this process (and so what it starts, unless told otherwise) to `core`.
pub(crate) fn pin_self(core: usize) -> io::Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let mut set = CpuSet::new();
    set.set(core).map_err(io::Error::from)?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(io::Error::from)
}

/// Average load over the last minute, from /proc/loadavg.
pub(crate) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_past_odd_command_names() {
        let stat = "1234 (bench (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 \
                    3 0 1000 2000000 300 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("1234 (x) S 1"), None);
    }

    #[test]
    fn reads_rss() {
        let status = "Name:\tbench\nVmPeak:\t  10000 kB\nVmRSS:\t    2048 kB\nThreads:\t2\n";
        assert_eq!(parse_rss(status), Some(2048 * 1024));
        assert_eq!(parse_rss("Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        cpu_ticks(pid).unwrap();
        let t = core_ticks(0).unwrap();
        assert!(t.busy + t.steal <= t.total);
        run_delay_ns(pid).unwrap();
    }
}
