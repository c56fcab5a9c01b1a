//! The emit pipeline's claims, as tests: chains stay contiguous under many
//! threads, bad events never reach the sink, the head re-append is a no-op,
//! memory bounds hold, streams do not wait for each other, RAM is amnesic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use audit_canon::{AttrValue, Blake3Tree, Digest, Limits, PrevHash, RecordError, leaf_hash, recursive_root};
mod common;

use common::GatedSink;

use audit_chain::{AuditSink, AuditStream, EmitError, Emitter, Event, RamSink, SealedRecord, SinkError};

const W: &str = "svc-gateway@test-1";

fn sink() -> Arc<RamSink> {
    Arc::new(RamSink::new(1_000_000, 1 << 30))
}

fn emitter(sink: &Arc<RamSink>) -> Emitter {
    Emitter::new(W, sink.clone(), Limits::default())
        .expect("valid writer")
        .with_clock(Arc::new(|| 1_767_225_600_000))
}

fn ev(stream: &str, i: u64) -> Event {
    Event::new(stream, "GetServed", "ok")
        .attr("i", i)
        .attr("path", format!("/v1/objects/{i}"))
}

#[test]
fn chains_stay_contiguous_under_many_threads_on_many_streams() {
    let sink = sink();
    let em = Arc::new(emitter(&sink));
    let streams = ["a", "b", "c", "d"];
    let threads = 8;
    let per_thread = 400;
    std::thread::scope(|s| {
        for t in 0..threads {
            let em = em.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    let stream = streams[(t + i) % streams.len()];
                    em.emit(ev(stream, (t * per_thread + i) as u64)).expect("emit");
                }
            });
        }
    });
    let mut total = 0;
    for stream in streams {
        // read() verifies bytes, hashes, seq and prev of every record.
        let recs = sink.read(W, stream).expect("stream verifies");
        total += recs.len();
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.record().seq(), i as u64 + 1, "stream {stream} contiguous");
        }
        // The emitter's frontier is the tree over exactly these records.
        let leaves: Vec<Digest> = recs.iter().map(|r| leaf_hash(r.self_hash())).collect();
        let state = em.chain_state(stream).expect("state");
        assert_eq!(state.seq(), recs.len() as u64);
        assert_eq!(state.frontier().root(), recursive_root(&Blake3Tree, &leaves));
        assert_eq!(
            *state.head(),
            PrevHash::Digest(*recs.last().expect("records").self_hash())
        );
        assert_eq!(sink.chain_state(W, stream), Some(state));
    }
    assert_eq!(total, threads * per_thread);
    assert_eq!(sink.len(), total);
}

#[test]
fn bad_events_get_a_typed_error_and_never_reach_the_sink() {
    let sink = sink();
    let em = emitter(&sink);
    let bad_stream = em
        .emit(Event::new("in gress", "GetServed", "ok"))
        .expect_err("stream");
    assert!(
        matches!(
            &bad_stream,
            EmitError::Invalid(RecordError::Invalid {
                field: audit_canon::Field::Stream,
                ..
            })
        ),
        "{bad_stream}"
    );
    assert!(bad_stream.to_string().contains("stream"), "{bad_stream}");
    let bad_reason = em
        .emit(Event::new("ingress", "GetServed", "OK"))
        .expect_err("reason");
    assert!(bad_reason.to_string().contains("reason"), "{bad_reason}");
    let big = em
        .emit(Event::new("ingress", "GetServed", "ok").attr("blob", "x".repeat(2000)))
        .expect_err("oversize attrs");
    assert!(
        matches!(
            big,
            EmitError::Bounds(audit_canon::BoundsError::AttrsTooLarge { .. })
        ),
        "{big}"
    );
    let mut deep = AttrValue::from(1u64);
    for _ in 0..9 {
        deep = AttrValue::Array(vec![deep]);
    }
    let too_deep = em
        .emit(Event::new("ingress", "GetServed", "ok").attr("d", deep))
        .expect_err("depth");
    assert!(
        matches!(too_deep, EmitError::Invalid(RecordError::AttrsTooDeep { .. })),
        "{too_deep}"
    );
    // A float cannot even be expressed: attrs from JSON refuse it on conversion.
    let float = serde_json::json!({"ratio": 0.5});
    assert!(AttrValue::try_from(&float).is_err());
    assert!(sink.is_empty(), "nothing of a bad event reaches the sink");
    // The chain did not move: the next good event is seq 1.
    assert_eq!(em.emit(ev("ingress", 1)).expect("emit").seq, 1);
}

#[test]
fn re_appending_the_head_is_a_no_op_returning_the_same_head() {
    let sink = sink();
    let em = emitter(&sink);
    for i in 0..3 {
        em.emit(ev("ingress", i)).expect("emit");
    }
    let recs = sink.read(W, "ingress").expect("read");
    let head = recs.last().expect("head").clone();
    assert_eq!(em.append_sealed(&head).expect("idempotent"), *head.self_hash());
    assert_eq!(
        sink.append(&head).expect("idempotent at the sink too"),
        *head.self_hash()
    );
    assert_eq!(sink.len(), 3, "nothing was added");
    // An older record is not the head: refused, not silently accepted.
    let err = em.append_sealed(&recs[0]).expect_err("old record");
    assert!(matches!(err, EmitError::Chain(_)), "{err}");
    assert_eq!(em.emit(ev("ingress", 9)).expect("emit").seq, 4);
}

#[test]
fn sealed_records_of_another_writer_are_refused() {
    let sink = sink();
    let em = emitter(&sink);
    let other = audit_canon::AuditRecord::builder()
        .ts_ms(0)
        .writer_id("someone-else")
        .seq(1)
        .stream("ingress")
        .kind("K")
        .reason("ok")
        .build()
        .expect("record");
    let sealed = SealedRecord::seal(other, &Limits::default()).expect("seal");
    assert!(matches!(
        em.append_sealed(&sealed),
        Err(EmitError::OtherWriter { .. })
    ));
    assert!(sink.is_empty());
}

#[test]
fn ram_sink_refuses_past_its_record_and_byte_bounds_without_moving_the_chain() {
    let sink = Arc::new(RamSink::new(5, 1 << 20));
    let em = emitter(&sink);
    for i in 0..5 {
        em.emit(ev("ingress", i)).expect("within bounds");
    }
    let err = em.emit(ev("ingress", 5)).expect_err("sixth record");
    assert!(
        matches!(err, EmitError::Sink(SinkError::Full { what: "records", .. })),
        "{err}"
    );
    assert_eq!(em.chain_state("ingress").expect("state").seq(), 5);
    assert_eq!(sink.len(), 5);

    // Room for one and a half records of this shape.
    let one = sink.read(W, "ingress").expect("read")[0].canonical().len();
    let bound = one + one / 2;
    let sink = Arc::new(RamSink::new(1000, bound));
    let em = emitter(&sink);
    let first = em.emit(ev("ingress", 0)).expect("fits");
    assert_eq!(first.seq, 1);
    let err = em.emit(ev("ingress", 1)).expect_err("bytes");
    assert!(
        matches!(err, EmitError::Sink(SinkError::Full { what: "bytes", .. })),
        "{err}"
    );
    assert!(sink.bytes() <= bound);
    assert_eq!(sink.read(W, "ingress").expect("read").len(), 1);
}

#[test]
fn a_new_emitter_continues_the_chains_its_sink_holds() {
    let sink = sink();
    let first = emitter(&sink);
    first.emit(ev("ingress", 0)).expect("emit");
    let r2 = first.emit(ev("ingress", 1)).expect("emit");
    drop(first);
    let second = emitter(&sink);
    let r3 = second.emit(ev("ingress", 2)).expect("emit");
    assert_eq!(r3.seq, 3);
    let recs = sink.read(W, "ingress").expect("verifies across emitters");
    assert_eq!(*recs[2].record().prev(), PrevHash::Digest(r2.self_hash));
}

#[test]
fn closed_sinks_refuse_and_the_chain_does_not_move() {
    let sink = sink();
    let em = emitter(&sink);
    em.emit(ev("ingress", 0)).expect("emit");
    sink.close().expect("close");
    assert!(matches!(
        em.emit(ev("ingress", 1)),
        Err(EmitError::Sink(SinkError::Closed))
    ));
    assert_eq!(em.chain_state("ingress").expect("state").seq(), 1);
}

#[test]
fn a_stream_stuck_in_its_sink_does_not_hold_up_other_streams() {
    let (sink, entered_rx, release_tx) = GatedSink::new();
    let em = Arc::new(Emitter::new(W, sink.clone(), Limits::default()).expect("emitter"));
    let slow = {
        let em = em.clone();
        std::thread::spawn(move || em.emit(ev("slow", 0)))
    };
    entered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("slow append started");
    // While `slow` holds its chain lock inside the sink, `fast` proceeds.
    for i in 0..100 {
        em.emit(ev("fast", i)).expect("fast stream is not blocked");
    }
    assert_eq!(sink.inner.read(W, "fast").expect("read").len(), 100);
    assert!(
        sink.inner.read(W, "slow").expect("read").is_empty(),
        "slow is still waiting"
    );
    release_tx.send(()).expect("release");
    assert_eq!(slow.join().expect("join").expect("emit").seq, 1);
}

#[test]
fn ram_sink_never_creates_a_file() {
    const CHILD: &str = "AUDIT_CHAIN_AMNESIA_CHILD";
    if std::env::var_os(CHILD).is_some() {
        // The child: a busy RAM-only pipeline in an empty working directory.
        let sink = sink();
        let em = emitter(&sink);
        for i in 0..5_000 {
            em.emit(ev(["a", "b", "c"][i % 3], i as u64)).expect("emit");
        }
        sink.flush().expect("flush");
        sink.close().expect("close");
        for s in ["a", "b", "c"] {
            sink.read(W, s).expect("read");
        }
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "ram_sink_never_creates_a_file",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD, "1")
        .env("TMPDIR", dir.path())
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run child");
    assert!(status.success(), "child failed: {status}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("read dir").collect();
    assert!(left.is_empty(), "amnesia mode left files behind: {left:?}");
}

#[test]
fn events_keep_their_attrs_and_timestamps() {
    let sink = sink();
    let em = emitter(&sink);
    let mut attrs = BTreeMap::new();
    attrs.insert("e\u{301}".to_owned(), AttrValue::from("cafe\u{301}"));
    let mut e = Event::new("ingress", "GetServed", "ok").ts_ms(42);
    e.attrs = attrs;
    em.emit(e).expect("emit");
    let r = &sink.read(W, "ingress").expect("read")[0];
    assert_eq!(r.record().ts_ms(), 42);
    assert_eq!(
        r.record().attrs().get("\u{e9}"),
        Some(&AttrValue::from("caf\u{e9}")),
        "NFC at the source"
    );
}

#[test]
fn a_non_nfc_writer_id_is_normalized_once_and_chains_continue() {
    let sink = sink();
    let nfd = "se\u{301}rver@1";
    let em = Emitter::new(nfd, sink.clone(), Limits::default()).expect("emitter");
    assert_eq!(em.writer_id(), "s\u{e9}rver@1");
    let r1 = em.emit(ev("ingress", 0)).expect("emit");
    // The same writer given in NFD again finds its chain in the sink.
    let again = Emitter::new(nfd, sink.clone(), Limits::default()).expect("emitter");
    let r2 = again.emit(ev("ingress", 1)).expect("emit");
    assert_eq!(r2.seq, 2);
    let recs = sink.read("s\u{e9}rver@1", "ingress").expect("read");
    assert_eq!(*recs[1].record().prev(), PrevHash::Digest(r1.self_hash));
    assert_eq!(
        again.append_sealed(&recs[1]).expect("head is a no-op"),
        r2.self_hash
    );
}

#[test]
fn prepare_then_commit_sealed_is_emit_and_hands_back_the_stored_record() {
    let s = sink();
    let em = emitter(&s);
    let first = em.emit(ev("ingress", 1)).expect("emit");
    let prepared = em.prepare(ev("ingress", 2)).expect("prepare");
    assert_eq!(prepared.stream(), "ingress");
    let (receipt, sealed) = em.commit_sealed(prepared).expect("commit");
    assert_eq!((receipt.seq, sealed.record().seq()), (2, 2));
    assert_eq!(*sealed.record().prev(), PrevHash::Digest(first.self_hash));
    let stored = s.read(W, "ingress").expect("read");
    assert_eq!(stored.last(), Some(&sealed));
    // A bad event is refused by prepare; nothing moves.
    assert!(matches!(
        em.prepare(Event::new("ingress", "GetServed", "NOT-OK")),
        Err(EmitError::Invalid(_))
    ));
    assert_eq!(em.chain_state("ingress").map(|c| c.seq()), Some(2));
}

/// A sink that refuses the next record it is handed, after taking it (as a
/// WAL refuses records whose group write failed), and stores the rest.
struct RefusesOnce {
    inner: RamSink,
    refuse_next: std::sync::atomic::AtomicBool,
}

impl AuditSink for RefusesOnce {
    fn append(&self, record: &SealedRecord) -> Result<Digest, SinkError> {
        self.inner.append(record)
    }

    fn append_begin(&self, record: &SealedRecord) -> Result<audit_chain::AppendTicket, SinkError> {
        if self.refuse_next.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Ok(audit_chain::AppendTicket::ready(Err(SinkError::Io(
                "lost".into(),
            ))));
        }
        self.inner
            .append(record)
            .map(|d| audit_chain::AppendTicket::ready(Ok(d)))
    }

    fn flush(&self) -> Result<(), SinkError> {
        self.inner.flush()
    }

    fn close(&self) -> Result<(), SinkError> {
        self.inner.close()
    }
}

impl AuditStream for RefusesOnce {
    fn chain_state(&self, writer_id: &str, stream: &str) -> Option<audit_chain::ChainState> {
        self.inner.chain_state(writer_id, stream)
    }

    fn streams(&self) -> Vec<(String, String)> {
        self.inner.streams()
    }
}

#[test]
fn a_record_handed_over_after_a_refused_one_takes_the_refused_ones_place() {
    let sink = Arc::new(RefusesOnce {
        inner: RamSink::new(1000, 1 << 20),
        refuse_next: false.into(),
    });
    let em = Emitter::new(W, sink.clone(), Limits::default()).expect("emitter");
    em.emit(ev("ingress", 1)).expect("first");
    sink.refuse_next.store(true, std::sync::atomic::Ordering::SeqCst);
    // Seq 2 is taken, then refused; seq 3 follows it before anyone knows.
    let lost = em
        .commit_begin(em.prepare(ev("ingress", 2)).expect("prepare"))
        .expect("taken");
    let next = em
        .commit_begin(em.prepare(ev("ingress", 3)).expect("prepare"))
        .expect("placed again");
    let r = next.wait().expect("stored");
    assert_eq!(r.seq, 2, "placed after the last stored record");
    assert!(matches!(lost.wait(), Err(EmitError::Sink(SinkError::Io(_)))));
    // The refusal, reported late, does not move the chain back again.
    assert_eq!(em.emit(ev("ingress", 4)).expect("fourth").seq, 3);
    let stored = sink.inner.read(W, "ingress").expect("read verifies the chain");
    assert_eq!(
        stored.iter().map(|s| s.record().seq()).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}
