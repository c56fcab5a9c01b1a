//! Metrics and tracing events, through the facades, with the names of the
//! seed's OBSERVABILITY chapter. One test per process: the metrics recorder
//! is global.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_canon::Limits;
use audit_chain::{Emitter, Event, Overflow, QueueConfig, QueuedEmitter, RamSink};
use common::GatedSink;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Every metric now. (A debugging snapshot zeroes counters, so take one
/// snapshot per phase and look everything up in it.)
fn snapshot(snap: &Snapshotter) -> Snapshot {
    snap.snapshot().into_vec()
}

fn value(snap: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    snap.iter().find_map(|(ck, _, _, v)| {
        let key = ck.key();
        let matches = key.name() == name
            && labels
                .iter()
                .all(|(k, want)| key.labels().any(|l| l.key() == *k && l.value() == *want));
        matches.then(|| match v {
            DebugValue::Counter(c) => *c as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(h) => h.len() as f64,
        })
    })
}

/// Event names seen by a minimal `tracing` subscriber.
#[derive(Default, Clone)]
struct Names(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Names {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        self.0
            .lock()
            .expect("lock")
            .push(event.metadata().name().to_owned());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn the_emit_path_reports_through_metrics_and_tracing() {
    let recorder = DebuggingRecorder::new();
    let snap = recorder.snapshotter();
    recorder.install().expect("first recorder of this process");
    let names = Names::default();
    let _guard = tracing::subscriber::set_default(names.clone());

    let sink = Arc::new(RamSink::new(1000, 1 << 20));
    let em = Emitter::new("svc-gateway@inst-7", sink.clone(), Limits::default()).expect("emitter");
    for i in 0..3u64 {
        em.emit(Event::new("ingress", "GetServed", "ok").attr("i", i))
            .expect("emit");
    }
    em.emit(Event::new("ingress", "QuotaReject", "audit_backpressure"))
        .expect("emit");
    em.emit(Event::new("in gress", "GetServed", "ok"))
        .expect_err("bad stream");
    em.emit(Event::new("ingress", "GetServed", "ok").attr("blob", "x".repeat(2000)))
        .expect_err("too big");
    em.emit(Event::new("audit", "Login", "ok").attr("who", "jane@example.com from 10.0.0.1"))
        .expect("redacted, then recorded");
    let blocking = Emitter::new("svc-gateway@inst-8", sink.clone(), Limits::default())
        .expect("emitter")
        .with_privacy(audit_chain::Privacy::new(
            audit_chain::IpMode::Drop,
            audit_chain::PiiAction::Reject,
        ));
    // The address (dropped, never refused) comes before the refused email
    // in the walk; a refused event counts as blocked, not as redacted.
    blocking
        .emit(
            Event::new("audit", "Login", "ok")
                .attr("a_ip", "10.0.0.2")
                .attr("who", "jane@example.com"),
        )
        .expect_err("refused");
    let head = sink
        .read("svc-gateway@inst-7", "ingress")
        .expect("read")
        .pop()
        .expect("head");
    em.append_sealed(&head).expect("idempotent");

    let snap1 = snapshot(&snap);
    let svc = ("service", "svc-gateway");
    let ingress = ("stream", "ingress");
    assert_eq!(
        value(
            &snap1,
            "audit_appended_total",
            &[svc, ("kind", "GetServed"), ingress]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &snap1,
            "audit_appended_total",
            &[svc, ("kind", "QuotaReject"), ingress]
        ),
        Some(1.0)
    );
    let bytes: usize = ["ingress", "audit"]
        .iter()
        .flat_map(|st| sink.read("svc-gateway@inst-7", st).expect("read"))
        .map(|r| r.canonical().len())
        .sum();
    assert_eq!(value(&snap1, "audit_bytes_total", &[svc]), Some(bytes as f64));
    assert_eq!(
        value(&snap1, "audit_drop_total", &[svc, ("reason", "schema")]),
        Some(1.0)
    );
    assert_eq!(
        value(&snap1, "audit_drop_total", &[svc, ("reason", "bounds_exceeded")]),
        Some(1.0)
    );
    assert_eq!(value(&snap1, "audit_dedupe_hits_total", &[svc]), Some(1.0));
    assert_eq!(
        value(&snap1, "audit_pii_redacted_total", &[svc]),
        Some(2.0),
        "an email and an ip (not the refused event's address)"
    );
    assert_eq!(value(&snap1, "audit_pii_blocked_total", &[svc]), Some(1.0));
    assert_eq!(
        value(&snap1, "audit_drop_total", &[svc, ("reason", "pii_blocked")]),
        Some(1.0)
    );
    let seen = names.0.lock().expect("lock").clone();
    assert_eq!(
        seen.iter().filter(|n| *n == "audit.append.ok").count(),
        5,
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|n| *n == "audit.append.reject").count(),
        3,
        "{seen:?}"
    );

    // The queued front end: sheds count as busy rejections and backpressure drops.
    let (gated, entered, release) = GatedSink::new();
    let em = Arc::new(Emitter::new("svc-edge@inst-1", gated, Limits::default()).expect("emitter"));
    let q = QueuedEmitter::start(
        em,
        QueueConfig {
            workers: 1,
            capacity: 2,
            overflow: Overflow::Shed,
        },
    )
    .expect("start");
    q.try_emit(Event::new("slow", "GetServed", "ok"))
        .expect("accepted");
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("in the sink");
    q.try_emit(Event::new("slow", "GetServed", "ok")).expect("queued");
    q.try_emit(Event::new("slow", "GetServed", "ok")).expect("queued");
    for _ in 0..7 {
        q.try_emit(Event::new("slow", "GetServed", "ok"))
            .expect_err("full");
    }
    let snap2 = snapshot(&snap);
    let edge = ("service", "svc-edge");
    assert_eq!(
        value(&snap2, "busy_rejections_total", &[edge, ("endpoint", "emit")]),
        Some(7.0)
    );
    assert_eq!(
        value(
            &snap2,
            "audit_drop_total",
            &[edge, ("reason", "audit_backpressure")]
        ),
        Some(7.0)
    );
    assert_eq!(
        value(&snap2, "audit_queue_depth", &[edge, ("worker", "0")]),
        Some(2.0)
    );
    for _ in 0..3 {
        release.send(()).expect("release");
    }
    q.shutdown(Duration::from_secs(10));
    let snap3 = snapshot(&snap);
    assert_eq!(
        value(
            &snap3,
            "audit_appended_total",
            &[edge, ("kind", "GetServed"), ("stream", "slow")]
        ),
        Some(3.0)
    );
}
