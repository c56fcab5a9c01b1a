//! [`Merge`]: reads several chains as one sequence in the global order of
//! FORMAT-v1.md section 3, `(ts_ms, writer_id bytes, seq)` ascending.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::state::SealedRecord;

/// The global order key of a record.
fn key(r: &SealedRecord) -> (u64, &[u8], u64) {
    let rec = r.record();
    (rec.ts_ms(), rec.writer_id().as_bytes(), rec.seq())
}

/// The next record of one input, ordered by its key (then input index, so
/// equal keys, which only duplicates can have, come out in a fixed order).
struct Head {
    record: SealedRecord,
    input: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        key(&self.record)
            .cmp(&key(&other.record))
            .then(self.input.cmp(&other.input))
    }
}

/// A k-way merge of chains, each given in `seq` order.
///
/// It never reorders records within one input: `ts_ms` is advisory, and
/// when a writer's clock stepped back its records still come out in `seq`
/// order, merged with the others by the key of each input's next record.
/// Memory is one record per input.
pub struct Merge<I: Iterator<Item = SealedRecord>> {
    inputs: Vec<I>,
    heap: BinaryHeap<Reverse<Head>>,
}

impl<I: Iterator<Item = SealedRecord>> Merge<I> {
    /// Merges `inputs`.
    pub fn new(inputs: Vec<I>) -> Self {
        let mut m = Self {
            inputs,
            heap: BinaryHeap::new(),
        };
        for i in 0..m.inputs.len() {
            m.refill(i);
        }
        m
    }

    fn refill(&mut self, input: usize) {
        if let Some(record) = self.inputs.get_mut(input).and_then(Iterator::next) {
            self.heap.push(Reverse(Head { record, input }));
        }
    }
}

impl<I: Iterator<Item = SealedRecord>> Iterator for Merge<I> {
    type Item = SealedRecord;

    fn next(&mut self) -> Option<SealedRecord> {
        let Reverse(head) = self.heap.pop()?;
        self.refill(head.input);
        Some(head.record)
    }
}
