//! The k-way merge: global order `(ts_ms, writer_id bytes, seq)` across
//! chains, never reordering within one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use audit_canon::Limits;
use audit_chain::{Emitter, Event, Merge, RamSink, SealedRecord};

/// One chain of `writer` whose timestamps are `ts`, in order.
fn chain(writer: &str, ts: &[u64]) -> Vec<SealedRecord> {
    let sink = Arc::new(RamSink::new(1000, 1 << 20));
    let em = Emitter::new(writer, sink.clone(), Limits::default()).expect("emitter");
    for &t in ts {
        em.emit(Event::new("ingress", "GetServed", "ok").ts_ms(t))
            .expect("emit");
    }
    sink.read(writer, "ingress").expect("read")
}

fn keys(v: &[SealedRecord]) -> Vec<(u64, String, u64)> {
    v.iter()
        .map(|r| {
            (
                r.record().ts_ms(),
                r.record().writer_id().to_owned(),
                r.record().seq(),
            )
        })
        .collect()
}

#[test]
fn chains_merge_in_global_order_with_ties_broken_by_writer_then_seq() {
    let a = chain("w-a", &[10, 20, 20, 40]);
    let b = chain("w-b", &[5, 20, 30]);
    let c = chain("W-c", &[20, 50]); // uppercase sorts before lowercase by bytes
    let merged: Vec<_> = Merge::new(vec![a.into_iter(), b.into_iter(), c.into_iter()]).collect();
    let want = vec![
        (5, "w-b".to_owned(), 1),
        (10, "w-a".to_owned(), 1),
        (20, "W-c".to_owned(), 1),
        (20, "w-a".to_owned(), 2),
        (20, "w-a".to_owned(), 3),
        (20, "w-b".to_owned(), 2),
        (30, "w-b".to_owned(), 3),
        (40, "w-a".to_owned(), 4),
        (50, "W-c".to_owned(), 2),
    ];
    assert_eq!(keys(&merged), want);
}

#[test]
fn a_writer_whose_clock_stepped_back_keeps_its_seq_order() {
    let a = chain("w-a", &[100, 50, 60]);
    let b = chain("w-b", &[55, 70]);
    let merged = keys(&Merge::new(vec![a.into_iter(), b.into_iter()]).collect::<Vec<_>>());
    let a_seqs: Vec<u64> = merged.iter().filter(|k| k.1 == "w-a").map(|k| k.2).collect();
    assert_eq!(a_seqs, vec![1, 2, 3], "never reordered within a chain");
    assert_eq!(merged.len(), 5);
    assert_eq!(merged[0], (55, "w-b".to_owned(), 1));
}

#[test]
fn merge_of_nothing_is_empty_and_pulls_one_record_per_input() {
    assert_eq!(
        Merge::new(Vec::<std::vec::IntoIter<SealedRecord>>::new()).count(),
        0
    );
    let pulled = Arc::new(AtomicU64::new(0));
    let counting = |v: Vec<SealedRecord>| {
        let p = pulled.clone();
        v.into_iter().inspect(move |_| {
            p.fetch_add(1, Ordering::Relaxed);
        })
    };
    let mut m = Merge::new(vec![
        counting(chain("w-a", &[1, 2, 3])),
        counting(chain("w-b", &[4, 5])),
    ]);
    assert_eq!(pulled.load(Ordering::Relaxed), 2, "one head per input");
    m.next();
    assert_eq!(pulled.load(Ordering::Relaxed), 3);
}
