//! Here-documents in shell text, for the shell lexer: the delimiter word after `<<` or `<<-`
//! and where each body ends. Bodies are found line by line before anything inside them is
//! read, as shells do.

use std::ops::Range;

use super::quote::HereDocEnd;

/// A here-document whose body starts after the next newline of code.
#[derive(Debug, Clone)]
pub(crate) struct HereDoc {
    /// The delimiter had quotes (`<<'EOF'`, `<<"EOF"`, `<<\EOF`): the body is literal text.
    pub(crate) quoted: bool,
    /// Its delimiter.
    pub(crate) end: HereDocEnd,
}

/// The operator `<<` or `<<-` and its delimiter word.
pub(crate) struct Operator {
    /// `None` when the word is empty (a shell syntax error).
    pub(crate) heredoc: Option<HereDoc>,
    /// The bytes of the word.
    pub(crate) word: Range<usize>,
}

/// Reads the delimiter word of the `<<` at `i` (not `<<<`): quotes are removed and make the
/// here-document quoted.
pub(crate) fn read_operator(bytes: &[u8], i: usize) -> Operator {
    let mut j = i + 2;
    let strip_tabs = bytes.get(j) == Some(&b'-');
    if strip_tabs {
        j += 1;
    }
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    let start = j;
    let mut delimiter = Vec::new();
    let mut quoted = false;
    while let Some(&byte) = bytes.get(j) {
        match byte {
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
            b'\'' => {
                quoted = true;
                j += 1;
                while let Some(&byte) = bytes.get(j) {
                    j += 1;
                    if byte == b'\'' {
                        break;
                    }
                    delimiter.push(byte);
                }
            }
            b'"' => {
                quoted = true;
                j += 1;
                while let Some(&byte) = bytes.get(j) {
                    j += 1;
                    match byte {
                        b'"' => break,
                        b'\\' if matches!(bytes.get(j), Some(b'$' | b'`' | b'"' | b'\\')) => {
                            delimiter.push(bytes[j]);
                            j += 1;
                        }
                        _ => delimiter.push(byte),
                    }
                }
            }
            b'\\' => {
                quoted = true;
                delimiter.extend(bytes.get(j + 1));
                j += 2;
            }
            _ => {
                delimiter.push(byte);
                j += 1;
            }
        }
    }
    let end = j.min(bytes.len());
    let heredoc = (!delimiter.is_empty()).then(|| HereDoc {
        quoted,
        end: HereDocEnd {
            delimiter: String::from_utf8_lossy(&delimiter).into_owned(),
            strip_tabs,
        },
    });
    Operator {
        heredoc,
        word: start..end,
    }
}

/// Where a body ends.
pub(crate) struct Body {
    /// The start of the delimiter line (the end of the text if there is none).
    pub(crate) end: usize,
    /// Where the text resumes, after the delimiter line.
    pub(crate) resume: usize,
    /// An unquoted body has a line ending in `\`: shells join it with the next line before
    /// looking for the delimiter, which this does not follow.
    pub(crate) continued: bool,
}

/// Finds the end of the body of `heredoc` starting at `start`. A line holding an expression
/// (a byte offset in `exprs`) is never the delimiter line.
pub(crate) fn find_body(bytes: &[u8], exprs: &[usize], start: usize, heredoc: &HereDoc) -> Body {
    let len = bytes.len();
    let mut continued = false;
    let mut line = start;
    while line < len {
        let line_end = bytes[line..]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(len, |offset| line + offset);
        let mut content = &bytes[line..line_end];
        if heredoc.end.strip_tabs {
            while let [b'\t', rest @ ..] = content {
                content = rest;
            }
        }
        let has_expr = exprs.iter().any(|at| (line..line_end).contains(at));
        if !has_expr && content == heredoc.end.delimiter.as_bytes() {
            return Body {
                end: line,
                resume: (line_end + 1).min(len),
                continued,
            };
        }
        continued |= !heredoc.quoted && content.ends_with(b"\\");
        line = line_end + 1;
    }
    Body {
        end: len,
        resume: len,
        continued,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_words_lose_their_quotes() {
        for (text, delimiter, quoted, strip_tabs) in [
            ("<<EOF\n", "EOF", false, false),
            ("<< 'E O'; x", "E O", true, false),
            ("<<-\"E\\\"F\"", "E\"F", true, true),
            ("<<\\EOF)", "EOF", true, false),
            ("<<E'O'F", "EOF", true, false),
        ] {
            let operator = read_operator(text.as_bytes(), 0);
            let heredoc = operator.heredoc.expect("a delimiter");
            assert_eq!(heredoc.end.delimiter, delimiter, "{text:?}");
            assert_eq!(heredoc.quoted, quoted, "{text:?}");
            assert_eq!(heredoc.end.strip_tabs, strip_tabs, "{text:?}");
        }
        assert!(read_operator(b"<< ;", 0).heredoc.is_none());
        assert_eq!(read_operator(b"<<  EOF x", 0).word, 4..7);
    }

    #[test]
    fn bodies_end_at_the_delimiter_line() {
        let heredoc = read_operator(b"<<-EOF", 0).heredoc.expect("a delimiter");
        let text = b"a\n EOF\n\tEOF\nrest";
        let body = find_body(text, &[], 0, &heredoc);
        assert_eq!((body.end, body.resume, body.continued), (7, 12, false));
        // A line with an expression is body even if it would read as the delimiter.
        let body = find_body(b"EOF\0\nEOF", &[3], 0, &heredoc);
        assert_eq!((body.end, body.resume), (5, 8));
        let body = find_body(b"a\\\nEOF\n", &[], 0, &heredoc);
        assert!(body.continued);
        let body = find_body(b"no end", &[], 0, &heredoc);
        assert_eq!((body.end, body.resume), (6, 6));
    }
}
