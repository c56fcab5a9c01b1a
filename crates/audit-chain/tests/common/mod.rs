//! Test sinks shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_canon::Digest;
use audit_chain::{AuditSink, AuditStream, ChainState, RamSink, SealedRecord, SinkError};

/// A sink whose appends to stream `slow` wait until released.
pub struct GatedSink {
    pub inner: RamSink,
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl AuditSink for GatedSink {
    fn append(&self, record: &SealedRecord) -> Result<Digest, SinkError> {
        if record.record().stream() == "slow" {
            let _ = self.entered.lock().expect("lock").send(());
            let _ = self
                .release
                .lock()
                .expect("lock")
                .recv_timeout(Duration::from_secs(10));
        }
        self.inner.append(record)
    }
    fn flush(&self) -> Result<(), SinkError> {
        self.inner.flush()
    }
    fn close(&self) -> Result<(), SinkError> {
        self.inner.close()
    }
}

impl AuditStream for GatedSink {
    fn chain_state(&self, writer_id: &str, stream: &str) -> Option<ChainState> {
        self.inner.chain_state(writer_id, stream)
    }
    fn streams(&self) -> Vec<(String, String)> {
        self.inner.streams()
    }
}

impl GatedSink {
    /// The sink, a receiver told when a `slow` append starts, and a sender
    /// that lets one waiting append through.
    pub fn new() -> (Arc<Self>, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let sink = Arc::new(Self {
            inner: RamSink::new(100_000, 1 << 26),
            entered: Mutex::new(entered_tx),
            release: Mutex::new(release_rx),
        });
        (sink, entered_rx, release_tx)
    }
}
