//! Who may read the endpoint: nobody checked (the default), HTTP basic, or a bearer token.

use base64::Engine;
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// Credentials the endpoint requires.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// HTTP basic authentication with this user and password.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { user, .. } => {
                write!(f, "Auth::Basic {{ user: {user:?}, password: <hidden> }}")
            }
            Auth::Bearer { .. } => f.write_str("Auth::Bearer { token: <hidden> }"),
        }
    }
}

/// Environment variable holding `user:password` for basic authentication.
pub const ENV_BASIC: &str = "TALLYHO_METRICS_BASIC_AUTH";
/// Environment variable holding a bearer token.
pub const ENV_BEARER: &str = "TALLYHO_METRICS_BEARER_TOKEN";

impl Auth {
    /// Basic authentication.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Basic {
            user: user.into(),
            password: password.into(),
        }
    }

    /// Bearer-token authentication.
    pub fn bearer(token: impl Into<String>) -> Self {
        Auth::Bearer {
            token: token.into(),
        }
    }

    /// Credentials from the environment: [`ENV_BEARER`] (a token) or [`ENV_BASIC`]
    /// (`user:password`); [`Auth::None`] when neither is set.
    ///
    /// # Errors
    /// A message naming the variable when [`ENV_BASIC`] has no `:`, an empty user or an
    /// empty password (refused as in a configuration file), or
    /// when both variables are set.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(&|k: &str| std::env::var(k).ok())
    }

    /// As [`from_env`](Self::from_env), with each variable looked up by `env` (a
    /// program's environment layer, or a test's map) instead of in the process
    /// environment. Empty values count as unset.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let basic = env(ENV_BASIC).filter(|v| !v.is_empty());
        let bearer = env(ENV_BEARER).filter(|v| !v.is_empty());
        match (basic, bearer) {
            (Some(_), Some(_)) => Err(format!("set only one of {ENV_BASIC} and {ENV_BEARER}")),
            (None, Some(token)) => Ok(Auth::bearer(token)),
            (Some(pair), None) => match pair.split_once(':') {
                Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                    Ok(Auth::basic(user, password))
                }
                _ => Err(format!(
                    "{ENV_BASIC} must be \"user:password\" with a non-empty user and password"
                )),
            },
            (None, None) => Ok(Auth::None),
        }
    }

    /// Whether the request's `Authorization` header satisfies these credentials. Secrets are
    /// compared in constant time.
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match self {
            Auth::None => true,
            Auth::Bearer { token } => match strip_scheme(given, "Bearer") {
                Some(t) => bool::from(t.trim().as_bytes().ct_eq(token.as_bytes())),
                None => false,
            },
            Auth::Basic { user, password } => {
                let Some(encoded) = strip_scheme(given, "Basic") else {
                    return false;
                };
                let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
                else {
                    return false;
                };
                let expected = format!("{user}:{password}");
                bool::from(decoded.as_slice().ct_eq(expected.as_bytes()))
            }
        }
    }

    /// The `Authorization` header value a client sends to satisfy these credentials
    /// (`None` for [`Auth::None`]).
    pub fn authorization(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Bearer { token } => Some(format!("Bearer {token}")),
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
        }
    }

    /// The `WWW-Authenticate` challenge for a refused request.
    pub(crate) fn challenge(&self) -> &'static str {
        match self {
            Auth::Bearer { .. } => "Bearer realm=\"metrics\"",
            _ => "Basic realm=\"metrics\", charset=\"UTF-8\"",
        }
    }
}

/// `value` without its auth scheme (compared case-insensitively), or `None`.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn basic_and_bearer() {
        let b = Auth::basic("prom", "s3cret:with colon");
        let good = base64::engine::general_purpose::STANDARD.encode("prom:s3cret:with colon");
        assert!(b.allows(&headers(&format!("Basic {good}"))));
        assert!(b.allows(&headers(&format!("basic {good}"))));
        let bad = base64::engine::general_purpose::STANDARD.encode("prom:wrong");
        assert!(!b.allows(&headers(&format!("Basic {bad}"))));
        assert!(!b.allows(&headers("Basic !!!not-base64")));
        assert!(!b.allows(&HeaderMap::new()));
        let t = Auth::bearer("tok");
        assert!(t.allows(&headers("Bearer tok")));
        assert!(!t.allows(&headers("Bearer tok2")));
        assert!(!t.allows(&headers(&format!("Basic {good}"))));
        assert!(Auth::None.allows(&HeaderMap::new()));
        for auth in [b.clone(), t.clone()] {
            assert!(auth.allows(&headers(&auth.authorization().unwrap())));
        }
        assert_eq!(Auth::None.authorization(), None);
        assert!(!format!("{b:?}{t:?}").contains("s3cret"));
    }
}
