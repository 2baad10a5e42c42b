//! `ESP_HTTP_SERVER_EVENT`s: httpd's server events ([`httpd::Event`]) handed to handlers the
//! program registered with `esp_event_handler_register`, with ESP-IDF's event ids and data.
//! There is no event loop task on a host: handlers run on the thread where the event happens
//! (the server thread, or an asynchronous request's thread), in order.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use httpd::Event;

use crate::abi::*;
use crate::guard;
use crate::server::{lock, CPtr, Inner};

#[derive(Clone, Copy)]
struct Registration {
    /// The base's address; 0 for `ESP_EVENT_ANY_BASE`.
    base: usize,
    /// -1 for `ESP_EVENT_ANY_ID`.
    id: i32,
    handler: unsafe extern "C" fn(*mut c_void, *const c_char, i32, *mut c_void),
    arg: CPtr,
}

static HANDLERS: Mutex<Vec<Registration>> = Mutex::new(Vec::new());
/// Whether any handler is registered (events cost a load otherwise).
static ANY: AtomicBool = AtomicBool::new(false);

fn base_address() -> usize {
    crate::ESP_HTTP_SERVER_EVENT.0 as usize
}

/// Registers `handler` for events of `event_base` (NULL: any) and `event_id` (-1: any). Only
/// `ESP_HTTP_SERVER_EVENT`s are ever posted on a host.
///
/// # Safety
/// `event_handler` is callable with `event_handler_arg` from the server's threads.
#[no_mangle]
pub unsafe extern "C" fn esp_event_handler_register(
    event_base: *const c_char,
    event_id: i32,
    event_handler: esp_event_handler_t,
    event_handler_arg: *mut c_void,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some(handler) = event_handler else {
            return ESP_ERR_INVALID_ARG;
        };
        lock(&HANDLERS).push(Registration {
            base: event_base as usize,
            id: event_id,
            handler,
            arg: CPtr(event_handler_arg),
        });
        ANY.store(true, Ordering::Release);
        ESP_OK
    })
}

/// Unregisters `handler` for `event_base` and `event_id` (as registered).
///
/// # Safety
/// None beyond valid arguments.
#[no_mangle]
pub unsafe extern "C" fn esp_event_handler_unregister(
    event_base: *const c_char,
    event_id: i32,
    event_handler: esp_event_handler_t,
) -> esp_err_t {
    guard(ESP_FAIL, || {
        let Some(handler) = event_handler else {
            return ESP_ERR_INVALID_ARG;
        };
        let mut handlers = lock(&HANDLERS);
        handlers.retain(|r| {
            !(r.base == event_base as usize
                && r.id == event_id
                && r.handler as *const () == handler as *const ())
        });
        ANY.store(!handlers.is_empty(), Ordering::Release);
        ESP_OK
    })
}

/// The default event loop: there is none to create on a host; handlers run inline.
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn esp_event_loop_create_default() -> esp_err_t {
    ESP_OK
}

/// See [`esp_event_loop_create_default`].
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn esp_event_loop_delete_default() -> esp_err_t {
    ESP_OK
}

/// Calls the handlers registered for event `id` of `ESP_HTTP_SERVER_EVENT`.
fn dispatch(id: c_int, data: *mut c_void) {
    let base = base_address();
    let matching: Vec<Registration> = lock(&HANDLERS)
        .iter()
        .filter(|r| (r.base == 0 || r.base == base) && (r.id == -1 || r.id == id))
        .copied()
        .collect();
    for r in matching {
        // SAFETY: the program registered this handler with this argument for these events;
        // `data` points at a value that lives for the call (or is NULL), as ESP-IDF's posts.
        unsafe { (r.handler)(r.arg.get(), base as *const c_char, id, data) };
    }
}

/// Turns an httpd event into ESP-IDF's: the server state, then the handlers.
pub(crate) fn on_event(inner: &Inner, e: &Event<'_>) {
    let fd = |id| inner.fd_of(id);
    let (event, mut fd_data, mut len_data): (
        c_int,
        Option<c_int>,
        Option<esp_http_server_event_data>,
    ) = match *e {
        Event::Started { .. } => (1, None, None),
        Event::Connected { id, .. } => (2, Some(fd(id)), None),
        Event::RequestHead { id, .. } => (3, Some(fd(id)), None),
        Event::ResponseHead { id, .. } => (4, Some(fd(id)), None),
        Event::BodyData { id, len } => (5, None, Some(data(fd(id), len))),
        Event::DataSent { id, len } => (6, None, Some(data(fd(id), len))),
        Event::Disconnected { id } => (7, Some(inner.closed_fd(id)), None),
        Event::Stopped => (HTTP_SERVER_EVENT_STOP, None, None),
        Event::Error { code, .. } => (0, Some(err_code_index(code)), None),
        _ => return,
    };
    inner.state.store(event, Ordering::Release);
    if !ANY.load(Ordering::Acquire) {
        return;
    }
    let ptr: *mut c_void = match (&mut fd_data, &mut len_data) {
        (Some(v), _) => (v as *mut c_int).cast(),
        (_, Some(d)) => (d as *mut esp_http_server_event_data).cast(),
        _ => std::ptr::null_mut(),
    };
    dispatch(event, ptr);
}

fn data(fd: c_int, len: usize) -> esp_http_server_event_data {
    esp_http_server_event_data {
        fd,
        data_len: c_int::try_from(len).unwrap_or(c_int::MAX),
    }
}
