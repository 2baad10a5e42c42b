//! State shared by the server's handles and its thread: the handler table, the stop flag and
//! the client lists.

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::router::Router;
use crate::types::SessionId;

/// State shared by the handles and the server thread.
pub(crate) struct Shared {
    pub(crate) router: Router,
    pub(crate) stopping: AtomicBool,
    /// A graceful shutdown was asked for, with this deadline (taken by the loop).
    shutdown_at: Mutex<Option<Instant>>,
    clients: Mutex<Vec<SessionId>>,
    ws_clients: Mutex<Vec<SessionId>>,
}

impl Shared {
    pub(crate) fn new(router: Router, max_clients: usize) -> Self {
        Shared {
            router,
            stopping: AtomicBool::new(false),
            shutdown_at: Mutex::new(None),
            clients: Mutex::new(Vec::with_capacity(max_clients.min(64))),
            ws_clients: Mutex::new(Vec::new()),
        }
    }

    fn lock(ids: &Mutex<Vec<SessionId>>) -> MutexGuard<'_, Vec<SessionId>> {
        ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open sessions, sorted.
    pub(crate) fn clients(&self) -> Vec<SessionId> {
        sorted(&Self::lock(&self.clients))
    }

    /// The sessions speaking WebSocket, sorted.
    pub(crate) fn ws_clients(&self) -> Vec<SessionId> {
        sorted(&Self::lock(&self.ws_clients))
    }

    /// Asks the loop for a graceful shutdown ending at `deadline` (the earliest asked wins).
    pub(crate) fn request_shutdown(&self, deadline: Instant) {
        let mut at = self.shutdown_at.lock().unwrap_or_else(|p| p.into_inner());
        *at = Some(at.map_or(deadline, |t| t.min(deadline)));
    }

    /// The graceful shutdown asked for, if any.
    pub(crate) fn shutdown_requested(&self) -> Option<Instant> {
        *self.shutdown_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_client(&self, id: SessionId) {
        Self::lock(&self.clients).push(id);
    }

    pub(crate) fn remove_client(&self, id: SessionId) {
        remove(&mut Self::lock(&self.clients), id);
    }

    pub(crate) fn add_ws_client(&self, id: SessionId) {
        Self::lock(&self.ws_clients).push(id);
    }

    pub(crate) fn remove_ws_client(&self, id: SessionId) {
        remove(&mut Self::lock(&self.ws_clients), id);
    }
}

fn sorted(ids: &[SessionId]) -> Vec<SessionId> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids
}

fn remove(ids: &mut Vec<SessionId>, id: SessionId) {
    if let Some(i) = ids.iter().position(|&c| c == id) {
        ids.swap_remove(i);
    }
}
