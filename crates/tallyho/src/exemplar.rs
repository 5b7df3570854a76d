//! Exemplars: one recorded event kept beside a counter or a histogram bucket, with the
//! trace and span it happened in, so that a chart's spike leads to a trace.
//!
//! Storage is one slot per counter and one per histogram bucket, made on the first
//! exemplar (instruments that never get one pay nothing but an empty pointer). Each slot
//! is a sequence lock over plain atomics: a writer that finds the slot busy (another
//! writer is mid-store) skips its exemplar rather than wait, so recording never blocks;
//! a reader retries a few times and otherwise reports none. The latest exemplar wins, as
//! in client_golang and the OpenTelemetry SDK's simple reservoir.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A W3C trace context: the trace and span an exemplar was recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

impl TraceContext {
    /// A context from its 16-byte trace id and 8-byte span id; `None` when either is all
    /// zeros, which W3C Trace Context calls invalid.
    pub fn new(trace_id: [u8; 16], span_id: [u8; 8]) -> Option<Self> {
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(TraceContext { trace_id, span_id })
    }

    /// A context from the lowercase or uppercase hex forms (32 and 16 digits), as
    /// `traceparent` headers and logs carry them.
    ///
    /// # Errors
    /// [`Error::Exemplar`](crate::Error::Exemplar) naming the id that is not of the right
    /// length, not hex, or all zeros.
    pub fn from_hex(trace_id: &str, span_id: &str) -> Result<Self, crate::Error> {
        let trace = parse_hex::<16>(trace_id).ok_or_else(|| {
            crate::Error::Exemplar(format!("trace id {trace_id:?} is not 32 hex digits"))
        })?;
        let span = parse_hex::<8>(span_id).ok_or_else(|| {
            crate::Error::Exemplar(format!("span id {span_id:?} is not 16 hex digits"))
        })?;
        TraceContext::new(trace, span).ok_or_else(|| {
            crate::Error::Exemplar("a trace or span id of all zeros is invalid".into())
        })
    }

    /// The trace id's 16 bytes.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The span id's 8 bytes.
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// The span the current OpenTelemetry context holds, when it is a valid one (feature
    /// `opentelemetry`); a `tracing` span reaches it through `tracing-opentelemetry`'s
    /// context.
    #[cfg(feature = "opentelemetry")]
    pub fn current() -> Option<Self> {
        use opentelemetry::trace::TraceContextExt;
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        TraceContext::new(sc.trace_id().to_bytes(), sc.span_id().to_bytes())
    }
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// One recorded event: the value observed (or the increment), when, and in which span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// The trace and span.
    pub trace: TraceContext,
    /// The observation, or the counter's increment.
    pub value: f64,
    /// When it was recorded.
    pub time: SystemTime,
}

/// One exemplar's storage: a sequence word (odd while a writer is storing) and the fields.
#[derive(Default)]
pub(crate) struct Slot {
    seq: AtomicU64,
    trace: [AtomicU64; 2],
    span: AtomicU64,
    value: AtomicU64,
    nanos: AtomicU64,
}

impl Slot {
    /// Stores `ex` unless another writer is storing right now (then `ex` is dropped).
    pub(crate) fn store(&self, ex: &Exemplar) {
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 1
            || self
                .seq
                .compare_exchange(s, s + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // The odd sequence is visible before any field changes.
        fence(Ordering::Release);
        let [hi, lo] = [&ex.trace.trace_id[..8], &ex.trace.trace_id[8..]]
            .map(|h| u64::from_be_bytes(h.try_into().unwrap_or([0; 8])));
        self.trace[0].store(hi, Ordering::Relaxed);
        self.trace[1].store(lo, Ordering::Relaxed);
        self.span
            .store(u64::from_be_bytes(ex.trace.span_id), Ordering::Relaxed);
        self.value.store(ex.value.to_bits(), Ordering::Relaxed);
        let nanos = ex
            .time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.nanos.store(nanos, Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
    }

    /// The stored exemplar: `None` when there never was one, or when writers kept the
    /// slot busy through every retry.
    pub(crate) fn load(&self) -> Option<Exemplar> {
        for _ in 0..16 {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 == 0 {
                return None;
            }
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let hi = self.trace[0].load(Ordering::Relaxed);
            let lo = self.trace[1].load(Ordering::Relaxed);
            let span = self.span.load(Ordering::Relaxed);
            let value = self.value.load(Ordering::Relaxed);
            let nanos = self.nanos.load(Ordering::Relaxed);
            // The fields are read before the sequence is checked again.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&hi.to_be_bytes());
            trace_id[8..].copy_from_slice(&lo.to_be_bytes());
            return Some(Exemplar {
                trace: TraceContext {
                    trace_id,
                    span_id: span.to_be_bytes(),
                },
                value: f64::from_bits(value),
                time: UNIX_EPOCH + Duration::from_nanos(nanos),
            });
        }
        None
    }
}

/// The exemplar slots of one instrument (one per histogram bucket, or one for a counter),
/// made on the first exemplar.
#[derive(Default)]
pub(crate) struct Slots(OnceLock<Box<[Slot]>>);

impl Slots {
    /// Keeps `ex` in slot `i` of `n`.
    #[inline]
    pub(crate) fn record(&self, n: usize, i: usize, ex: &Exemplar) {
        let slots = self
            .0
            .get_or_init(|| (0..n).map(|_| Slot::default()).collect());
        if let Some(slot) = slots.get(i) {
            slot.store(ex);
        }
    }

    /// Whether any exemplar was ever recorded.
    pub(crate) fn any(&self) -> bool {
        self.0.get().is_some()
    }

    /// The exemplars, slot by slot; empty when none was ever recorded.
    pub(crate) fn read(&self) -> Vec<Option<Exemplar>> {
        self.0
            .get()
            .map_or_else(Vec::new, |s| s.iter().map(Slot::load).collect())
    }
}

/// An exemplar recorded now.
#[inline]
pub(crate) fn now(trace: TraceContext, value: f64) -> Exemplar {
    Exemplar {
        trace,
        value,
        time: SystemTime::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ctx(n: u8) -> TraceContext {
        TraceContext::new([n; 16], [n; 8]).unwrap()
    }

    #[test]
    fn hex_round_trip_and_refusals() {
        let c =
            TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7").unwrap();
        assert_eq!(c.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id_hex(), "00f067aa0ba902b7");
        let upper =
            TraceContext::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7").unwrap();
        assert_eq!(upper, c);
        let e = TraceContext::from_hex("4bf9", "00f067aa0ba902b7").unwrap_err();
        assert!(e.to_string().contains("trace id \"4bf9\""), "{e}");
        let e = TraceContext::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "zzf067aa0ba902b7")
            .unwrap_err();
        assert!(e.to_string().contains("span id"), "{e}");
        assert!(TraceContext::from_hex(&"0".repeat(32), "00f067aa0ba902b7").is_err());
        assert!(TraceContext::new([1; 16], [0; 8]).is_none());
    }

    #[test]
    fn a_slot_keeps_the_latest_exemplar() {
        let s = Slot::default();
        assert_eq!(s.load(), None);
        let t = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let a = Exemplar {
            trace: ctx(1),
            value: 0.5,
            time: t,
        };
        s.store(&a);
        assert_eq!(s.load(), Some(a));
        let b = Exemplar {
            trace: ctx(2),
            value: 7.0,
            time: t,
        };
        s.store(&b);
        assert_eq!(s.load(), Some(b));
    }

    #[test]
    fn concurrent_writers_never_tear_an_exemplar() {
        // Each writer stores a context and value derived from one number: a reader must
        // never see parts of two different stores.
        let s = Arc::new(Slot::default());
        s.store(&Exemplar {
            trace: ctx(1),
            value: 1.0,
            time: UNIX_EPOCH + Duration::from_secs(1),
        });
        let writers: Vec<_> = (1..=2u8)
            .map(|w| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u32 {
                        let n = ((i % 100) as u8).wrapping_mul(w) | 1;
                        s.store(&Exemplar {
                            trace: ctx(n),
                            value: f64::from(n),
                            time: UNIX_EPOCH + Duration::from_secs(u64::from(n)),
                        });
                    }
                })
            })
            .collect();
        let mut seen = 0;
        while seen < 20_000 && !writers.iter().all(|w| w.is_finished()) {
            if let Some(e) = s.load() {
                let n = e.trace.trace_id[0];
                assert_eq!(e.trace, ctx(n));
                assert_eq!(e.value, f64::from(n));
                assert_eq!(e.time, UNIX_EPOCH + Duration::from_secs(u64::from(n)));
                seen += 1;
            }
        }
        for w in writers {
            w.join().unwrap();
        }
        assert!(s.load().is_some());
    }

    #[test]
    fn slots_are_made_on_the_first_exemplar() {
        let s = Slots::default();
        assert!(!s.any());
        assert!(s.read().is_empty());
        s.record(3, 1, &now(ctx(9), 2.0));
        let r = s.read();
        assert_eq!(r.len(), 3);
        assert!(r[0].is_none() && r[2].is_none());
        assert_eq!(r[1].unwrap().value, 2.0);
        // An index past the end is ignored, not a panic.
        s.record(3, 7, &now(ctx(9), 2.0));
    }
}
