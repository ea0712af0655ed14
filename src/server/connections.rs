//! How many connections the server holds, and which it lets go when
//! crowded.
//!
//! Every connection is a file descriptor, and the process has a fixed
//! number of them (systemd's default is 1,024). A client that opens
//! connections and sends nothing costs nothing but descriptors, so without
//! a bound 1,500 idle connections leave none for GitHub's next delivery:
//! `accept` fails until hyper's header timeout closes some, long after
//! GitHub gave up. Here the server holds at most [`Connections::max`]
//! (the descriptor limit less a reserve for the store, GitHub and logs),
//! and a connection is *idle* whenever no request of it is being served
//! (waiting for its first request, between keep-alive requests, or still
//! sending its headers). When the server is full, the oldest idle
//! connection is closed to make room for the next (given [`SHED_FLUSH`] to
//! finish writing an answer it may still hold, and counted until it is
//! gone, so the count is of descriptors really open); once it is crowded
//! (three quarters full), a connection idle for [`CROWDED_IDLE`] is closed
//! too. A connection whose request is being served is never closed here:
//! those are bounded by the body budget and the body's deadlines
//! (`server::webhook`). When every connection is busy, the server stops
//! accepting until one finishes; new connections wait in the kernel's
//! queue, not in memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Descriptors kept for everything but client connections: the listener,
/// the store (database, WAL, shared memory, lock, the pool's readers),
/// connections to GitHub, the log, and the runtime's own.
pub const FD_RESERVE: u64 = 128;

/// Connections held at most, whatever the descriptor limit: GitHub sends a
/// handful of deliveries at once, and an idle connection still costs a
/// task and buffers.
pub const MAX_CONNECTIONS: usize = 4_096;

/// The fewest connections allowed, even under a tiny descriptor limit.
const MIN_CONNECTIONS: usize = 16;

/// Once crowded, how long a connection may sit idle: long enough for a
/// client to send its request right after connecting, far shorter than
/// the header timeout an uncrowded server allows.
pub const CROWDED_IDLE: Duration = Duration::from_secs(1);

/// How long a connection being closed to make room may take to flush an
/// answer already written to it (an idle one closes at once).
pub const SHED_FLUSH: Duration = Duration::from_millis(100);

/// This process's (soft) limit on open descriptors. It is read, never
/// raised: the service manager sets it (`LimitNOFILE` in the systemd unit),
/// and the unit's system-call filter forbids `setrlimit`.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes `limit`.
        let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        #[allow(clippy::unnecessary_cast, reason = "rlim_t is not u64 everywhere")]
        (read == 0).then_some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connections to hold at most under a descriptor limit.
pub fn max_for(descriptors: Option<u64>) -> usize {
    descriptors
        .map(|n| usize::try_from(n.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX))
        .unwrap_or(MAX_CONNECTIONS)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

struct Slot {
    /// Fired to close the connection.
    shed: CancellationToken,
    /// Since when no request of it is being served; `None` while one is.
    idle_since: Option<Instant>,
    /// Requests of it being served (HTTP/1.1: at most one at a time).
    busy: usize,
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: HashMap<u64, Slot>,
    /// Idle connections, oldest first.
    idle: BTreeSet<(Instant, u64)>,
}

impl Inner {
    /// Asks the idle connection `id` (already out of `idle`) to close; it
    /// keeps its place until it has.
    fn shed(&mut self, id: u64) {
        if let Some(slot) = self.open.get_mut(&id) {
            slot.idle_since = None;
            slot.shed.cancel();
            metrics::counter!("seamguard_connections_shed_total").increment(1);
        }
    }
}

/// The server's connections.
pub struct Connections {
    max: usize,
    inner: Mutex<Inner>,
    /// Signalled when a connection closes or becomes idle.
    changed: Notify,
}

impl Connections {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
        })
    }

    /// Connections held at most.
    pub fn max(&self) -> usize {
        self.max
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner().open.len()
    }

    /// Waits until one more connection may be accepted: at once when there
    /// is room; when full, once the oldest idle connection, closed for it,
    /// is gone; when every connection is busy, once one closes or idles.
    pub async fn room(&self) {
        loop {
            let changed = self.changed.notified();
            {
                let mut inner = self.inner();
                if inner.open.len() < self.max {
                    return;
                }
                if let Some((_, id)) = inner.idle.pop_first() {
                    inner.shed(id);
                }
            }
            changed.await;
        }
    }

    /// Registers an accepted connection (idle until its first request), and
    /// closes connections idle for [`CROWDED_IDLE`] if the server is crowded.
    pub fn accepted(self: &Arc<Self>) -> Connection {
        let now = Instant::now();
        let shed = CancellationToken::new();
        let mut inner = self.inner();
        let id = inner.next;
        inner.next += 1;
        inner.open.insert(
            id,
            Slot {
                shed: shed.clone(),
                idle_since: Some(now),
                busy: 0,
            },
        );
        inner.idle.insert((now, id));
        if inner.open.len() * 4 >= self.max * 3 {
            while let Some(&(since, oldest)) = inner.idle.first() {
                if now.saturating_duration_since(since) < CROWDED_IDLE {
                    break;
                }
                inner.idle.pop_first();
                inner.shed(oldest);
            }
        }
        metrics::gauge!("seamguard_connections_open").set(inner.open.len() as f64);
        Connection {
            id,
            shed,
            all: self.clone(),
        }
    }
}

/// One accepted connection; closing it (dropping this) frees its place.
pub struct Connection {
    id: u64,
    shed: CancellationToken,
    all: Arc<Connections>,
}

impl Connection {
    /// Fires when the server closes this connection to make room.
    pub fn shed(&self) -> &CancellationToken {
        &self.shed
    }

    /// Marks a request of this connection as being served until the guard
    /// is dropped (when its answer has been handed over).
    pub fn busy(&self) -> Busy {
        let mut inner = self.all.inner();
        let Inner { open, idle, .. } = &mut *inner;
        if let Some(slot) = open.get_mut(&self.id) {
            if let Some(since) = slot.idle_since.take() {
                idle.remove(&(since, self.id));
            }
            slot.busy += 1;
        }
        Busy {
            id: self.id,
            all: self.all.clone(),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut inner = self.all.inner();
        if let Some(slot) = inner.open.remove(&self.id)
            && let Some(since) = slot.idle_since
        {
            inner.idle.remove(&(since, self.id));
        }
        metrics::gauge!("seamguard_connections_open").set(inner.open.len() as f64);
        drop(inner);
        self.all.changed.notify_waiters();
    }
}

/// A request being served; its connection is idle again once every such
/// guard is dropped.
pub struct Busy {
    id: u64,
    all: Arc<Connections>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut inner = self.all.inner();
        let Inner { open, idle, .. } = &mut *inner;
        if let Some(slot) = open.get_mut(&self.id) {
            slot.busy = slot.busy.saturating_sub(1);
            if slot.busy == 0 {
                slot.idle_since = Some(now);
                idle.insert((now, self.id));
            }
        }
        drop(inner);
        self.all.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn the_bound_follows_the_descriptor_limit() {
        assert_eq!(max_for(Some(1_024)), 1_024 - FD_RESERVE as usize);
        assert_eq!(max_for(Some(1_000_000)), MAX_CONNECTIONS);
        assert_eq!(max_for(Some(64)), MIN_CONNECTIONS);
        assert_eq!(max_for(None), MAX_CONNECTIONS);
    }

    #[tokio::test]
    async fn when_full_the_oldest_idle_connection_makes_room() {
        let all = Connections::new(2);
        let first = all.accepted();
        let second = all.accepted();
        let _serving = second.busy();
        // Full: the idle one is asked to close, never the busy one, and
        // the place is free once it has.
        let mut room = Box::pin(all.room());
        assert!((&mut room).now_or_never().is_none());
        assert!(first.shed().is_cancelled());
        assert!(!second.shed().is_cancelled());
        drop(first);
        room.await;
        assert_eq!(all.open(), 1);
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_accepting_waits() {
        let all = Connections::new(1);
        let only = all.accepted();
        let serving = only.busy();
        let mut room = Box::pin(all.room());
        assert!((&mut room).now_or_never().is_none(), "nothing to close");
        assert!(!only.shed().is_cancelled());
        // Its request answered, the connection is idle again: it is asked
        // to close, and room is made when it has.
        drop(serving);
        assert!((&mut room).now_or_never().is_none());
        assert!(only.shed().is_cancelled());
        drop(only);
        room.await;
    }

    #[tokio::test]
    async fn a_closed_connection_frees_its_place() {
        let all = Connections::new(1);
        let only = all.accepted();
        let _serving = only.busy();
        let mut room = Box::pin(all.room());
        assert!((&mut room).now_or_never().is_none());
        drop(only);
        room.await;
        assert_eq!(all.open(), 0);
    }
}
