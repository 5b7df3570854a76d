//! Checks of single values: URLs, host:port addresses, seconds, and whether a StatsD
//! target would feed the agent's own listener.

/// Checks an exporter or Alertmanager URL: `http://` or `https://` and a host.
pub(super) fn check_url(key: &str, url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !h.contains(char::is_whitespace) && !h.starts_with(':') => {
            Ok(())
        }
        _ => Err(format!(
            "{key} = {url:?}: must be an http:// or https:// URL with a host, like \"http://127.0.0.1:4318\""
        )),
    }
}

/// Checks a `host:port` address (a name, an IPv4 address or a bracketed IPv6 one).
pub(super) fn check_host_port(key: &str, addr: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{key} = {addr:?}: must be host:port, like \"127.0.0.1:8125\" or \"statsd.local:8125\""
        )
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if port_ok && host_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Whether StatsD pushed to `target` would arrive at this agent's listener `listen`.
pub(super) fn feeds_itself(listen: &str, target: &str) -> bool {
    let (Ok(l), Ok(t)) = (
        listen.parse::<std::net::SocketAddr>(),
        target.parse::<std::net::SocketAddr>(),
    ) else {
        return false;
    };
    l.port() == t.port() && (l.ip() == t.ip() || (l.ip().is_unspecified() && t.ip().is_loopback()))
}

/// Checks a number of seconds: finite, positive, at most `max`.
pub(super) fn check_seconds(key: &str, v: f64, min: f64, max: f64) -> Result<(), String> {
    if v.is_finite() && v >= min && v <= max {
        Ok(())
    } else {
        Err(format!(
            "{key} = {v:?}: must be between {min} and {max} seconds"
        ))
    }
}
