//! The one header check, and the helpers that build header lists.

use base64::Engine as _;

use crate::BuildError;

/// Checks that a header name is an HTTP token and its value holds no control characters
/// other than tab. The value never appears in the error.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), BuildError> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let invalid = |reason: &str| BuildError::InvalidHeader {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(invalid("the name is not an HTTP token"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(invalid("the value holds control characters"));
    }
    Ok(())
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_auth_value(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// Sets `key` to `value`, in place when present (names compared ignoring ASCII case when
/// `fold_case`), else at the end.
pub(crate) fn upsert(
    pairs: &mut Vec<(String, String)>,
    key: String,
    value: String,
    fold_case: bool,
) {
    let same = |k: &str| {
        if fold_case {
            k.eq_ignore_ascii_case(&key)
        } else {
            k == key
        }
    };
    match pairs.iter_mut().find(|(k, _)| same(k)) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

/// The names of a header list (values often hold credentials).
pub(crate) fn names(headers: &[(String, String)]) -> Vec<&str> {
    headers.iter().map(|(k, _)| k.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_name_the_header_not_the_value() {
        assert!(check_header("X-Key", "a\tb").is_ok());
        let e = check_header("X Key", "secret").unwrap_err().to_string();
        assert!(e.contains("\"X Key\"") && !e.contains("secret"), "{e}");
        let e = check_header("X-Key", "sec\nret").unwrap_err().to_string();
        assert!(e.contains("control") && !e.contains("sec"), "{e}");
        assert_eq!(basic_auth_value("u", "p"), "Basic dTpw");
    }
}
