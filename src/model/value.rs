//! `Value`: a variable's or a matrix entry's value.

use std::fmt;

/// The value of a variable (`vars`) or of a matrix key: text, a number, a boolean, or a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    String(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A list of values.
    List(Vec<Value>),
    /// A number written otherwise than it prints (`3.10`, `1_000`, `0x10`, `+1`, `1e3`): the
    /// number in arithmetic and comparisons, the text as written wherever it becomes text
    /// (task names, templates, `engine plan`).
    Written(Number, Box<str>),
}

/// The number of a [`Value::Written`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
}

impl Number {
    /// The number as a value of its own.
    #[must_use]
    pub fn value(self) -> Value {
        match self {
            Self::Integer(number) => Value::Integer(number),
            Self::Float(number) => Value::Float(number),
        }
    }
}

impl Value {
    /// `number`, remembering `text` (how it was written) when the number prints otherwise.
    #[must_use]
    pub fn number(number: Number, text: &str) -> Self {
        let value = number.value();
        let text = text.trim();
        if text.is_empty() || value.to_string() == text {
            value
        } else {
            Self::Written(number, text.into())
        }
    }

    /// The text of a number written otherwise than it prints (`3.10`), if this is one.
    #[must_use]
    pub fn written(&self) -> Option<&str> {
        match self {
            Self::Written(_, text) => Some(text),
            _ => None,
        }
    }

    /// How the value may be misread, for a note of `engine check`: a number written
    /// otherwise than it prints (`3.10` is the number 3.1), or a word that YAML 1.1 read as a
    /// boolean and YAML 1.2 reads as text (`yes`). `place` names it, like `vars.python`.
    #[must_use]
    pub fn misreading(&self, place: &str) -> Option<String> {
        const OLD_BOOLEANS: &[&str] = &["yes", "no", "on", "off", "y", "n"];
        match self {
            Self::Written(number, text) => Some(format!(
                "`{place}` is the number {} written `{text}`: it is inserted as `{text}`, \
                 but compares and computes as {0}; quote it (`\"{text}\"`) to make it text",
                number.value()
            )),
            Self::String(text)
                if OLD_BOOLEANS
                    .iter()
                    .any(|word| word.eq_ignore_ascii_case(text)) =>
            {
                Some(format!(
                    "`{place}` is the text `{text}`, not a boolean (YAML 1.2): \
                     write `true` or `false` for a boolean"
                ))
            }
            Self::List(values) => values
                .iter()
                .find_map(|value| value.misreading(&format!("{place}[]"))),
            _ => None,
        }
    }

    /// The name of its type, for messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::String(_) => "a string",
            Self::Integer(_) | Self::Written(Number::Integer(_), _) => "a whole number",
            Self::Float(_) | Self::Written(Number::Float(_), _) => "a number",
            Self::Bool(_) => "a boolean",
            Self::List(_) => "a list",
        }
    }

    /// The value as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::String(text) => serde_json::Value::String(text.clone()),
            Self::Integer(number) => serde_json::Value::from(*number),
            Self::Float(number) => serde_json::Value::from(*number),
            Self::Bool(value) => serde_json::Value::Bool(*value),
            Self::List(values) => values.iter().map(Self::to_json).collect(),
            Self::Written(number, _) => number.value().to_json(),
        }
    }

    /// The value in rhai, for templates and scripts.
    pub fn to_dynamic(&self) -> rhai::Dynamic {
        match self {
            Self::String(text) => text.clone().into(),
            Self::Integer(number) => (*number).into(),
            Self::Float(number) => (*number).into(),
            Self::Bool(value) => (*value).into(),
            Self::List(values) => {
                rhai::Dynamic::from_array(values.iter().map(Self::to_dynamic).collect())
            }
            Self::Written(number, _) => number.value().to_dynamic(),
        }
    }
}

impl fmt::Display for Value {
    /// Text as is, numbers as written (`3.10` stays `3.10`), booleans, lists as `[a, b]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(text) => f.write_str(text),
            Self::Integer(number) => write!(f, "{number}"),
            Self::Float(number) => write!(f, "{number}"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Written(_, text) => f.write_str(text),
            Self::List(values) => {
                f.write_str("[")?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str("]")
            }
        }
    }
}
