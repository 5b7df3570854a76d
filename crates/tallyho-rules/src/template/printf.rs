//! Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %f %e %g %x %X %t %%`, with
//! flags `-+ 0`, width and precision. Mismatches print as Go does (`%!d(float64=1.5)`).

use super::exec::Val;
use super::gofmt::{format_e, format_f, format_g};

struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn bad(verb: char, v: &Val) -> String {
    format!("%!{verb}({}={})", v.type_name(), v.print())
}

fn number(verb: char, v: &Val, spec: &Spec) -> Option<String> {
    let f = match v {
        Val::Float(f) => *f,
        Val::Int(i) if matches!(verb, 'd' | 'x' | 'X' | 'v') => {
            return Some(match verb {
                'x' => format!("{i:x}"),
                'X' => format!("{i:X}"),
                _ => i.to_string(),
            })
        }
        _ => return None,
    };
    Some(match verb {
        'f' | 'F' => format_f(f, spec.prec.unwrap_or(6)),
        'e' => format_e(f, spec.prec.unwrap_or(6)),
        'E' => format_e(f, spec.prec.unwrap_or(6)).to_uppercase(),
        'g' | 'v' => format_g(f, spec.prec),
        'G' => format_g(f, spec.prec).to_uppercase(),
        _ => return None,
    })
}

fn one(verb: char, v: &Val, spec: &Spec) -> String {
    let body = match verb {
        'v' => match v {
            Val::Float(_) | Val::Int(_) => number(verb, v, spec).unwrap_or_default(),
            other => other.print(),
        },
        's' => match v {
            Val::Str(s) => match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            Val::Float(_) | Val::Int(_) | Val::Bool(_) | Val::Nil => return bad(verb, v),
            other => other.print(),
        },
        'q' => match v {
            Val::Str(s) => format!("{s:?}"),
            _ => return bad(verb, v),
        },
        't' => match v {
            Val::Bool(b) => b.to_string(),
            _ => return bad(verb, v),
        },
        'x' | 'X' if matches!(v, Val::Str(_)) => {
            let s = v.print();
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            if verb == 'X' {
                hex.to_uppercase()
            } else {
                hex
            }
        }
        _ => match number(verb, v, spec) {
            Some(s) => s,
            None => return bad(verb, v),
        },
    };
    pad(body, spec, matches!(v, Val::Float(_) | Val::Int(_)))
}

fn pad(mut body: String, spec: &Spec, numeric: bool) -> String {
    if numeric && !body.starts_with('-') {
        if spec.plus {
            body.insert(0, '+');
        } else if spec.space {
            body.insert(0, ' ');
        }
    }
    let Some(w) = spec.width else { return body };
    let len = body.chars().count();
    if len >= w {
        return body;
    }
    let fill = w - len;
    if spec.minus {
        body + &" ".repeat(fill)
    } else if spec.zero && numeric && !body.ends_with("Inf") && body != "NaN" {
        let sign = body.starts_with(['-', '+', ' ']);
        let (s, rest) = body.split_at(usize::from(sign));
        format!("{s}{}{rest}", "0".repeat(fill))
    } else {
        " ".repeat(fill) + &body
    }
}

fn digits(chars: &[char], i: &mut usize) -> Option<usize> {
    let start = *i;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    if *i == start {
        return None;
    }
    chars[start..*i]
        .iter()
        .collect::<String>()
        .parse()
        .ok()
        .map(|n: usize| n.min(1 << 16))
}

/// Formats `args` with Go's rules.
pub(crate) fn sprintf(format: &str, args: &[Val]) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec {
            minus: false,
            plus: false,
            space: false,
            zero: false,
            width: None,
            prec: None,
        };
        while i < chars.len() {
            match chars[i] {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => {}
                _ => break,
            }
            i += 1;
        }
        spec.width = digits(&chars, &mut i);
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            spec.prec = Some(digits(&chars, &mut i).unwrap_or(0));
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(v) => out.push_str(&one(verb, v, &spec)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|v| format!("{}={}", v.type_name(), v.print()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let f = Val::Float(2.71234);
        assert_eq!(sprintf("%.2f", std::slice::from_ref(&f)), "2.71");
        assert_eq!(sprintf("%6.1f|", std::slice::from_ref(&f)), "   2.7|");
        assert_eq!(sprintf("%-6.1f|", std::slice::from_ref(&f)), "2.7   |");
        assert_eq!(sprintf("%06.1f", &[Val::Float(-2.72)]), "-002.7");
        assert_eq!(
            sprintf("%v %s", &[f.clone(), Val::Str("x".into())]),
            "2.71234 x"
        );
        assert_eq!(sprintf("%d", &[Val::Int(42)]), "42");
        assert_eq!(sprintf("%d", &[Val::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(sprintf("%s %s", &[Val::Str("a".into())]), "a %!s(MISSING)");
        assert_eq!(
            sprintf("%s", &[Val::Str("a".into()), Val::Int(1)]),
            "a%!(EXTRA int=1)"
        );
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%q", &[Val::Str("a\"b".into())]), "\"a\\\"b\"");
        assert_eq!(sprintf("%.3e", &[Val::Float(123456.0)]), "1.235e+05");
        assert_eq!(sprintf("%g", &[Val::Float(1e6)]), "1e+06");
        assert_eq!(sprintf("%+d", &[Val::Int(5)]), "+5");
        assert_eq!(sprintf("%x", &[Val::Int(255)]), "ff");
    }
}
