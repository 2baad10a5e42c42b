//! The session table: fixed capacity, generation ids, and reservations for detached sessions.

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

    /// Puts a detached session back in its slot. Returns whether a close was requested while
    /// it was away, or gives the session back if its slot is not reserved for it.
    pub(crate) fn reattach(&mut self, session: Box<Session>) -> Result<bool, Box<Session>> {
        let slot = session.id.slot();
        match self.slots.get(slot) {
            Some(&Slot::Detached {
                id,
                close_requested,
            }) if id == session.id => {
                if let Some(i) = self.cutoffs.iter().position(|(c, _)| *c == id) {
                    self.cutoffs.swap_remove(i);
                }
                self.slots[slot] = Slot::Live(session);
                Ok(close_requested)
            }
            _ => Err(session),
        }
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
