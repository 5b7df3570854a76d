//! Errors: a rule file that cannot be read or is invalid, with every problem's position.

use std::fmt;

/// One problem in a rule file, at a line and column when the YAML says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub col: Option<usize>,
    /// What is wrong, naming the group, rule and field as promtool does.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: {}", self.message),
            (Some(l), None) => write!(f, "line {l}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// What went wrong loading or running rules.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The file could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The path as given.
        file: String,
        /// The operating system's reason.
        message: String,
    },
    /// The file was read and is not a valid rule file; every problem found is listed.
    #[error("{}", invalid_text(file, problems))]
    Invalid {
        /// The path as given.
        file: String,
        /// The problems, in file order.
        problems: Vec<Problem>,
    },
    /// A setting of the rule manager or a notifier is unusable.
    #[error("{0}")]
    Config(String),
}

fn invalid_text(file: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{file}: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl RulesError {
    /// The problems of an invalid file (empty for other errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            RulesError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}
