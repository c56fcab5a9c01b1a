//! [`QueuedEmitter`]: the front end a host calls on its hot path. Bounded
//! queues per worker, workers sharded by stream (one writer per chain
//! head), shedding instead of blocking, and a graceful, deadline-bounded
//! shutdown that reports what it dropped.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use metrics::Gauge;

use crate::config::AuditConfig;
use crate::emitter::{EmitError, Emitter, PreparedEvent, Receipt};
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

/// What callers need to hand in events: the emitter that prepares them
/// and one queue per worker.
struct Intake {
    emitter: Arc<Emitter>,
    senders: Vec<Sender<Job>>,
}

/// One queued event, already prepared on the caller's thread, and, when the
/// caller asked, where its outcome goes.
struct Job {
    prepared: PreparedEvent,
    reply: Option<Sender<Result<Receipt, EmitError>>>,
    /// The place this job holds in its depth (only with per-stream
    /// depths), given back when a worker takes the job or the job is
    /// dropped unsent.
    place: Option<Place>,
}

/// A queue depth counted apart from the channel: a stream's own depth
/// (`streams.<name>.queue_depth`), or a worker's depth for the streams
/// without one. Used only when some stream has its own depth.
#[derive(Debug)]
struct Gate {
    limit: usize,
    queued: AtomicUsize,
}

impl Gate {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            queued: AtomicUsize::new(0),
        })
    }

    /// Takes a place, or `None` when the depth is reached.
    fn take(self: &Arc<Self>) -> Option<Place> {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Place(self.clone()))
    }
}

/// One place in a [`Gate`], given back when dropped.
#[derive(Debug)]
struct Place(Arc<Gate>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Per-stream depths: each named stream's gate, and each worker's gate for
/// the other streams. Empty when no stream has its own depth, and then the
/// channels' capacity is the only depth.
#[derive(Debug, Default)]
struct Gates {
    streams: HashMap<String, Arc<Gate>>,
    workers: Vec<Arc<Gate>>,
}

impl Gates {
    fn of(&self, stream: &str, worker: usize) -> Option<&Arc<Gate>> {
        if self.streams.is_empty() {
            return None;
        }
        self.streams.get(stream).or_else(|| self.workers.get(worker))
    }
}

/// Counters of the front end (also what shutdown reports). The intake
/// counters are the callers'; each worker counts its own outcomes on a
/// cache line of its own, so workers never write to a line another writes.
#[derive(Debug)]
struct Counters {
    accepted: AtomicU64,
    busy: AtomicU64,
    refused: AtomicU64,
    workers: Vec<WorkerCounters>,
}

/// One worker's outcome counters.
#[derive(Debug, Default)]
#[repr(align(128))]
struct WorkerCounters {
    emitted: AtomicU64,
    failed: AtomicU64,
    dropped_at_shutdown: AtomicU64,
}

/// When intake stopped, and the drain deadline. Workers read the flag per
/// event (a shared read, no write) and take the lock only once it is set.
#[derive(Debug, Default)]
struct Stop {
    stopping: AtomicBool,
    at: Mutex<Option<Instant>>,
}

impl Stop {
    fn is_late(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
            && self
                .at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some_and(|t| Instant::now() >= t)
    }
}

/// A snapshot of the front end's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Events taken into a queue.
    pub accepted: u64,
    /// Events refused because a queue was full (`busy_rejections_total`).
    pub busy_rejections: u64,
    /// Events refused at intake, their error returned to the caller: a
    /// field broke its rule, or the privacy policy refused them.
    pub refused: u64,
    /// Events a worker turned into records.
    pub emitted: u64,
    /// Events a worker could not record (over a size bound, sink refused).
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
    /// It was not recorded: refused at intake (a field broke its rule, the
    /// privacy policy refused it) or by the worker (a size bound, the sink).
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
    /// `None` once shutdown began: the queues close and the emitter (with
    /// its sink) is released.
    intake: RwLock<Option<Intake>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    counters: Arc<Counters>,
    stop: Arc<Stop>,
    overflow: Overflow,
    service: String,
    /// `audit_queue_depth` of each worker, registered once.
    depth: Vec<Gauge>,
    /// Per-stream depths, if any stream has one.
    gates: Gates,
}

impl QueuedEmitter {
    /// Starts `config.workers` workers over `emitter`.
    pub fn start(emitter: Arc<Emitter>, config: QueueConfig) -> Result<Self, QueueError> {
        Self::start_with_stream_depths(emitter, config, &BTreeMap::new())
    }

    /// Starts the front end an [`AuditConfig`] describes
    /// ([`AuditConfig::queue_config`]), with its per-stream depths
    /// (`streams.<name>.queue_depth`).
    pub fn from_config(emitter: Arc<Emitter>, config: &AuditConfig) -> Result<Self, QueueError> {
        let depths = config
            .stream_queue_depth
            .iter()
            .map(|(name, &d)| (name.clone(), usize::try_from(d).unwrap_or(usize::MAX)))
            .collect();
        Self::start_with_stream_depths(emitter, config.queue_config(), &depths)
    }

    /// [`Self::start`], with streams that have a queue depth of their own
    /// (more or less than `config.capacity`, each at least 1). Such a
    /// stream's events are shed once that many of them wait, whatever else
    /// waits on the same worker; the other streams of a worker share
    /// `config.capacity`. Depths apply to shedding: under
    /// [`Overflow::Block`] only the channels bound the queues.
    pub fn start_with_stream_depths(
        emitter: Arc<Emitter>,
        config: QueueConfig,
        depths: &BTreeMap<String, usize>,
    ) -> Result<Self, QueueError> {
        if !(1..=8).contains(&config.workers) {
            return Err(QueueError::Config("workers must be 1..=8"));
        }
        if config.capacity == 0 || depths.values().any(|&d| d == 0) {
            return Err(QueueError::Config("capacity must be at least 1"));
        }
        // With per-stream depths the gates bound each stream, and a
        // worker's channel holds all of them at once: its own capacity
        // plus the depths of the streams that hash to it.
        let mut gates = Gates::default();
        let mut channel = vec![config.capacity; config.workers];
        if !depths.is_empty() {
            for (name, &d) in depths {
                gates.streams.insert(name.clone(), Gate::new(d));
                if let Some(c) = channel.get_mut(worker_of(name, config.workers)) {
                    *c = c.saturating_add(d);
                }
            }
            gates.workers = (0..config.workers).map(|_| Gate::new(config.capacity)).collect();
        }
        let counters = Arc::new(Counters {
            accepted: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            workers: (0..config.workers).map(|_| WorkerCounters::default()).collect(),
        });
        let stop = Arc::new(Stop::default());
        let depth: Vec<Gauge> = (0..config.workers)
            .map(|i| telemetry::queue_depth(emitter.service(), i))
            .collect();
        let mut senders = Vec::with_capacity(config.workers);
        let mut handles = Vec::with_capacity(config.workers);
        for (i, gauge) in depth.iter().enumerate() {
            let (tx, rx) = bounded::<Job>(channel.get(i).copied().unwrap_or(config.capacity));
            senders.push(tx);
            let (em, counters, stop, gauge) =
                (emitter.clone(), counters.clone(), stop.clone(), gauge.clone());
            let handle = std::thread::Builder::new()
                .name(format!("audit-worker-{i}"))
                .spawn(move || work(&em, i, &rx, &counters, &stop, &gauge))
                .map_err(|_| QueueError::Config("could not start a worker thread"))?;
            handles.push(handle);
        }
        Ok(Self {
            service: emitter.service().to_owned(),
            intake: RwLock::new(Some(Intake { emitter, senders })),
            workers: Mutex::new(handles),
            counters,
            stop,
            overflow: config.overflow,
            depth,
            gates,
        })
    }

    /// Prepares `event` here, on the caller's thread, and queues it for the
    /// worker that owns its stream. A full queue is seen before any work is
    /// spent on the event, so shedding stays cheap under overload.
    fn send(
        &self,
        event: Event,
        reply: Option<Sender<Result<Receipt, EmitError>>>,
    ) -> Result<(), QueueError> {
        let intake = self.intake.read().unwrap_or_else(PoisonError::into_inner);
        let Some(Intake { emitter, senders }) = intake.as_ref() else {
            return Err(QueueError::Closed);
        };
        let idx = worker_of(&event.stream, senders.len());
        let Some(tx) = senders.get(idx) else {
            return Err(QueueError::Closed);
        };
        // A full depth is seen before any work is spent on the event.
        let place = match (self.overflow, self.gates.of(&event.stream, idx)) {
            (Overflow::Shed, Some(gate)) => match gate.take() {
                Some(place) => Some(place),
                None => return Err(self.shed(event.stream)),
            },
            (Overflow::Shed, None) if tx.is_full() => return Err(self.shed(event.stream)),
            _ => None,
        };
        let prepared = match emitter.prepare(event) {
            Ok(p) => p,
            Err(e) => {
                // `prepare` counted the drop under its reason.
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                return Err(QueueError::Emit(e));
            }
        };
        let job = Job {
            prepared,
            reply,
            place,
        };
        let sent = match self.overflow {
            Overflow::Shed => tx.try_send(job).map_err(|e| match e {
                TrySendError::Full(job) => self.shed(job.prepared.stream().to_owned()),
                TrySendError::Disconnected(_) => QueueError::Closed,
            }),
            Overflow::Block => tx.send(job).map_err(|_| QueueError::Closed),
        };
        match &sent {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                if let Some(g) = self.depth.get(idx) {
                    g.set(tx.len() as f64);
                }
            }
            Err(QueueError::Closed) => telemetry::dropped(&self.service, reason::CLOSED).increment(1),
            Err(_) => {}
        }
        sent
    }

    /// Counts an event shed at a full queue.
    fn shed(&self, stream: String) -> QueueError {
        self.counters.busy.fetch_add(1, Ordering::Relaxed);
        telemetry::busy(&self.service).increment(1);
        telemetry::dropped(&self.service, reason::AUDIT_BACKPRESSURE).increment(1);
        QueueError::Busy { stream }
    }

    /// Queues `event`, or refuses it at once: never blocks under
    /// [`Overflow::Shed`]. The event is checked and scrubbed here
    /// ([`Emitter::prepare`]); one that breaks a rule is refused with
    /// [`QueueError::Emit`] naming the field.
    pub fn try_emit(&self, event: Event) -> Result<(), QueueError> {
        self.send(event, None)
    }

    /// Queues `event` and returns a receipt to wait on (refused at once as
    /// [`Self::try_emit`] refuses).
    pub fn emit_with_receipt(&self, event: Event) -> Result<PendingReceipt, QueueError> {
        let (tx, rx) = bounded(1);
        self.send(event, Some(tx))?;
        Ok(PendingReceipt { rx })
    }

    /// Whether the front end still takes events (false once shutdown began).
    pub fn is_accepting(&self) -> bool {
        self.intake
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Current counters.
    pub fn stats(&self) -> QueueStats {
        let c = &self.counters;
        let sum = |f: fn(&WorkerCounters) -> &AtomicU64| -> u64 {
            c.workers.iter().map(|w| f(w).load(Ordering::Relaxed)).sum()
        };
        QueueStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            busy_rejections: c.busy.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            emitted: sum(|w| &w.emitted),
            failed: sum(|w| &w.failed),
            dropped_at_shutdown: sum(|w| &w.dropped_at_shutdown),
        }
    }

    /// Stops intake, lets the workers drain their queues until `deadline`
    /// from now, drops (and counts) whatever is still queued then, and
    /// waits for the workers. Every event accepted before the call is
    /// either recorded or counted in `dropped_at_shutdown`.
    pub fn shutdown(&self, deadline: Duration) -> QueueStats {
        *self.stop.at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + deadline);
        self.stop.stopping.store(true, Ordering::Release);
        // Dropping the senders closes the queues: workers finish what is
        // queued and exit. Our hold on the emitter (and its sink) goes too.
        self.intake.write().unwrap_or_else(PoisonError::into_inner).take();
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

/// The worker that owns `stream`'s chain head, of `workers`.
fn worker_of(stream: &str, workers: usize) -> usize {
    let mut h = DefaultHasher::new();
    stream.hash(&mut h);
    usize::try_from(h.finish() % workers.max(1) as u64).unwrap_or(0)
}

/// Jobs a worker takes from its queue at once: it hands all their records
/// to the sink before waiting for any acknowledgement, so a durable sink
/// syncs once for them all.
const WORKER_BATCH: usize = 64;

/// One worker: record each job in order; past the shutdown deadline, drop.
fn work(em: &Emitter, worker: usize, rx: &Receiver<Job>, counters: &Counters, stop: &Stop, depth: &Gauge) {
    let Some(mine) = counters.workers.get(worker) else {
        return;
    };
    let mut jobs = Vec::with_capacity(WORKER_BATCH);
    let mut begun = Vec::with_capacity(WORKER_BATCH);
    while let Ok(first) = rx.recv() {
        jobs.push(first);
        jobs.extend(rx.try_iter().take(WORKER_BATCH - 1));
        depth.set(rx.len() as f64);
        for mut job in jobs.drain(..) {
            drop(job.place.take()); // off the queue: its place is free
            if stop.is_late() {
                mine.dropped_at_shutdown.fetch_add(1, Ordering::Relaxed);
                telemetry::dropped(em.service(), reason::SHUTDOWN).increment(1);
                continue; // the reply sender drops: the waiter sees `Dropped`
            }
            match em.commit_begin(job.prepared) {
                Ok(ticket) => begun.push((ticket, job.reply)),
                Err(e) => finish(mine, job.reply, Err(e)),
            }
        }
        for (ticket, reply) in begun.drain(..) {
            finish(mine, reply, ticket.wait());
        }
    }
}

/// Counts a job's outcome and hands it to its waiter, if any.
fn finish(
    mine: &WorkerCounters,
    reply: Option<Sender<Result<Receipt, EmitError>>>,
    outcome: Result<Receipt, EmitError>,
) {
    match &outcome {
        Ok(_) => mine.emitted.fetch_add(1, Ordering::Relaxed),
        Err(_) => mine.failed.fetch_add(1, Ordering::Relaxed),
    };
    if let Some(reply) = reply {
        let _ = reply.try_send(outcome);
    }
}
