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
}

impl Value {
    /// The name of its type, for messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::String(_) => "a string",
            Self::Integer(_) => "a whole number",
            Self::Float(_) => "a number",
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
        }
    }
}

impl fmt::Display for Value {
    /// Text as is, numbers and booleans as written, lists as `[a, b]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(text) => f.write_str(text),
            Self::Integer(number) => write!(f, "{number}"),
            Self::Float(number) => write!(f, "{number}"),
            Self::Bool(value) => write!(f, "{value}"),
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
