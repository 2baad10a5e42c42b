//! The accessors every handler-facing type with a session has ([`Request`](super::request::Request)
//! and [`WsConn`](super::ws::WsConn)), written once.

/// Implements the session accessors on a type with a `session: &mut Session` field.
macro_rules! session_api {
    () => {
        /// The client's address.
        pub fn remote_addr(&self) -> std::net::SocketAddr {
            self.session.peer
        }

        /// The id of this connection's session (for [`Server::send_to`](crate::Server::send_to),
        /// [`Server::ws_send`](crate::Server::ws_send) and the like from other threads).
        pub fn session_id(&self) -> crate::SessionId {
            self.session.id
        }

        /// The session's context, if one of type `T` is set (ESP-IDF's `req->sess_ctx`).
        pub fn session_ctx<T: std::any::Any + Send>(&mut self) -> Option<&mut T> {
            self.session.ctx_mut()
        }

        /// Sets the session's context, dropping (freeing) the previous one. It lives until the
        /// connection closes, it is replaced, or the server stops.
        pub fn set_session_ctx<T: std::any::Any + Send>(&mut self, ctx: T) {
            self.session.set_ctx(ctx);
        }

        /// The session's context of type `T`, created with `f` if there is none (or it has
        /// another type, which is dropped).
        pub fn session_ctx_or_insert_with<T: std::any::Any + Send>(
            &mut self,
            f: impl FnOnce() -> T,
        ) -> &mut T {
            self.session.ctx_or_insert_with(f)
        }

        /// Removes and returns the session's context if it has type `T` (otherwise leaves it).
        pub fn take_session_ctx<T: std::any::Any + Send>(&mut self) -> Option<T> {
            self.session.take_ctx()
        }

        /// Drops the session's context, whatever its type.
        pub fn clear_session_ctx(&mut self) {
            self.session.ctx = None;
        }
    };
}

pub(crate) use session_api;
