//! What the agent does with a line's tags and name before recording it: an allow-list of
//! tag keys (others dropped, or the line refused), a cap on tag value length (longer ones
//! cut at a character boundary), and a name prefix. Each change is counted.

use std::collections::BTreeSet;

use super::names::sanitize_tag_key;

/// The tag and name rules of one [`Ingest`](super::Ingest); the default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagPolicy {
    /// Tag keys kept (in their label form, after sanitising); `None` keeps every key.
    pub allowed: Option<BTreeSet<String>>,
    /// With `allowed`: refuse a line that has another key (`tag_not_allowed`) instead of
    /// dropping that tag.
    pub refuse_others: bool,
    /// Longest tag value kept, in bytes (`0`: no cap); longer ones are cut.
    pub max_value_len: usize,
    /// Put before every name, with a `.` (so `app` makes `app_<name>`); empty for none.
    pub prefix: String,
}

/// What applying the policy did to one line's tags.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Applied {
    pub(super) dropped: bool,
    pub(super) cut: bool,
}

impl TagPolicy {
    /// Filters and cuts `tags` in place; `Err(())` when the line must be refused.
    pub(super) fn apply<'a>(&self, tags: &mut Vec<(&'a str, &'a str)>) -> Result<Applied, ()> {
        let mut applied = Applied::default();
        if let Some(allowed) = &self.allowed {
            let keep = |k: &str| allowed.contains(&sanitize_tag_key(k).name);
            if self.refuse_others && tags.iter().any(|(k, _)| !keep(k)) {
                return Err(());
            }
            let before = tags.len();
            tags.retain(|(k, _)| keep(k));
            applied.dropped = tags.len() != before;
        }
        if self.max_value_len > 0 {
            for (_, v) in tags.iter_mut() {
                if v.len() > self.max_value_len {
                    let mut end = self.max_value_len;
                    while !v.is_char_boundary(end) {
                        end -= 1;
                    }
                    *v = &v[..end];
                    applied.cut = true;
                }
            }
        }
        Ok(applied)
    }

    /// `name` with the prefix.
    pub(super) fn name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_drops_or_refuses_and_values_are_cut_on_a_char_boundary() {
        let p = TagPolicy {
            allowed: Some(["env".to_owned(), "http_route".to_owned()].into()),
            refuse_others: false,
            max_value_len: 4,
            prefix: "app".into(),
        };
        let mut tags = vec![
            ("env", "production"),
            ("http.route", "/a"),
            ("user", "u1"),
            ("env2", "é€é"),
        ];
        let a = p.apply(&mut tags).unwrap();
        assert_eq!(tags, [("env", "prod"), ("http.route", "/a")]);
        assert_eq!(
            a,
            Applied {
                dropped: true,
                cut: true
            }
        );
        let mut multibyte = vec![("env", "é€é")];
        p.apply(&mut multibyte).unwrap();
        assert_eq!(
            multibyte,
            [("env", "é")],
            "2 bytes of é, then € would pass the cap"
        );
        let strict = TagPolicy {
            refuse_others: true,
            ..p.clone()
        };
        assert!(strict.apply(&mut vec![("user", "x")]).is_err());
        assert_eq!(p.name("req.count"), "app.req.count");
        let none = TagPolicy::default();
        let mut tags = vec![("anything", "a very long value")];
        assert_eq!(none.apply(&mut tags).unwrap(), Applied::default());
        assert_eq!(none.name("x"), "x");
    }
}
