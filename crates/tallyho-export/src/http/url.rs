//! The one URL check and the one redaction: no message shows `user:password@`.

use crate::BuildError;

/// The URL without `user:password@`, for messages and `Debug`. Works on any string, even
/// one that does not parse.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Checks that `url` is one this build can send to: `http[s]://host[:port][/path]`, so a
/// bad scheme fails when the exporter is built, never at the first push. Credentials in the URL (`user:password@`) are allowed
/// and sent as basic auth; they never appear in the error.
pub(crate) fn check_url(url: &str) -> Result<(), BuildError> {
    let invalid = |reason: String| BuildError::InvalidUrl {
        url: redact(url),
        reason,
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace or control characters".into()));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid("not a URL (expected http://host:port/path)".into()));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(invalid(format!(
            "scheme {:?} is not supported (expected http or https)",
            redact(scheme)
        )));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid("no host".into()));
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(format!("does not parse: {e}")))?;
    if parsed.host_str().map_or(true, str::is_empty) {
        return Err(invalid("no host".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_userinfo_only() {
        assert_eq!(redact("http://u:p@h:1/x@y"), "http://h:1/x@y");
        assert_eq!(redact("http://h:1/x"), "http://h:1/x");
        assert_eq!(redact("no scheme"), "no scheme");
    }

    #[test]
    fn checks_and_messages() {
        assert!(check_url("http://127.0.0.1:4318/v1/metrics").is_ok());
        assert!(check_url("http://u:secret@127.0.0.1:1/").is_ok());
        assert!(check_url("https://u:secret@collector.example/v1/metrics").is_ok());
        assert!(check_url("HTTPS://h:443/").is_ok());
        for (bad, why) in [
            ("ftp://u:secret@h/", "scheme \"ftp\""),
            ("127.0.0.1:4318", "not a URL"),
            ("http:///x", "no host"),
            ("http://u:secret@h:99999/", "does not parse"),
            ("http://h/ x", "whitespace"),
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
    }
}
