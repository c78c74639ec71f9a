//! Results: the keys and values a task sets, and the results file a process task writes to
//! `$ENGINE_RESULTS`, in the format of GitHub's `$GITHUB_OUTPUT` (`key=value` lines and
//! `key<<DELIMITER` blocks). It parses and formats the text; reading the file is the
//! executor's business. A leaf: scripts (`result(key, value)`), executors and the record
//! all keep to its rules.

use std::collections::HashMap;
use std::fmt;

/// The results a task set: keys and values, each key once, in the order first set.
pub type Results = Vec<(String, String)>;

/// The largest results file accepted.
pub const RESULTS_LIMIT: usize = 1024 * 1024;

/// The longest result key.
const KEY_LIMIT: usize = 128;

/// A results file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsError {
    /// The 1-based line the problem is on, when there is one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ResultsError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for ResultsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ResultsError {}

/// Whether `key` can name a result: `[A-Za-z_][A-Za-z0-9_-]*`, at most 128 bytes.
#[must_use]
pub fn is_result_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    key.len() <= KEY_LIMIT
        && bytes
            .next()
            .is_some_and(|first| first == b'_' || first.is_ascii_alphabetic())
        && bytes.all(|byte| byte == b'_' || byte == b'-' || byte.is_ascii_alphanumeric())
}

/// The results in `bytes`, in the order their keys first appear; a later value of a key
/// replaces the earlier one. Blank lines are ignored and `\r\n` line ends accepted.
pub fn parse_results(bytes: &[u8], limit: usize) -> Result<Vec<(String, String)>, ResultsError> {
    if bytes.len() > limit {
        let line = bytes[..=limit]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count()
            + 1;
        return Err(ResultsError::at(
            line,
            format!("the results file is larger than {limit} bytes"),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let line = bytes[..error.valid_up_to()]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count()
            + 1;
        ResultsError::at(line, "not valid UTF-8")
    })?;
    let mut results: Vec<(String, String)> = Vec::new();
    let mut positions: HashMap<String, usize> = HashMap::new();
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    while let Some((number, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line
            .find("<<")
            .filter(|&heredoc| equals.is_none_or(|equals| heredoc < equals));
        let (key, value) = match (heredoc, equals) {
            (Some(heredoc), _) => {
                let delimiter = &line[heredoc + 2..];
                if delimiter.is_empty() {
                    return Err(ResultsError::at(number, "`<<` needs a delimiter after it"));
                }
                let mut body = Vec::new();
                let mut closed = false;
                for (_, line) in lines.by_ref() {
                    if line == delimiter {
                        closed = true;
                        break;
                    }
                    body.push(line);
                }
                if !closed {
                    return Err(ResultsError::at(
                        number,
                        format!("no line `{delimiter}` closes `{line}`"),
                    ));
                }
                (&line[..heredoc], body.join("\n"))
            }
            (_, Some(equals)) => (&line[..equals], line[equals + 1..].to_owned()),
            (None, None) => {
                return Err(ResultsError::at(
                    number,
                    "expected `key=value` or `key<<DELIMITER`",
                ));
            }
        };
        if !is_result_key(key) {
            return Err(ResultsError::at(
                number,
                format!(
                    "`{key}` is not a result key: use letters, digits, `_` and `-`, starting \
                     with a letter or `_`, at most {KEY_LIMIT} bytes"
                ),
            ));
        }
        match positions.get(key) {
            Some(&index) => results[index].1 = value,
            None => {
                positions.insert(key.to_owned(), results.len());
                results.push((key.to_owned(), value));
            }
        }
    }
    Ok(results)
}

/// The line(s) that add the result `key` (which must satisfy `is_result_key`) with `value`:
/// `key=value`, or a `key<<DELIMITER` block whose delimiter does not occur in the value when
/// it has a line break. A `\r` before a line break is not preserved.
#[must_use]
pub fn format_result(key: &str, value: &str) -> String {
    if !value.contains(['\n', '\r']) {
        return format!("{key}={value}\n");
    }
    let mut delimiter = String::from("EOF");
    let mut counter = 0_u32;
    while value.contains(&delimiter) {
        counter += 1;
        delimiter = format!("EOF_{counter}");
    }
    format!("{key}<<{delimiter}\n{value}\n{delimiter}\n")
}

#[cfg(test)]
mod tests;
