//! A loom model of the queued front end's protocol: producers that shed
//! when the bounded queue is full, one consumer that owns the chain head,
//! and a shutdown that stops intake, then drains. loom explores every
//! interleaving: no deadlock, every accepted event is applied exactly once,
//! the head moves one seq at a time, and nothing is applied after the drain.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p audit-chain --test loom_queue --release`
//! (without `--cfg loom` this file compiles to nothing).
#![cfg(loom)]

use std::collections::VecDeque;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// The queue as `QueuedEmitter` uses it: bounded, `try_send` sheds, the
/// receiver sees "closed" once intake stopped and the queue is empty.
struct Queue {
    items: Mutex<(VecDeque<u64>, bool)>, // (queued, intake open)
    ready: Condvar,
    cap: usize,
    shed: AtomicUsize,
}

impl Queue {
    fn try_send(&self, v: u64) -> Result<(), &'static str> {
        let mut g = self.items.lock().unwrap();
        if !g.1 {
            return Err("closed");
        }
        if g.0.len() >= self.cap {
            self.shed.fetch_add(1, Ordering::Relaxed);
            return Err("busy");
        }
        g.0.push_back(v);
        self.ready.notify_one();
        Ok(())
    }

    fn recv(&self) -> Option<u64> {
        let mut g = self.items.lock().unwrap();
        loop {
            if let Some(v) = g.0.pop_front() {
                return Some(v);
            }
            if !g.1 {
                return None;
            }
            g = self.ready.wait(g).unwrap();
        }
    }

    fn close(&self) {
        self.items.lock().unwrap().1 = false;
        self.ready.notify_all();
    }
}

/// The chain head the single consumer owns: seq and the set of applied events.
#[derive(Default)]
struct Head {
    seq: u64,
    applied: Vec<u64>,
}

#[test]
fn shed_drain_and_shutdown_never_deadlock_or_double_apply() {
    loom::model(|| {
        let q = Arc::new(Queue {
            items: Mutex::new((VecDeque::new(), true)),
            ready: Condvar::new(),
            cap: 1,
            shed: AtomicUsize::new(0),
        });
        let head = Arc::new(Mutex::new(Head::default()));
        let drained = Arc::new(AtomicBool::new(false));

        let consumer = {
            let (q, head, drained) = (q.clone(), head.clone(), drained.clone());
            thread::spawn(move || {
                while let Some(v) = q.recv() {
                    assert!(
                        !drained.load(Ordering::SeqCst),
                        "applied after the drain finished"
                    );
                    let mut h = head.lock().unwrap();
                    let before = h.seq;
                    h.seq += 1;
                    h.applied.push(v);
                    assert_eq!(h.seq, before + 1, "the head moves one seq at a time");
                }
                drained.store(true, Ordering::SeqCst);
            })
        };
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let q = q.clone();
                thread::spawn(move || usize::from(q.try_send(p).is_ok()))
            })
            .collect();
        let accepted: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
        // Shutdown: stop intake, let the consumer drain, wait for it.
        q.close();
        assert_eq!(q.try_send(99), Err("closed"), "no intake after shutdown");
        consumer.join().unwrap();

        let h = head.lock().unwrap();
        assert_eq!(
            h.applied.len(),
            accepted,
            "every accepted event applied exactly once"
        );
        assert_eq!(h.seq as usize, accepted);
        let mut seen = h.applied.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), h.applied.len(), "no event applied twice");
        assert_eq!(
            accepted + q.shed.load(Ordering::Relaxed),
            2,
            "every event accepted or shed"
        );
    });
}
