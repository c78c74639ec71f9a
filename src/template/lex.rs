//! A small lexer for rhai source: where string literals and comments begin and end, and the
//! identifiers, string values and punctuation of the code between them. It finds the `}}`
//! that closes a `${{`, the context of a `${{ }}` inside a `script`, and the references of an
//! expression. It does not check syntax; rhai's own compiler does that.

/// Where the lexer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RhaiState {
    /// Code, at the top level or inside a `${ }` of a backtick string.
    Code,
    /// Inside a `"…"` string.
    String,
    /// Inside a `` `…` `` string, outside its `${ }` interpolations.
    Backtick,
    /// Inside a `'…'` character literal.
    Char,
    /// Inside a `//` or `/* */` comment.
    Comment,
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    /// `braces` counts the `{` still open in this code; code inside an interpolation ends at
    /// the `}` that finds it at zero.
    Code {
        braces: u32,
    },
    String,
    Backtick,
    Char,
    LineComment,
    BlockComment {
        depth: u32,
    },
}

/// A byte-at-a-time state machine over rhai source. Every byte that matters to rhai's lexing
/// is ASCII, so the bytes of a multi-byte character are stepped over as ordinary text.
#[derive(Debug, Clone)]
pub(crate) struct RhaiScanner {
    stack: Vec<Frame>,
    /// Whether `//` and `/*` start comments (the `}}` search ignores comments).
    comments: bool,
    /// A `\` inside a `"…"` string or a character literal escapes the next byte.
    escape: bool,
}

impl RhaiScanner {
    pub(crate) fn new(comments: bool) -> Self {
        Self {
            stack: vec![Frame::Code { braces: 0 }],
            comments,
            escape: false,
        }
    }

    pub(crate) fn state(&self) -> RhaiState {
        match self.top() {
            Frame::Code { .. } => RhaiState::Code,
            Frame::String => RhaiState::String,
            Frame::Backtick => RhaiState::Backtick,
            Frame::Char => RhaiState::Char,
            Frame::LineComment | Frame::BlockComment { .. } => RhaiState::Comment,
        }
    }

    /// Whether the lexer is in code outside every string literal (interpolations included).
    pub(crate) fn at_top_level(&self) -> bool {
        self.stack.len() == 1
    }

    /// Whether the next byte is escaped by a `\` (in a string or character literal).
    pub(crate) fn escaping(&self) -> bool {
        self.escape
    }

    fn top(&self) -> Frame {
        *self
            .stack
            .last()
            .expect("the bottom code frame is never popped")
    }

    fn top_mut(&mut self) -> &mut Frame {
        self.stack
            .last_mut()
            .expect("the bottom code frame is never popped")
    }

    /// Steps over the byte at `i` (or two bytes when they form one token such as `${`) and
    /// returns the index of the next byte to step over.
    pub(crate) fn step(&mut self, bytes: &[u8], i: usize) -> usize {
        let byte = bytes[i];
        let next = bytes.get(i + 1).copied();
        match self.top() {
            Frame::Code { braces } => self.step_code(byte, next, braces, i),
            Frame::String | Frame::Char => {
                let closer = if matches!(self.top(), Frame::String) {
                    b'"'
                } else {
                    b'\''
                };
                if self.escape {
                    self.escape = false;
                } else if byte == b'\\' {
                    self.escape = true;
                } else if byte == closer {
                    // rhai reads a doubled quote inside a string as one quote.
                    if closer == b'"' && next == Some(b'"') {
                        return i + 2;
                    }
                    self.stack.pop();
                }
                i + 1
            }
            Frame::Backtick => match (byte, next) {
                (b'`', Some(b'`')) => i + 2,
                (b'`', _) => {
                    self.stack.pop();
                    i + 1
                }
                (b'\\', Some(b'$')) if bytes.get(i + 2) == Some(&b'{') => i + 3,
                (b'$', Some(b'{')) => {
                    self.stack.push(Frame::Code { braces: 0 });
                    i + 2
                }
                _ => i + 1,
            },
            Frame::LineComment => {
                if byte == b'\n' {
                    self.stack.pop();
                }
                i + 1
            }
            Frame::BlockComment { depth } => match (byte, next) {
                (b'/', Some(b'*')) => {
                    *self.top_mut() = Frame::BlockComment { depth: depth + 1 };
                    i + 2
                }
                (b'*', Some(b'/')) => {
                    if depth == 0 {
                        self.stack.pop();
                    } else {
                        *self.top_mut() = Frame::BlockComment { depth: depth - 1 };
                    }
                    i + 2
                }
                _ => i + 1,
            },
        }
    }

    fn step_code(&mut self, byte: u8, next: Option<u8>, braces: u32, i: usize) -> usize {
        match (byte, next) {
            (b'"', _) => self.stack.push(Frame::String),
            (b'`', _) => self.stack.push(Frame::Backtick),
            (b'\'', _) => self.stack.push(Frame::Char),
            (b'/', Some(b'/')) if self.comments => {
                self.stack.push(Frame::LineComment);
                return i + 2;
            }
            (b'/', Some(b'*')) if self.comments => {
                self.stack.push(Frame::BlockComment { depth: 0 });
                return i + 2;
            }
            (b'{', _) => *self.top_mut() = Frame::Code { braces: braces + 1 },
            (b'}', _) if braces > 0 => *self.top_mut() = Frame::Code { braces: braces - 1 },
            // The `}` that closes an interpolation returns to its backtick string.
            (b'}', _) if self.stack.len() > 1 => {
                self.stack.pop();
            }
            _ => (),
        }
        i + 1
    }
}

/// One token of rhai code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident,
    /// A `"…"` string, with its value (escapes resolved).
    Str(String),
    /// `.` or `?.`
    Dot,
    /// `[` or `?[`
    Open,
    /// `]`
    Close,
    /// `(`
    Paren,
    /// Anything else: numbers, operators, other strings and characters.
    Other,
}

/// A token and its bytes in the source; for a string, the bytes between its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: std::ops::Range<usize>,
}

/// The tokens of rhai code in `source`, skipping comments and whitespace. The code inside the
/// `${ }` of backtick strings is included; the text of those strings is not.
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut scanner = RhaiScanner::new(true);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if scanner.state() != RhaiState::Code {
            i = scanner.step(bytes, i);
            continue;
        }
        let byte = bytes[i];
        let start = i;
        let kind = match byte {
            b'"' => {
                // Step through the string to find its end.
                i = scanner.step(bytes, i);
                while i < bytes.len() && scanner.state() == RhaiState::String {
                    i = scanner.step(bytes, i);
                }
                let closed = scanner.state() != RhaiState::String;
                let end = if closed { i - 1 } else { i };
                tokens.push(Token {
                    kind: TokenKind::Str(unescape(&source[start + 1..end])),
                    span: start + 1..end,
                });
                continue;
            }
            b'?' if matches!(bytes.get(i + 1), Some(b'.' | b'[')) => {
                i += 2;
                if bytes[start + 1] == b'.' {
                    TokenKind::Dot
                } else {
                    TokenKind::Open
                }
            }
            b'.' => {
                i += 1;
                TokenKind::Dot
            }
            b'[' => {
                i += 1;
                TokenKind::Open
            }
            b']' => {
                i += 1;
                TokenKind::Close
            }
            b'(' => {
                i += 1;
                TokenKind::Paren
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                TokenKind::Ident
            }
            b'0'..=b'9' => {
                // A number, with any `.`, exponent or `_` it contains.
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i] == b'.' || bytes[i].is_ascii_alphanumeric())
                {
                    i += 1;
                }
                TokenKind::Other
            }
            _ => {
                i = scanner.step(bytes, i);
                if byte.is_ascii_whitespace() || scanner.state() != RhaiState::Code {
                    continue;
                }
                TokenKind::Other
            }
        };
        tokens.push(Token {
            kind,
            span: start..i,
        });
    }
    tokens
}

/// The value of the text between the quotes of a rhai `"…"` string.
fn unescape(raw: &str) -> String {
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => value.push('\n'),
                Some('r') => value.push('\r'),
                Some('t') => value.push('\t'),
                Some(digits @ ('x' | 'u' | 'U')) => {
                    let len = match digits {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.by_ref().take(len).collect();
                    let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    value.extend(decoded);
                }
                // A line continuation, or an escaped `\` or `"`.
                Some('\n') => {}
                Some(other) => value.push(other),
                None => {}
            },
            '"' => {
                // A doubled quote stands for one.
                chars.next();
                value.push('"');
            }
            other => value.push(other),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(TokenKind, &str)> {
        tokenize(source)
            .into_iter()
            .map(|token| (token.kind, &source[token.span]))
            .collect()
    }

    #[test]
    fn tokens_skip_comments_and_string_text() {
        use TokenKind::{Close, Dot, Ident, Open, Other, Str};
        assert_eq!(
            kinds(r#"vars.a + tasks["t[x=1]"]?.b // vars.c"#),
            vec![
                (Ident, "vars"),
                (Dot, "."),
                (Ident, "a"),
                (Other, "+"),
                (Ident, "tasks"),
                (Open, "["),
                (Str("t[x=1]".into()), "t[x=1]"),
                (Close, "]"),
                (Dot, "?."),
                (Ident, "b"),
            ]
        );
        assert_eq!(
            kinds("`x ${vars.a} vars.b` /* vars.c */ 1.5"),
            vec![(Ident, "vars"), (Dot, "."), (Ident, "a"), (Other, "1.5")]
        );
    }

    #[test]
    fn string_values_resolve_escapes() {
        let tokens = tokenize(r#""a\"b\\c\x41\u00e9""d""#);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].kind, TokenKind::Str("a\"b\\cAé\"d".into()));
    }

    #[test]
    fn scanner_tracks_interpolations_and_nested_comments() {
        let text = b"`a ${ #{x: 1}.x } b` /* /* */ still */ c";
        let mut scanner = RhaiScanner::new(true);
        let mut states = Vec::new();
        let mut i = 0;
        while i < text.len() {
            states.push((i, scanner.state()));
            i = scanner.step(text, i);
        }
        let at = |index: usize| {
            states
                .iter()
                .rev()
                .find(|(i, _)| *i <= index)
                .map(|(_, state)| *state)
        };
        assert_eq!(at(1), Some(RhaiState::Backtick));
        assert_eq!(at(14), Some(RhaiState::Code)); // the `.x` inside the interpolation
        assert_eq!(at(18), Some(RhaiState::Backtick));
        assert_eq!(at(30), Some(RhaiState::Comment)); // `still`
        assert_eq!(at(39), Some(RhaiState::Code));
        assert!(scanner.at_top_level());
    }
}
