//! Child processes that are killed when their guard is dropped, on success, error or panic.

use std::io;
use std::process::{Child, Command, ExitStatus, Output};

/// A started process (a server or a wrk run), killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    /// INVARIANT: `Some` until [`ChildGuard::wait_output`] takes it.
    child: Option<Child>,
}

impl ChildGuard {
    /// Starts `cmd`.
    pub(crate) fn spawn(cmd: &mut Command) -> io::Result<ChildGuard> {
        Ok(ChildGuard {
            child: Some(cmd.spawn()?),
        })
    }

    /// Starts a bench server with `cmd` (its output discarded) and waits until it answers on
    /// 127.0.0.1:`port`.
    pub(crate) fn spawn_server(cmd: &mut Command, port: u16) -> io::Result<ChildGuard> {
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut server = ChildGuard::spawn(cmd)?;
        crate::measure::wait_ready(port, 250, || {
            server.try_wait().map_or(true, |status| status.is_some())
        })?;
        Ok(server)
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The exit status if the process has ended.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => child.try_wait(),
            None => Ok(None),
        }
    }

    /// Waits for the process to end by itself and returns what it printed (stdout and
    /// stderr must have been piped).
    pub(crate) fn wait_output(mut self) -> io::Result<Output> {
        match self.child.take() {
            Some(child) => child.wait_with_output(),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // Killing an already ended process fails harmlessly; reap it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
