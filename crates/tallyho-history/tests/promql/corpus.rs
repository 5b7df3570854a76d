//! The query corpus (`queries.promql`): one templated query per line, in the spirit of the
//! PromQL compliance tester's test queries.
//!
//! - `# ...` and blank lines are ignored.
//! - `@name = a | b | c` defines a variable; `{{name}}` in a later query expands to each value
//!   (every combination when a query uses several variables).
//! - A query starting with `! ` must fail on both sides (a malformed or invalid query).

/// One expanded query.
#[derive(Debug, Clone)]
pub struct Case {
    /// The template it came from, with its line number (`12: rate(x[{{range}}])`).
    pub template: String,
    /// The query to run.
    pub query: String,
    /// Prometheus must refuse it.
    pub must_fail: bool,
}

/// The corpus shipped with the test.
pub const CORPUS: &str = include_str!("queries.promql");

/// Expands a corpus text into cases, with variables `predefined` by the harness (times
/// that depend on the dataset's base).
///
/// # Errors
/// A message naming the line of a malformed definition or an undefined variable.
pub fn parse(text: &str, predefined: &[(&str, Vec<String>)]) -> Result<Vec<Case>, String> {
    let mut vars: Vec<(String, Vec<String>)> = predefined
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(def) = line.strip_prefix('@') {
            let (name, values) = def
                .split_once('=')
                .ok_or(format!("line {n}: `@name = a | b` expected"))?;
            let values: Vec<String> = values.split(" | ").map(|v| v.trim().to_string()).collect();
            if values.iter().any(String::is_empty) {
                return Err(format!("line {n}: empty value in {line:?}"));
            }
            vars.retain(|(k, _)| k != name.trim());
            vars.push((name.trim().to_string(), values));
            continue;
        }
        let (must_fail, template) = match line.strip_prefix("! ") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        for query in expand(template, &vars).map_err(|e| format!("line {n}: {e}"))? {
            out.push(Case {
                template: format!("{n}: {line}"),
                query,
                must_fail,
            });
        }
    }
    Ok(out)
}

/// Every expansion of the `{{name}}` placeholders in `template`.
fn expand(template: &str, vars: &[(String, Vec<String>)]) -> Result<Vec<String>, String> {
    let Some(open) = template.find("{{") else {
        return Ok(vec![template.to_string()]);
    };
    let close = template[open..].find("}}").ok_or("unclosed `{{`")? + open;
    let name = &template[open + 2..close];
    let (_, values) = vars
        .iter()
        .find(|(k, _)| k == name)
        .ok_or(format!("variable {name:?} is not defined"))?;
    let mut out = Vec::new();
    for v in values {
        // Every occurrence of the same variable takes the same value.
        let one = template.replace(&format!("{{{{{name}}}}}"), v);
        out.extend(expand(&one, vars)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_to_every_combination() {
        let cases = parse(
            "@a = x | y\nf({{a}}, {{b}}, {{a}})\n! bad(",
            &[("b", vec!["1".into(), "2".into(), "3".into()])],
        )
        .unwrap();
        let queries: Vec<&str> = cases.iter().map(|c| c.query.as_str()).collect();
        assert_eq!(queries.len(), 7);
        assert!(queries.contains(&"f(x, 1, x)") && queries.contains(&"f(y, 3, y)"));
        assert!(cases[6].must_fail && !cases[0].must_fail);
        assert!(parse("f({{nope}})", &[]).unwrap_err().contains("nope"));
    }
}
