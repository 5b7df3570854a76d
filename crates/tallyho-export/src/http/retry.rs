//! Which HTTP statuses are worth retrying, declared per protocol as data.

/// The statuses a protocol's specification says a sender retries. Transport failures
/// (refused connections, resets, timeouts) are retryable for every protocol; any other
/// status outside 2xx is permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryRule {
    /// Every 5xx status is retryable.
    pub every_5xx: bool,
    /// Further statuses that are retryable.
    pub statuses: &'static [u16],
}

impl RetryRule {
    /// OTLP/HTTP, per the OpenTelemetry protocol specification (`otlp.md`, "OTLP/HTTP
    /// Response", "Retryable Response Codes"): only 429, 502, 503 and 504 are retryable;
    /// every other 4xx and 5xx MUST NOT be retried.
    pub const OTLP: RetryRule = RetryRule {
        every_5xx: false,
        statuses: &[429, 502, 503, 504],
    };

    /// Prometheus remote write 1.0, per its specification ("Retries & Backoff"): senders
    /// MUST retry on 5xx, MUST NOT retry on 2xx and 4xx other than 429, and MAY retry on
    /// 429 (done here, as Prometheus itself does with `retry_on_http_429`).
    pub const REMOTE_WRITE: RetryRule = RetryRule {
        every_5xx: true,
        statuses: &[429],
    };

    /// The Pushgateway has no specification of its own on retries; it is a Prometheus
    /// component answering pushes much as a remote write receiver does (5xx when it cannot
    /// persist, 4xx for a push it refuses), so it follows [`REMOTE_WRITE`](Self::REMOTE_WRITE).
    pub const PUSHGATEWAY: RetryRule = RetryRule::REMOTE_WRITE;

    /// Whether a status other than 2xx is worth another attempt.
    pub fn is_retryable(self, status: u16) -> bool {
        (self.every_5xx && (500..600).contains(&status)) || self.statuses.contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::RetryRule;

    #[test]
    fn each_protocol_follows_its_spec() {
        let otlp: Vec<u16> = (400..600)
            .filter(|s| RetryRule::OTLP.is_retryable(*s))
            .collect();
        assert_eq!(otlp, [429, 502, 503, 504]);
        let rw: Vec<u16> = (400..600)
            .filter(|s| RetryRule::REMOTE_WRITE.is_retryable(*s))
            .collect();
        assert_eq!(rw.len(), 101);
        assert!(rw.contains(&429) && rw.contains(&500) && rw.contains(&599));
        assert!(!RetryRule::REMOTE_WRITE.is_retryable(400));
        assert!(!RetryRule::OTLP.is_retryable(500));
        assert_eq!(RetryRule::PUSHGATEWAY, RetryRule::REMOTE_WRITE);
    }
}
