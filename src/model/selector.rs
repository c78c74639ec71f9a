//! `Selector`: a task name with an optional choice of its matrix items, `name[key=value,...]`,
//! as written in `depends_on` and in command-line targets; parsing it and matching items
//! against it. It knows neither YAML nor templates: a templated value is kept as text for
//! validation to evaluate.

use super::Value;

/// One condition of a selector, between the brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// `key=value`: items whose `key` has this text (as task names write it: `py=3.10`).
    Equals {
        /// The matrix key.
        key: String,
        /// The value's text.
        value: String,
    },
    /// `key=${{ ... }}`: a value computed for each item of the depending task.
    Template {
        /// The matrix key.
        key: String,
        /// The template's text, `${{ }}` included.
        text: String,
    },
    /// `key`: the same value as the depending item's `key`.
    Same(String),
    /// `..`: every key both matrices have takes the depending item's value.
    Shared,
}

/// A task name and what it selects of the task's matrix items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The task's name as written.
    pub name: String,
    /// The conditions; `None` without brackets (every item).
    pub picks: Option<Vec<Pick>>,
}

/// Why a selector cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A `[` without its `]` at the end, or text after it.
    #[error("an unclosed `[` or text after its `]`")]
    Unclosed(String),
    /// `name[]` or an empty condition between commas.
    #[error("an empty condition between `[`, `,` and `]`")]
    Empty(String),
    /// A key that is not a name.
    #[error("`{key}` is not a matrix key")]
    BadKey {
        /// The selector.
        text: String,
        /// The key.
        key: String,
    },
}

impl Selector {
    /// Reads `name` or `name[pick,...]`.
    ///
    /// # Errors
    /// Why the text is not a selector.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let Some(open) = text.find('[') else {
            return Ok(Self {
                name: text.to_owned(),
                picks: None,
            });
        };
        let inside = text[open + 1..]
            .strip_suffix(']')
            .ok_or_else(|| SelectorError::Unclosed(text.to_owned()))?;
        let mut picks = Vec::new();
        for part in split_top_level(inside) {
            let part = part.trim();
            if part.is_empty() {
                return Err(SelectorError::Empty(text.to_owned()));
            }
            if part == ".." {
                picks.push(Pick::Shared);
                continue;
            }
            let (key, value) = match part.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim())),
                None => (part, None),
            };
            if !is_key(key) {
                return Err(SelectorError::BadKey {
                    text: text.to_owned(),
                    key: key.to_owned(),
                });
            }
            picks.push(match value {
                None => Pick::Same(key.to_owned()),
                Some(value) if value.contains("${{") => Pick::Template {
                    key: key.to_owned(),
                    text: value.to_owned(),
                },
                Some(value) => Pick::Equals {
                    key: key.to_owned(),
                    value: value.to_owned(),
                },
            });
        }
        Ok(Self {
            name: text[..open].trim().to_owned(),
            picks: Some(picks),
        })
    }

    /// Whether every condition is `key=value`: it selects the same items for everyone.
    #[must_use]
    pub fn is_static(&self) -> bool {
        self.picks
            .iter()
            .flatten()
            .all(|pick| matches!(pick, Pick::Equals { .. }))
    }
}

/// Whether an item (its matrix values) has `value` (as text) at `key`.
#[must_use]
pub fn item_has(item: &[(String, Value)], key: &str, value: &str) -> bool {
    item.iter()
        .any(|(name, own)| name == key && value_text_is(own, value))
}

/// Whether `value` prints as `text` (numbers as written).
fn value_text_is(value: &Value, text: &str) -> bool {
    match value {
        Value::String(own) => own == text,
        other => other.to_string() == text,
    }
}

/// Whether an item matches every `(key, value)` of `wanted` (values as text).
#[must_use]
pub fn item_matches(item: &[(String, Value)], wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|(key, value)| item_has(item, key, value))
}

/// The parts of `inside` between commas that stand outside `${{ }}`.
fn split_top_level(inside: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let bytes = inside.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if inside[at..].starts_with("${{") {
            depth += 1;
            at += 3;
            continue;
        }
        if depth > 0 && inside[at..].starts_with("}}") {
            depth -= 1;
            at += 2;
            continue;
        }
        if depth == 0 && bytes[at] == b',' {
            parts.push(&inside[start..at]);
            start = at + 1;
        }
        at += 1;
    }
    parts.push(&inside[start..]);
    parts
}

/// Letters, digits and `_`, not starting with a digit.
fn is_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equals(key: &str, value: &str) -> Pick {
        Pick::Equals {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn selectors_read_every_form() {
        let cases: &[(&str, Option<Vec<Pick>>)] = &[
            ("build", None),
            ("test[os=linux]", Some(vec![equals("os", "linux")])),
            (
                "test[os=linux, py=3.10]",
                Some(vec![equals("os", "linux"), equals("py", "3.10")]),
            ),
            ("sort[sample]", Some(vec![Pick::Same("sample".into())])),
            ("sort[..]", Some(vec![Pick::Shared])),
            (
                "map[sample=${{ matrix.s + \",\" }},lane=1]",
                Some(vec![
                    Pick::Template {
                        key: "sample".into(),
                        text: "${{ matrix.s + \",\" }}".into(),
                    },
                    equals("lane", "1"),
                ]),
            ),
        ];
        for (text, picks) in cases {
            let selector = Selector::parse(text).expect(text);
            assert_eq!(&selector.picks, picks, "{text}");
        }
        assert_eq!(Selector::parse("sort[..]").expect("valid").name, "sort");
    }

    #[test]
    fn malformed_selectors_say_why() {
        assert!(matches!(
            Selector::parse("map[sample=A"),
            Err(SelectorError::Unclosed(_))
        ));
        assert!(matches!(
            Selector::parse("map[]"),
            Err(SelectorError::Empty(_))
        ));
        assert!(matches!(
            Selector::parse("map[a=1,,b=2]"),
            Err(SelectorError::Empty(_))
        ));
        assert!(matches!(
            Selector::parse("map[9x=1]"),
            Err(SelectorError::BadKey { .. })
        ));
    }

    #[test]
    fn items_match_by_the_text_of_their_values() {
        let item = vec![
            ("os".to_owned(), Value::String("linux".into())),
            (
                "py".to_owned(),
                Value::number(super::super::Number::Float(3.1), "3.10"),
            ),
            ("n".to_owned(), Value::Integer(2)),
        ];
        assert!(item_has(&item, "py", "3.10"));
        assert!(!item_has(&item, "py", "3.1"));
        assert!(item_has(&item, "n", "2"));
        assert!(item_matches(
            &item,
            &[("os".into(), "linux".into()), ("n".into(), "2".into())]
        ));
        assert!(!item_matches(&item, &[("os".into(), "mac".into())]));
        assert!(!item_matches(&item, &[("arch".into(), "x86".into())]));
    }
}
