//! The session table: fixed capacity, generation ids, and reservations for detached sessions.

use std::sync::Arc;

use mio::Registry;

use super::relay::{self, Attention, Buffers, Proxy};
use super::session::Session;
use crate::types::SessionId;

/// One entry of the session table.
enum Slot {
    /// Unused; the next session here gets this generation.
    Free {
        generation: u32,
    },
    Live(Box<Session>),
    /// The session is owned by a detached request on another thread; the slot (and id) stay
    /// reserved until it comes back or ends.
    Detached {
        id: SessionId,
        close_requested: bool,
    },
    /// The session's handler runs on a worker; the loop keeps its socket here and relays its
    /// bytes.
    Pooled(Box<Proxy>),
}

/// A session back in its slot.
#[derive(Debug)]
pub(crate) struct Reattached {
    /// A close was requested while it was away.
    pub(crate) close_requested: bool,
    /// Its connection broke while it was on a worker.
    pub(crate) broken: bool,
    /// Its slot is in the loop's ready queue already.
    pub(crate) queued: bool,
}

/// The session table: fixed capacity, generation ids, and reservations for detached sessions.
/// (A slab cannot keep a slot reserved while its value lives elsewhere, hence this table.)
pub(crate) struct Sessions {
    slots: Vec<Slot>,
    /// Free slots, most recently freed last.
    free: Vec<usize>,
    /// Live and detached sessions.
    open: usize,
    /// For each detached session, a second handle on its socket, to cut the connection when
    /// the server stops while the session is away. Kept apart so the table's entries stay
    /// small.
    cutoffs: Vec<(SessionId, socket2::Socket)>,
}

impl Sessions {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Sessions {
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            open: 0,
            cutoffs: Vec::new(),
        }
    }

    /// Open sessions, detached ones included.
    pub(crate) fn len(&self) -> usize {
        self.open
    }

    /// The id the next inserted session will get.
    pub(crate) fn next_id(&self) -> SessionId {
        match self.free.last() {
            Some(&slot) => match self.slots[slot] {
                Slot::Free { generation } => SessionId::new(slot, generation),
                _ => unreachable!("free list holds free slots"),
            },
            None => SessionId::new(self.slots.len(), 0),
        }
    }

    /// Uses up the next id without opening a session (a refused connection).
    pub(crate) fn burn_next_id(&mut self) {
        let id = self.next_id();
        let slot = id.slot();
        if slot == self.slots.len() {
            self.slots.push(Slot::Free { generation: 1 });
            self.free.push(slot);
        } else {
            self.slots[slot] = Slot::Free {
                generation: id.next_generation(),
            };
        }
    }

    /// Inserts a session under [`next_id`](Sessions::next_id); returns its slot.
    pub(crate) fn insert(&mut self, session: Session) -> usize {
        let slot = session.id.slot();
        debug_assert_eq!(session.id, self.next_id());
        if slot == self.slots.len() {
            self.slots.push(Slot::Live(Box::new(session)));
        } else {
            self.free.pop();
            self.slots[slot] = Slot::Live(Box::new(session));
        }
        self.open += 1;
        slot
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Session> {
        match self.slots.get(slot) {
            Some(Slot::Live(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Session> {
        match self.slots.get_mut(slot) {
            Some(Slot::Live(s)) => Some(s),
            _ => None,
        }
    }

    fn free_slot(&mut self, slot: usize, id: SessionId) {
        self.slots[slot] = Slot::Free {
            generation: id.next_generation(),
        };
        self.free.push(slot);
        self.open -= 1;
    }

    /// Removes a live session; its id becomes stale.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Session> {
        let id = self.get(slot)?.id;
        let Slot::Live(s) = std::mem::replace(&mut self.slots[slot], Slot::Free { generation: 0 })
        else {
            return None;
        };
        self.free_slot(slot, id);
        Some(*s)
    }

    /// Moves a live session out, keeping its slot reserved.
    pub(crate) fn detach(&mut self, slot: usize) -> Option<Box<Session>> {
        let session = self.get(slot)?;
        let id = session.id;
        if let Some(handle) = session.transport.cutoff_handle() {
            self.cutoffs.push((id, handle));
        }
        let reserved = Slot::Detached {
            id,
            close_requested: false,
        };
        match std::mem::replace(&mut self.slots[slot], reserved) {
            Slot::Live(s) => Some(s),
            _ => None,
        }
    }

    /// Moves a live session out to a worker, keeping its socket here behind a relay.
    pub(crate) fn pool_out(
        &mut self,
        slot: usize,
        attention: &Arc<Attention>,
    ) -> Option<Box<Session>> {
        let session = self.get_mut(slot)?;
        let proxy = relay::split(session, Arc::clone(attention), slot);
        match std::mem::replace(&mut self.slots[slot], Slot::Pooled(proxy)) {
            Slot::Live(s) => Some(s),
            _ => None,
        }
    }

    /// The loop's side of a session on a worker.
    pub(crate) fn proxy_mut(&mut self, slot: usize) -> Option<&mut Proxy> {
        match self.slots.get_mut(slot) {
            Some(Slot::Pooled(p)) => Some(p),
            _ => None,
        }
    }

    /// Puts a detached or pooled session back in its slot (a pooled one gets its socket and
    /// the relay's bytes back), or gives the session back if its slot is not reserved for it.
    pub(crate) fn reattach(
        &mut self,
        mut session: Box<Session>,
        registry: &Registry,
        bufs: &mut Buffers,
    ) -> Result<Reattached, Box<Session>> {
        let slot = session.id.slot();
        let back = match self.slots.get(slot) {
            Some(&Slot::Detached {
                id,
                close_requested,
            }) if id == session.id => {
                if let Some(i) = self.cutoffs.iter().position(|(c, _)| *c == id) {
                    self.cutoffs.swap_remove(i);
                }
                Reattached {
                    close_requested,
                    broken: false,
                    queued: false,
                }
            }
            Some(Slot::Pooled(p)) if p.id == session.id => {
                let Slot::Pooled(proxy) =
                    std::mem::replace(&mut self.slots[slot], Slot::Free { generation: 0 })
                else {
                    unreachable!("matched just above");
                };
                let (close_requested, queued) = (proxy.close_requested, proxy.queued);
                let broken = proxy.merge_into(&mut session, registry, bufs);
                Reattached {
                    close_requested,
                    broken,
                    queued,
                }
            }
            _ => return Err(session),
        };
        self.slots[slot] = Slot::Live(session);
        Ok(back)
    }

    /// Asks a detached session to close when it comes back. `false` if `id` is not detached.
    pub(crate) fn request_close_detached(&mut self, id: SessionId) -> bool {
        match self.slots.get_mut(id.slot()) {
            Some(Slot::Detached {
                id: d,
                close_requested,
            }) if *d == id => {
                *close_requested = true;
                true
            }
            Some(Slot::Pooled(p)) if p.id == id => {
                p.close_requested = true;
                true
            }
            _ => false,
        }
    }

    /// Shuts down the connections of sessions away on other threads: the server is stopping
    /// and will not take them back. Their requests find the connection gone.
    pub(crate) fn cut_detached(&mut self) {
        for (id, socket) in self.cutoffs.drain(..) {
            log::debug!("session {id}: cut while detached");
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Removes the loop's side of pooled session `id` whose session will not come back; its
    /// slot is freed.
    pub(crate) fn remove_pooled(&mut self, id: SessionId) -> Option<Proxy> {
        let slot = id.slot();
        match self.slots.get(slot) {
            Some(Slot::Pooled(p)) if p.id == id => {}
            _ => return None,
        }
        let Slot::Pooled(proxy) =
            std::mem::replace(&mut self.slots[slot], Slot::Free { generation: 0 })
        else {
            return None;
        };
        self.free_slot(slot, id);
        Some(*proxy)
    }

    /// Takes the loop's sides of the sessions on workers (the server is stopping); their
    /// slots stay reserved, so the sessions find no way back.
    pub(crate) fn take_proxies(&mut self) -> Vec<Proxy> {
        let mut proxies = Vec::new();
        for slot in &mut self.slots {
            if let Slot::Pooled(p) = slot {
                let id = p.id;
                let reserved = Slot::Detached {
                    id,
                    close_requested: true,
                };
                if let Slot::Pooled(p) = std::mem::replace(slot, reserved) {
                    proxies.push(*p);
                }
            }
        }
        proxies
    }

    /// Live sessions.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Session)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| match s {
                Slot::Live(s) => Some((slot, &**s)),
                _ => None,
            })
    }

    /// Ids of every open session, detached ones included.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.slots.iter().filter_map(|s| match s {
            Slot::Live(s) => Some(s.id),
            Slot::Detached { id, .. } => Some(*id),
            Slot::Pooled(p) => Some(p.id),
            Slot::Free { .. } => None,
        })
    }

    /// Slots of live sessions.
    pub(crate) fn live_slots(&self) -> Vec<usize> {
        self.iter().map(|(slot, _)| slot).collect()
    }
}

impl std::ops::Index<usize> for Sessions {
    type Output = Session;

    fn index(&self, slot: usize) -> &Session {
        self.get(slot)
            .expect("INVARIANT: the loop only indexes live sessions")
    }
}

impl std::ops::IndexMut<usize> for Sessions {
    fn index_mut(&mut self, slot: usize) -> &mut Session {
        self.get_mut(slot)
            .expect("INVARIANT: the loop only indexes live sessions")
    }
}
