//! `Node`: a YAML document as a plain tree with a location on every value. Used only when the
//! typed parse fails, so that every structural problem can be found in one pass.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::location_span;
use crate::diagnostic::{Source, Span};

/// One YAML value and where it is.
#[derive(Debug)]
pub struct Node {
    /// Where the value is in the source.
    pub span: Span,
    /// The value.
    pub value: NodeValue,
}

/// The value of a `Node`.
#[derive(Debug)]
pub enum NodeValue {
    Null,
    Bool,
    Integer,
    Float,
    String(String),
    Sequence(Vec<Node>),
    /// Key/value pairs in file order, duplicates kept.
    Mapping(Vec<(Node, Node)>),
}

impl NodeValue {
    /// A short description of the YAML type for messages: `a list`, `a mapping`, ...
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Null => "nothing (null)",
            Self::Bool => "true/false",
            Self::Integer | Self::Float => "a number",
            Self::String(_) => "a string",
            Self::Sequence(_) => "a list",
            Self::Mapping(_) => "a mapping",
        }
    }
}

/// A `Node` as deserialized, before its location is turned into a byte span.
struct SpannedNode(Spanned<RawNode>);

struct RawNode(RawValue);

enum RawValue {
    Null,
    Bool,
    Integer,
    Float,
    String(String),
    Sequence(Vec<SpannedNode>),
    Mapping(Vec<(SpannedNode, SpannedNode)>),
}

impl<'de> Deserialize<'de> for SpannedNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::<RawNode>::deserialize(deserializer).map(SpannedNode)
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor).map(RawNode)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawValue, E> {
        Ok(RawValue::Integer)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawValue, E> {
        Ok(RawValue::Integer)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<RawValue, E> {
        Ok(RawValue::Integer)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<RawValue, E> {
        Ok(RawValue::Integer)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RawValue, E> {
        Ok(RawValue::String(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<RawValue, E> {
        Ok(RawValue::String(text))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<RawValue, E> {
        Ok(RawValue::String(String::new()))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawValue, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(RawValue::Mapping(entries))
    }
}

impl SpannedNode {
    fn into_node(self, source: &Source) -> Node {
        let span = location_span(source, self.0.referenced);
        let value = match self.0.value.0 {
            RawValue::Null => NodeValue::Null,
            RawValue::Bool => NodeValue::Bool,
            RawValue::Integer => NodeValue::Integer,
            RawValue::Float => NodeValue::Float,
            RawValue::String(text) => NodeValue::String(text),
            RawValue::Sequence(items) => NodeValue::Sequence(
                items
                    .into_iter()
                    .map(|item| item.into_node(source))
                    .collect(),
            ),
            RawValue::Mapping(entries) => NodeValue::Mapping(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.into_node(source), value.into_node(source)))
                    .collect(),
            ),
        };
        Node { span, value }
    }
}

/// Parses the whole document into a `Node` tree, keeping duplicate keys.
///
/// # Errors
/// The YAML error when the text is not well-formed YAML or breaks a parser limit.
pub fn parse_tree(source: &Source) -> Result<Node, serde_saphyr::Error> {
    let mut options = super::parser_options();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    let node: SpannedNode = serde_saphyr::from_str_with_options(source.text(), options)?;
    Ok(node.into_node(source))
}
