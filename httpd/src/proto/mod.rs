//! Sans-IO protocol cores: bytes in, results out, no sockets and no clocks. Request heads and
//! their limits, chunked coding, response heads (with the one keep-alive rule), request
//! targets, the WebSocket codec and message assembly. Uses only `types` and `error`.

pub(crate) mod chunked;
pub(crate) mod head;
pub(crate) mod response;
pub(crate) mod uri;
pub(crate) mod ws_codec;
pub(crate) mod ws_message;
