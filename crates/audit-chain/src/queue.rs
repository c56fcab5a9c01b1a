//! [`QueuedEmitter`]: the front end a host calls on its hot path. Bounded
//! queues per worker, workers sharded by stream (one writer per chain
//! head), shedding instead of blocking, and a graceful, deadline-bounded
//! shutdown that reports what it dropped.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::emitter::{EmitError, Emitter, Receipt};
use crate::event::Event;
use crate::telemetry::{self, reason};

/// What `try_emit` does when a worker's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse at once with [`QueueError::Busy`] (production behaviour).
    Shed,
    /// Wait for room. For tests only: a host must never block on audit.
    Block,
}

/// Sizing of the queued front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Worker threads, 1..=8; each owns the streams that hash to it.
    pub workers: usize,
    /// Events each worker's queue holds, at least 1.
    pub capacity: usize,
    /// Full-queue behaviour.
    pub overflow: Overflow,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            capacity: 4096,
            overflow: Overflow::Shed,
        }
    }
}

/// One queued event and, when the caller asked, where its outcome goes.
struct Job {
    event: Event,
    reply: Option<Sender<Result<Receipt, EmitError>>>,
}

/// Counters of the front end (also what shutdown reports).
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    busy: AtomicU64,
    emitted: AtomicU64,
    failed: AtomicU64,
    dropped_at_shutdown: AtomicU64,
}

/// A snapshot of the front end's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Events taken into a queue.
    pub accepted: u64,
    /// Events refused because a queue was full (`busy_rejections_total`).
    pub busy_rejections: u64,
    /// Events a worker turned into records.
    pub emitted: u64,
    /// Events a worker could not record (invalid, sink refused).
    pub failed: u64,
    /// Events still queued when the shutdown deadline passed; never recorded.
    pub dropped_at_shutdown: u64,
}

/// Why an event was not queued, or its outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The stream's queue is full; the event was shed.
    #[error("audit queue for stream {stream:?} is full; event shed")]
    Busy {
        /// The event's stream.
        stream: String,
    },
    /// The front end is shutting down or shut down.
    #[error("audit queue is closed")]
    Closed,
    /// The event was queued but dropped at the shutdown deadline.
    #[error("event dropped at the shutdown deadline")]
    Dropped,
    /// The worker recorded no outcome within the wait.
    #[error("no receipt within {0:?}")]
    Timeout(Duration),
    /// The worker could not record it.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// A configuration value is out of range.
    #[error("queue config: {0}")]
    Config(&'static str),
}

/// A receipt to come: wait on it when the caller needs the record stored.
#[derive(Debug)]
pub struct PendingReceipt {
    rx: Receiver<Result<Receipt, EmitError>>,
}

impl PendingReceipt {
    /// Waits at most `timeout` for the record's receipt.
    pub fn wait(self, timeout: Duration) -> Result<Receipt, QueueError> {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(QueueError::Emit(e)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(QueueError::Timeout(timeout)),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(QueueError::Dropped),
        }
    }
}

/// The queued front end over an [`Emitter`].
pub struct QueuedEmitter {
    senders: RwLock<Option<Vec<Sender<Job>>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    counters: Arc<Counters>,
    stop_at: Arc<Mutex<Option<Instant>>>,
    overflow: Overflow,
    service: String,
}

impl QueuedEmitter {
    /// Starts `config.workers` workers over `emitter`.
    pub fn start(emitter: Arc<Emitter>, config: QueueConfig) -> Result<Self, QueueError> {
        if !(1..=8).contains(&config.workers) {
            return Err(QueueError::Config("workers must be 1..=8"));
        }
        if config.capacity == 0 {
            return Err(QueueError::Config("capacity must be at least 1"));
        }
        let counters = Arc::new(Counters::default());
        let stop_at = Arc::new(Mutex::new(None::<Instant>));
        let mut senders = Vec::with_capacity(config.workers);
        let mut handles = Vec::with_capacity(config.workers);
        for i in 0..config.workers {
            let (tx, rx) = bounded::<Job>(config.capacity);
            senders.push(tx);
            let (em, counters, stop_at) = (emitter.clone(), counters.clone(), stop_at.clone());
            let handle = std::thread::Builder::new()
                .name(format!("audit-worker-{i}"))
                .spawn(move || work(&em, i, &rx, &counters, &stop_at))
                .map_err(|_| QueueError::Config("could not start a worker thread"))?;
            handles.push(handle);
        }
        Ok(Self {
            senders: RwLock::new(Some(senders)),
            workers: Mutex::new(handles),
            counters,
            stop_at,
            overflow: config.overflow,
            service: emitter.service().to_owned(),
        })
    }

    fn send(&self, job: Job) -> Result<(), QueueError> {
        let senders = self.senders.read().unwrap_or_else(PoisonError::into_inner);
        let Some(senders) = senders.as_ref() else {
            return Err(QueueError::Closed);
        };
        let mut h = DefaultHasher::new();
        job.event.stream.hash(&mut h);
        let idx = usize::try_from(h.finish() % senders.len() as u64).unwrap_or(0);
        let Some(tx) = senders.get(idx) else {
            return Err(QueueError::Closed);
        };
        let stream = job.event.stream.clone();
        let sent = match self.overflow {
            Overflow::Shed => tx.try_send(job).map_err(|e| match e {
                TrySendError::Full(_) => QueueError::Busy { stream },
                TrySendError::Disconnected(_) => QueueError::Closed,
            }),
            Overflow::Block => tx.send(job).map_err(|_| QueueError::Closed),
        };
        match &sent {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                telemetry::queue_depth(&self.service, idx, tx.len());
            }
            Err(QueueError::Busy { .. }) => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                telemetry::busy(&self.service).increment(1);
                telemetry::dropped(&self.service, reason::AUDIT_BACKPRESSURE).increment(1);
            }
            Err(_) => telemetry::dropped(&self.service, reason::CLOSED).increment(1),
        }
        sent
    }

    /// Queues `event`, or refuses it at once: never blocks under
    /// [`Overflow::Shed`].
    pub fn try_emit(&self, event: Event) -> Result<(), QueueError> {
        self.send(Job { event, reply: None })
    }

    /// Queues `event` and returns a receipt to wait on.
    pub fn emit_with_receipt(&self, event: Event) -> Result<PendingReceipt, QueueError> {
        let (tx, rx) = bounded(1);
        self.send(Job {
            event,
            reply: Some(tx),
        })?;
        Ok(PendingReceipt { rx })
    }

    /// Whether the front end still takes events (false once shutdown began).
    pub fn is_accepting(&self) -> bool {
        self.senders
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Current counters.
    pub fn stats(&self) -> QueueStats {
        let c = &self.counters;
        QueueStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            busy_rejections: c.busy.load(Ordering::Relaxed),
            emitted: c.emitted.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped_at_shutdown: c.dropped_at_shutdown.load(Ordering::Relaxed),
        }
    }

    /// Stops intake, lets the workers drain their queues until `deadline`
    /// from now, drops (and counts) whatever is still queued then, and
    /// waits for the workers. Every event accepted before the call is
    /// either recorded or counted in `dropped_at_shutdown`.
    pub fn shutdown(&self, deadline: Duration) -> QueueStats {
        *self.stop_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + deadline);
        // Dropping the senders closes the queues: workers finish what is
        // queued and exit.
        self.senders
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        for h in handles {
            let _ = h.join();
        }
        self.stats()
    }
}

impl Drop for QueuedEmitter {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

/// One worker: record each job in order; past the shutdown deadline, drop.
fn work(
    em: &Emitter,
    worker: usize,
    rx: &Receiver<Job>,
    counters: &Counters,
    stop_at: &Mutex<Option<Instant>>,
) {
    while let Ok(job) = rx.recv() {
        telemetry::queue_depth(em.service(), worker, rx.len());
        let late = stop_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| Instant::now() >= t);
        if late {
            counters.dropped_at_shutdown.fetch_add(1, Ordering::Relaxed);
            telemetry::dropped(em.service(), reason::SHUTDOWN).increment(1);
            continue; // the reply sender drops: the waiter sees `Dropped`
        }
        let outcome = em.emit(job.event);
        match &outcome {
            Ok(_) => counters.emitted.fetch_add(1, Ordering::Relaxed),
            Err(_) => counters.failed.fetch_add(1, Ordering::Relaxed),
        };
        if let Some(reply) = job.reply {
            let _ = reply.try_send(outcome);
        }
    }
}
