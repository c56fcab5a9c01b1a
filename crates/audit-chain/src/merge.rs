//! [`Merge`]: reads several chains as one sequence in the global order of
//! FORMAT-v1.md section 3, `(ts_ms, writer_id bytes, seq)` ascending.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::state::SealedRecord;

/// An item with a place in the global order of FORMAT-v1.md section 3:
/// its record's `(ts_ms, writer_id as bytes, seq)`. [`Merge`] merges
/// anything that has one (records, or a reader's own view of a frame).
pub trait GlobalOrder {
    /// The key `(ts_ms, writer_id bytes, seq)`.
    fn global_key(&self) -> (u64, &[u8], u64);
}

impl GlobalOrder for SealedRecord {
    fn global_key(&self) -> (u64, &[u8], u64) {
        let rec = self.record();
        (rec.ts_ms(), rec.writer_id().as_bytes(), rec.seq())
    }
}

/// The next item of one input, ordered by its key (then input index, so
/// equal keys come out in a fixed order: duplicates, or two streams of one
/// writer with the same `ts_ms` and `seq`).
struct Head<T> {
    item: T,
    input: usize,
}

impl<T: GlobalOrder> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: GlobalOrder> Eq for Head<T> {}

impl<T: GlobalOrder> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: GlobalOrder> Ord for Head<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.item
            .global_key()
            .cmp(&other.item.global_key())
            .then(self.input.cmp(&other.input))
    }
}

/// A k-way merge of chains, each given in `seq` order.
///
/// It never reorders items within one input: `ts_ms` is advisory, and
/// when a writer's clock stepped back its records still come out in `seq`
/// order, merged with the others by the key of each input's next item.
/// Memory is one item per input.
pub struct Merge<I: Iterator<Item: GlobalOrder>> {
    inputs: Vec<I>,
    heap: BinaryHeap<Reverse<Head<I::Item>>>,
}

impl<I: Iterator<Item: GlobalOrder>> Merge<I> {
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
        if let Some(item) = self.inputs.get_mut(input).and_then(Iterator::next) {
            self.heap.push(Reverse(Head { item, input }));
        }
    }
}

impl<I: Iterator<Item: GlobalOrder>> Iterator for Merge<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let Reverse(head) = self.heap.pop()?;
        self.refill(head.input);
        Some(head.item)
    }
}
