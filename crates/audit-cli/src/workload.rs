//! A deterministic generator of realistic audit events (gateway requests,
//! policy changes, quota rejects, logins), shared by `auditctl demo`,
//! `auditctl bench` and the criterion benches so all measure the same data.

use std::collections::BTreeMap;

use audit_canon::{ActorRef, AttrValue, SubjectRef};

/// One host event, before the chain assigns `seq` and `prev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Stream name.
    pub stream: &'static str,
    /// Event kind.
    pub kind: &'static str,
    /// Who acted.
    pub actor: ActorRef,
    /// What was acted upon.
    pub subject: SubjectRef,
    /// Reason code.
    pub reason: &'static str,
    /// Attributes.
    pub attrs: BTreeMap<String, AttrValue>,
    /// Wall-clock milliseconds.
    pub ts_ms: u64,
}

impl Event {
    /// This event as `audit-chain` takes it (`ts_ms` kept).
    pub fn into_chain_event(self) -> audit_chain::Event {
        let mut ev = audit_chain::Event::new(self.stream, self.kind, self.reason)
            .actor(self.actor)
            .subject(self.subject)
            .ts_ms(self.ts_ms);
        ev.attrs = self.attrs;
        ev
    }
}

/// The streams the generator spreads events over.
pub const STREAMS: [&str; 4] = ["gateway", "policy", "quota", "auth"];

/// SplitMix64: small, fast, deterministic, good enough for test data.
#[derive(Debug, Clone)]
pub struct Workload {
    state: u64,
    ts_ms: u64,
}

impl Workload {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            ts_ms: 1_767_225_600_000, // 2026-01-01T00:00:00Z
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        while s.len() < bytes * 2 {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(bytes * 2);
        s
    }

    /// The next event. Gateway requests dominate, as in a real host.
    pub fn next_event(&mut self) -> Event {
        self.ts_ms += 1 + self.below(5);
        let roll = self.below(100);
        let mut attrs = BTreeMap::new();
        let mut put = |k: &str, v: AttrValue| {
            attrs.insert(k.to_owned(), v);
        };
        let region = self.pick(&["eu-west-1", "us-east-1", "ap-southeast-1", "sa-east-1"]);
        let request_id = self.hex(16);
        let tenant = format!("tenant-{:04}", self.below(500));
        put("region", region.into());
        put("request_id", request_id.into());
        put("tenant", tenant.clone().into());
        let actor = ActorRef {
            anon: roll.is_multiple_of(7).then_some(true),
            cap_id: Some(format!("cap:{}", self.hex(8))),
            key_fpr: Some(format!("ed25519:{}", self.hex(16))),
            passport_id: Some(format!("u:{}", self.hex(6))),
        };
        let (stream, kind, reason, subject) = if roll < 70 {
            let method = self.pick(&["GET", "GET", "GET", "PUT", "POST", "DELETE"]);
            let status = self.pick(&[200u64, 200, 200, 201, 204, 304, 403, 404, 429, 500]);
            let path = format!("/v1/objects/{}/{}", tenant, self.hex(10));
            put("method", method.into());
            put("path", path.clone().into());
            put("status", status.into());
            put("bytes", self.below(10_000_000).into());
            put("latency_us", self.below(250_000).into());
            put(
                "client_ip_class",
                self.pick(&["internal", "partner", "public"]).into(),
            );
            put(
                "user_agent",
                self.pick(&[
                    "ron-sdk/2.4.1 (linux; x86_64) rustls/0.23",
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
                    "curl/8.11.0",
                ])
                .into(),
            );
            let mut headers = BTreeMap::new();
            headers.insert("accept".to_owned(), AttrValue::from("application/json"));
            headers.insert(
                "content-type".to_owned(),
                AttrValue::from("application/octet-stream"),
            );
            headers.insert("x-trace-id".to_owned(), AttrValue::from(self.hex(16)));
            put("headers", AttrValue::Object(headers));
            put(
                "tags",
                AttrValue::Array(vec![
                    "edge".into(),
                    region.into(),
                    self.pick(&["hot", "warm", "cold"]).into(),
                ]),
            );
            let kind = match method {
                "GET" => "GetServed",
                "DELETE" => "DeleteServed",
                _ => "PutServed",
            };
            let reason = match status {
                200..=304 => "ok",
                403 => "policy.denied",
                404 => "not_found",
                429 => "rate_limited",
                _ => "upstream_error",
            };
            let subject = SubjectRef {
                content_id: Some(format!("b3:{}", self.hex(32))),
                ledger_txid: None,
                name: Some(path),
            };
            ("gateway", kind, reason, subject)
        } else if roll < 80 {
            put("policy_id", format!("pol-{}", self.below(64)).into());
            put("version_from", self.below(1000).into());
            put("version_to", (1000 + self.below(1000)).into());
            put("diff_b3", format!("b3:{}", self.hex(32)).into());
            put(
                "approved_by",
                AttrValue::Array(vec![
                    format!("u:{}", self.hex(6)).into(),
                    format!("u:{}", self.hex(6)).into(),
                ]),
            );
            put(
                "change_ticket",
                format!("CHG-{}", 10_000 + self.below(90_000)).into(),
            );
            put(
                "comment",
                "tighten egress rules for partner tenants after quarterly review".into(),
            );
            let subject = SubjectRef {
                content_id: None,
                ledger_txid: Some(format!("tx:{}", self.hex(12))),
                name: Some(format!("policy/{tenant}")),
            };
            ("policy", "PolicyChanged", "change.approved", subject)
        } else if roll < 92 {
            put("queue", self.pick(&["work", "ingest", "export"]).into());
            put("limit_rps", self.pick(&[100u64, 500, 1000]).into());
            put("observed_rps", (1000 + self.below(5000)).into());
            put("window_ms", 1000u64.into());
            put("retry_after_ms", self.below(30_000).into());
            put("plan", self.pick(&["free", "team", "enterprise"]).into());
            let subject = SubjectRef {
                content_id: None,
                ledger_txid: None,
                name: Some(format!("quota/{tenant}")),
            };
            ("quota", "QuotaReject", "audit_backpressure", subject)
        } else {
            let ok = self.below(4) != 0;
            put("method", self.pick(&["passkey", "oidc", "mtls"]).into());
            put("attempt", (1 + self.below(5)).into());
            put("mfa", ok.into());
            put("session_ttl_s", 3600u64.into());
            put("device", format!("dev-{}", self.hex(6)).into());
            let subject = SubjectRef {
                content_id: None,
                ledger_txid: None,
                name: Some(format!("account/{tenant}")),
            };
            (
                "auth",
                if ok { "LoginSucceeded" } else { "LoginFailed" },
                if ok { "ok" } else { "auth.bad_credentials" },
                subject,
            )
        };
        Event {
            stream,
            kind,
            actor,
            subject,
            reason,
            attrs,
            ts_ms: self.ts_ms,
        }
    }
}
