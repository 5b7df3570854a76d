//! Attributes (`KeyValue`s) as the label values of an instrument's one family.
//!
//! An instrument's label names are fixed by the first attribute key set it sees (see the
//! crate documentation for why); each later measurement is matched against them here.

use opentelemetry::{KeyValue, Value};

use crate::names;

/// Label sets up to this size are resolved on the stack.
const INLINE: usize = 8;

/// An instrument's attribute keys, in the order of its family's label names.
#[derive(Debug)]
pub(crate) struct Keys {
    /// The attribute keys as recorded (what measurements are compared with).
    keys: Box<[Box<str>]>,
    /// The label names they became.
    labels: Box<[String]>,
}

impl Keys {
    /// The keys of a first measurement: distinct keys in the order given (a repeated key
    /// keeps its first place). Errors name the key that is no label name, or two keys
    /// that become the same label.
    pub(crate) fn of(attributes: &[KeyValue]) -> Result<Keys, String> {
        let mut keys: Vec<Box<str>> = Vec::with_capacity(attributes.len());
        let mut labels: Vec<String> = Vec::with_capacity(attributes.len());
        for kv in attributes {
            let key = kv.key.as_str();
            if keys.iter().any(|k| &**k == key) {
                continue;
            }
            let label = names::label_name(key)?;
            if let Some(i) = labels.iter().position(|l| *l == label) {
                return Err(format!(
                    "attribute keys {:?} and {key:?} both become label {label:?}",
                    keys[i]
                ));
            }
            keys.push(key.into());
            labels.push(label);
        }
        Ok(Keys {
            keys: keys.into(),
            labels: labels.into(),
        })
    }

    /// The label names, for registration.
    pub(crate) fn labels(&self) -> Vec<&str> {
        self.labels.iter().map(String::as_str).collect()
    }

    /// Hands `f` the label values of `attributes`, in label order: a key set that is a
    /// subset of the instrument's leaves the missing labels empty (in the Prometheus data
    /// model an empty label is no label); a repeated key keeps its last value. Returns
    /// the first key the instrument does not have, without calling `f`.
    #[inline]
    pub(crate) fn with_values<'a, R>(
        &self,
        attributes: &'a [KeyValue],
        f: impl FnOnce(&[&str]) -> R,
    ) -> Result<R, &'a str> {
        let n = self.keys.len();
        if let Some(values) = self.same_strings(attributes) {
            return Ok(f(&values[..n]));
        }
        if n <= INLINE {
            let mut text: [Text<'a>; INLINE] = Default::default();
            self.fill(attributes, &mut text[..n])?;
            let values: [&str; INLINE] = std::array::from_fn(|i| text[i].as_str());
            Ok(f(&values[..n]))
        } else {
            let mut text: Vec<Text<'a>> = (0..n).map(|_| Text::default()).collect();
            self.fill(attributes, &mut text)?;
            let values: Vec<&str> = text.iter().map(Text::as_str).collect();
            Ok(f(&values))
        }
    }

    /// The usual case, without building any `Text`: the same call site (the same keys
    /// in the same order), every value a string.
    #[inline]
    fn same_strings<'a>(&self, attributes: &'a [KeyValue]) -> Option<[&'a str; INLINE]> {
        if attributes.len() != self.keys.len() || attributes.len() > INLINE {
            return None;
        }
        let mut values = [""; INLINE];
        for ((slot, kv), key) in values.iter_mut().zip(attributes).zip(self.keys.iter()) {
            match &kv.value {
                Value::String(s) if kv.key.as_str() == &**key => *slot = s.as_str(),
                _ => return None,
            }
        }
        Some(values)
    }

    #[inline]
    fn fill<'a>(&self, attributes: &'a [KeyValue], out: &mut [Text<'a>]) -> Result<(), &'a str> {
        // The usual case: the same call site, so the same keys in the same order.
        if attributes.len() == self.keys.len()
            && attributes
                .iter()
                .zip(self.keys.iter())
                .all(|(kv, k)| kv.key.as_str() == &**k)
        {
            for (slot, kv) in out.iter_mut().zip(attributes) {
                *slot = Text::of(&kv.value);
            }
            return Ok(());
        }
        for kv in attributes {
            let key = kv.key.as_str();
            match self.keys.iter().position(|k| &**k == key) {
                Some(i) => out[i] = Text::of(&kv.value),
                None => return Err(key),
            }
        }
        Ok(())
    }
}

/// An attribute value as label text, without allocating for strings, integers and
/// booleans (floats and arrays take `Value::as_str`'s formatting).
#[derive(Default)]
enum Text<'a> {
    #[default]
    Empty,
    Borrowed(&'a str),
    /// An `i64` in decimal, right-aligned: `buf[start..]`.
    Int {
        buf: [u8; 20],
        start: u8,
    },
    Owned(String),
}

impl<'a> Text<'a> {
    #[inline]
    fn of(value: &'a Value) -> Self {
        match value {
            Value::String(s) => Text::Borrowed(s.as_str()),
            Value::Bool(b) => Text::Borrowed(if *b { "true" } else { "false" }),
            Value::I64(i) => Text::int(*i),
            other => Text::Owned(other.as_str().into_owned()),
        }
    }

    fn int(v: i64) -> Self {
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        let mut n = v.unsigned_abs();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        Text::Int {
            buf,
            start: at as u8,
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        match self {
            Text::Empty => "",
            Text::Borrowed(s) => s,
            // Only ASCII digits and `-` were written.
            Text::Int { buf, start } => std::str::from_utf8(&buf[*start as usize..]).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(keys: &Keys, attrs: &[KeyValue]) -> Result<Vec<String>, String> {
        keys.with_values(attrs, |v| v.iter().map(|s| s.to_string()).collect())
            .map_err(str::to_owned)
    }

    #[test]
    fn same_keys_in_any_order_subsets_and_strangers() {
        let keys = Keys::of(&[KeyValue::new("a.b", "1"), KeyValue::new("c", 2)]).unwrap();
        assert_eq!(keys.labels(), ["a_b", "c"]);
        let same = [KeyValue::new("a.b", "x"), KeyValue::new("c", true)];
        assert_eq!(values(&keys, &same).unwrap(), ["x", "true"]);
        let swapped = [KeyValue::new("c", 1.5), KeyValue::new("a.b", "y")];
        assert_eq!(values(&keys, &swapped).unwrap(), ["y", "1.5"]);
        assert_eq!(
            values(&keys, &[KeyValue::new("c", "z")]).unwrap(),
            ["", "z"]
        );
        let repeated = [KeyValue::new("c", "1"), KeyValue::new("c", "2")];
        assert_eq!(values(&keys, &repeated).unwrap(), ["", "2"]);
        let stranger = [KeyValue::new("a.b", "x"), KeyValue::new("d", "1")];
        assert_eq!(values(&keys, &stranger).unwrap_err(), "d");
    }

    #[test]
    fn integers_are_written_as_value_as_str_writes_them() {
        for v in [0, 7, -1, 200, i64::MAX, i64::MIN, -1_000_000] {
            assert_eq!(Text::int(v).as_str(), Value::I64(v).as_str(), "{v}");
        }
        assert_eq!(Text::of(&Value::Bool(true)).as_str(), "true");
        assert_eq!(Text::of(&Value::F64(1.5)).as_str(), "1.5");
    }

    #[test]
    fn many_keys_take_the_heap_path() {
        let attrs: Vec<KeyValue> = (0..12)
            .map(|i| KeyValue::new(format!("k{i}"), i as i64))
            .collect();
        let keys = Keys::of(&attrs).unwrap();
        let got = values(&keys, &attrs).unwrap();
        assert_eq!(got[11], "11");
        assert_eq!(got.len(), 12);
    }

    #[test]
    fn colliding_and_reserved_keys_are_refused_by_name() {
        let err = Keys::of(&[KeyValue::new("a.b", "1"), KeyValue::new("a_b", "2")]).unwrap_err();
        assert!(err.contains("\"a.b\"") && err.contains("\"a_b\""), "{err}");
        let err = Keys::of(&[KeyValue::new("le", "1")]).unwrap_err();
        assert!(err.contains("\"le\""), "{err}");
    }
}
