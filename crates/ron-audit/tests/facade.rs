//! The facade's own helpers: links and chains of typed records.

use ron_audit::bounds::Limits;
use ron_audit::verify::{LinkError, verify_chain, verify_link};
use ron_audit::{AuditRecord, Emitter, Event, RamSink};
use std::sync::Arc;

fn chain(n: u64) -> Vec<AuditRecord> {
    salted(n, 0)
}

fn salted(n: u64, salt: u64) -> Vec<AuditRecord> {
    let sink = Arc::new(RamSink::new(1000, 1 << 20));
    let e = Emitter::new("w@1", sink.clone(), Limits::default()).expect("emitter");
    for i in 0..n {
        e.emit(Event::new("s", "K", "ok").attr("i", i).attr("salt", salt))
            .expect("emit");
    }
    sink.read("w@1", "s")
        .expect("read")
        .iter()
        .map(|r| r.record().clone())
        .collect()
}

#[test]
fn chains_verify_and_every_break_is_named() {
    let c = chain(4);
    assert_eq!(verify_chain(&c), Ok(()));
    assert_eq!(verify_link(&c[0], &c[1]), Ok(()));
    assert_eq!(
        verify_link(&c[0], &c[2]),
        Err(LinkError::Gap {
            expected: 2,
            found: 3
        })
    );
    assert_eq!(verify_chain(&c[1..]), Err(LinkError::NotGenesis));
    let other = salted(2, 1);
    assert_eq!(
        verify_link(&c[0], &other[1]),
        Err(LinkError::PrevMismatch { seq: 2 })
    );
    let mut swapped = c.clone();
    swapped.swap(1, 2);
    assert!(verify_chain(&swapped).is_err());
    assert_eq!(
        ron_audit::hash::b3_no_self(&c[0], &Limits::default()).expect("hash"),
        ron_audit::Digest::of(
            &ron_audit::canon::canonicalize_without_self_hash(&c[0], &Limits::default()).expect("canon")
        )
        .to_hash_string()
    );
    assert!(ron_audit::bounds::check(&c[0], &Limits::new(16, 4096).expect("limits")).is_ok());
}

/// A host reads two writers' chains in the global order through the
/// facade alone: `(ts_ms, writer_id bytes, seq)`, each chain in seq order.
#[test]
fn a_host_merges_writers_in_the_global_order() {
    let sink = Arc::new(RamSink::new(1000, 1 << 20));
    let a = Emitter::new("a@1", sink.clone(), Limits::default()).expect("emitter");
    let b = Emitter::new("b@1", sink.clone(), Limits::default()).expect("emitter");
    for (ts, e) in [(30, &b), (10, &a), (20, &b), (40, &a)] {
        e.emit(Event::new("s", "K", "ok").ts_ms(ts)).expect("emit");
    }
    let chains = ["a@1", "b@1"].map(|w| sink.read(w, "s").expect("read").into_iter());
    let order: Vec<(u64, String, u64)> = ron_audit::Merge::new(chains.into())
        .map(|r| {
            let rec = r.record();
            (rec.ts_ms(), rec.writer_id().to_owned(), rec.seq())
        })
        .collect();
    // b's first record (ts 30) holds back its second (ts 20): a chain is
    // never reordered, and the merge goes by each chain's next record.
    assert_eq!(
        order,
        [
            (10, "a@1".into(), 1),
            (30, "b@1".into(), 1),
            (20, "b@1".into(), 2),
            (40, "a@1".into(), 2)
        ]
    );
}
