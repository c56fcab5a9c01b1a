//! [`Event`]: what a host hands the emitter, before the chain assigns `seq`
//! and `prev`.

use std::collections::BTreeMap;

use audit_canon::{ActorRef, AttrValue, SubjectRef};

/// One audit event of a host. `seq`, `prev`, `v` and `writer_id` are the
/// emitter's to assign; `ts_ms` defaults to the emitter's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Stream name (FORMAT-v1.md section 1 rules).
    pub stream: String,
    /// Event kind.
    pub kind: String,
    /// Who acted.
    pub actor: ActorRef,
    /// What was acted upon.
    pub subject: SubjectRef,
    /// Reason code.
    pub reason: String,
    /// Attributes.
    pub attrs: BTreeMap<String, AttrValue>,
    /// Wall-clock milliseconds; `None` for "now".
    pub ts_ms: Option<u64>,
}

impl Event {
    /// An event with empty actor, subject and attrs.
    pub fn new(stream: impl Into<String>, kind: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            kind: kind.into(),
            actor: ActorRef::default(),
            subject: SubjectRef::default(),
            reason: reason.into(),
            attrs: BTreeMap::new(),
            ts_ms: None,
        }
    }

    /// Sets the actor.
    pub fn actor(mut self, actor: ActorRef) -> Self {
        self.actor = actor;
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: SubjectRef) -> Self {
        self.subject = subject;
        self
    }

    /// Sets one attribute.
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<AttrValue>) -> Self {
        self.attrs.insert(key.into(), value.into());
        self
    }

    /// Sets the timestamp.
    pub fn ts_ms(mut self, ts_ms: u64) -> Self {
        self.ts_ms = Some(ts_ms);
        self
    }
}
