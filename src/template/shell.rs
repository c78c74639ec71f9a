//! A small POSIX-sh lexer that tells where each `${{ }}` of a `run` command stands: unquoted,
//! in `"…"` or `'…'`, in a command substitution, a here-document, a comment or arithmetic.
//! It follows quoting only; it does not parse commands. Where dash and bash could disagree
//! about the context, it refuses the expression instead of guessing.

use super::quote::{HereDocEnd, QuoteContext, Quoting, Refusal};

/// Where a stretch of shell text is.
#[derive(Debug, Clone)]
enum Frame {
    /// Unquoted code: the top level, `$( … )` or `` ` … ` ``. `parens` counts `(` still open.
    Code {
        end: CodeEnd,
        parens: u32,
    },
    Double,
    Single,
    /// `$'…'` (bash's ANSI-C quoting; dash reads it as `$` and `'…'`).
    AnsiC,
    /// `${ … }`.
    Param,
    /// `$(( … ))`.
    Arith {
        parens: u32,
    },
    Comment,
    /// A here-document body that ends at byte `end`, where its delimiter line starts; the
    /// text resumes at `resume`, after that line.
    HereDoc {
        end: usize,
        resume: usize,
        quoted: bool,
        delimiter: HereDocEnd,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeEnd {
    Top,
    Paren,
    Backtick { in_double: bool },
}

/// A here-document whose body starts after the next newline.
#[derive(Debug, Clone)]
struct Pending {
    quoted: bool,
    delimiter: HereDocEnd,
}

/// The context of each expression of a shell template. `text` is the template with one
/// placeholder byte for each expression, at the sorted byte offsets `exprs`.
pub(crate) fn shell_quotings(text: &str, exprs: &[usize]) -> Vec<Result<Quoting, Refusal>> {
    let mut scanner = ShellScanner {
        bytes: text.as_bytes(),
        exprs,
        results: vec![None; exprs.len()],
        stack: vec![Frame::Code {
            end: CodeEnd::Top,
            parens: 0,
        }],
        pending: Vec::new(),
        confused: None,
        backslashed: None,
        word_start: true,
        word: None,
    };
    scanner.run();
    scanner
        .results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(Refusal::new("cannot tell where it stands", None)))
        })
        .collect()
}

struct ShellScanner<'t> {
    bytes: &'t [u8],
    exprs: &'t [usize],
    results: Vec<Option<Result<Quoting, Refusal>>>,
    stack: Vec<Frame>,
    pending: Vec<Pending>,
    /// A construct after which the contexts cannot be told for certain.
    confused: Option<&'static str>,
    /// The offset of an expression right after an escaping `\`.
    backslashed: Option<usize>,
    /// Whether the next byte of unquoted code starts a word (so `#` starts a comment).
    word_start: bool,
    /// The current word while it is made of letters only (to notice `case`).
    word: Option<String>,
}

impl ShellScanner<'_> {
    fn run(&mut self) {
        let mut i = 0;
        while i < self.bytes.len() {
            if let Some(resume) = self.heredoc_end(i) {
                i = resume;
                continue;
            }
            if let Ok(index) = self.exprs.binary_search(&i) {
                self.results[index] = Some(self.place(i));
                self.word_start = false;
                self.word = None;
                i += 1;
                continue;
            }
            i = self.step(i);
        }
    }

    fn top(&self) -> &Frame {
        self.stack
            .last()
            .expect("the top-level frame is never popped")
    }

    /// At the end of the innermost here-document body: leaves it and returns where the text
    /// resumes after its delimiter line.
    fn heredoc_end(&mut self, i: usize) -> Option<usize> {
        let index = self
            .stack
            .iter()
            .rposition(|frame| matches!(frame, Frame::HereDoc { .. }))?;
        let Frame::HereDoc { end, resume, .. } = self.stack[index] else {
            unreachable!("found a here-document frame")
        };
        if end != i {
            return None;
        }
        if index + 1 != self.stack.len() {
            self.confused = Some("an unclosed substitution in a here-document");
        }
        self.stack.truncate(index);
        self.word_start = true;
        Some(resume)
    }

    fn place(&self, i: usize) -> Result<Quoting, Refusal> {
        if let Some(reason) = self.confused {
            return Err(Refusal::new(
                format!("cannot tell how to quote it after {reason}"),
                Some("move that construct to a line without `${{ }}`, or into a separate script"),
            ));
        }
        if self.backslashed == Some(i) {
            return Err(Refusal::new(
                "`${{` right after an escaping `\\`",
                Some("remove the `\\`, or write `$${{` for a literal `${{`"),
            ));
        }
        let context = match self.top() {
            Frame::Code { .. } => QuoteContext::ShellWord,
            Frame::Double => QuoteContext::ShellDoubleQuoted,
            Frame::Single => QuoteContext::ShellSingleQuoted,
            Frame::Comment => QuoteContext::ShellComment,
            Frame::Arith { .. } => QuoteContext::ShellArithmetic,
            Frame::HereDoc { quoted: true, .. } => QuoteContext::ShellQuotedHereDoc,
            Frame::HereDoc { quoted: false, .. } => QuoteContext::ShellHereDoc,
            Frame::AnsiC => {
                return Err(Refusal::new(
                    "inside `$'…'`, which dash and bash read differently",
                    Some("use '…' or \"…\" quoting around it"),
                ));
            }
            Frame::Param => {
                return Err(Refusal::new(
                    "inside `${ … }`",
                    Some("assign the value to a shell variable first: `v=${{ … }}`"),
                ));
            }
        };
        let mut quoting = Quoting::new(context);
        // A value anywhere inside `$(( ))` ends up evaluated as arithmetic.
        if self
            .stack
            .iter()
            .any(|frame| matches!(frame, Frame::Arith { .. }))
        {
            quoting.context = QuoteContext::ShellArithmetic;
        }
        let backticks: Vec<_> = self
            .stack
            .iter()
            .filter_map(|frame| match frame {
                Frame::Code {
                    end: CodeEnd::Backtick { in_double },
                    ..
                } => Some(*in_double),
                _ => None,
            })
            .collect();
        match backticks[..] {
            [] => {}
            [false] => quoting.in_backticks = true,
            _ => {
                return Err(Refusal::new(
                    "inside nested backticks or backticks within double quotes",
                    Some("use `$( … )` instead of backticks"),
                ));
            }
        }
        quoting.heredoc = self.stack.iter().rev().find_map(|frame| match frame {
            Frame::HereDoc { delimiter, .. } => Some(delimiter.clone()),
            _ => None,
        });
        Ok(quoting)
    }

    /// Steps over the construct at `i` and returns the index after it.
    fn step(&mut self, i: usize) -> usize {
        let byte = self.bytes[i];
        match self.top().clone() {
            Frame::Code { end, parens } => self.step_code(i, end, parens),
            Frame::Double => match byte {
                b'\\' => self.backslash(i),
                b'"' => self.pop(i),
                b'$' => self.dollar(i, false),
                b'`' => self.open_backtick(i, true),
                _ => i + 1,
            },
            Frame::Single => {
                if byte == b'\'' {
                    self.pop(i)
                } else {
                    i + 1
                }
            }
            Frame::AnsiC => match byte {
                b'\\' => {
                    self.confused = Some("a `\\` inside `$'…'`");
                    i + 2
                }
                b'\'' => self.pop(i),
                _ => i + 1,
            },
            Frame::Param => self.step_param(i),
            Frame::Arith { parens } => self.step_arith(i, parens),
            Frame::Comment => {
                if byte == b'\n' {
                    // The newline itself is code: it may start here-document bodies.
                    self.stack.pop();
                    i
                } else {
                    i + 1
                }
            }
            Frame::HereDoc { quoted: true, .. } => i + 1,
            Frame::HereDoc { quoted: false, .. } => match byte {
                b'\\' => self.backslash(i),
                b'$' => self.dollar(i, false),
                // A here-document body is read like double quotes.
                b'`' => self.open_backtick(i, true),
                _ => i + 1,
            },
        }
    }

    fn step_code(&mut self, i: usize, end: CodeEnd, parens: u32) -> usize {
        let byte = self.bytes[i];
        let starts = std::mem::replace(&mut self.word_start, false);
        if byte.is_ascii_alphabetic() {
            if starts {
                self.word = Some(String::new());
            }
            if let Some(word) = &mut self.word {
                word.push(char::from(byte));
            }
            return i + 1;
        }
        self.end_word();
        match byte {
            b' ' | b'\t' | b';' | b'&' | b'|' | b'>' => self.word_start = true,
            b'\n' => {
                self.word_start = true;
                self.start_heredocs(i + 1);
            }
            b'#' if starts => self.stack.push(Frame::Comment),
            b'\\' => return self.backslash(i),
            b'\'' => self.stack.push(Frame::Single),
            b'"' => self.stack.push(Frame::Double),
            b'$' => return self.dollar(i, true),
            b'`' if matches!(end, CodeEnd::Backtick { .. }) => return self.pop(i),
            b'`' => return self.open_backtick(i, false),
            b'(' => {
                self.word_start = true;
                self.set_parens(parens + 1);
            }
            b')' => {
                self.word_start = true;
                if parens == 0 && end == CodeEnd::Paren {
                    return self.pop(i);
                }
                self.set_parens(parens.saturating_sub(1));
            }
            b'<' => {
                self.word_start = true;
                if self.bytes.get(i + 1) == Some(&b'<') {
                    return self.heredoc_operator(i);
                }
            }
            _ => {}
        }
        i + 1
    }

    /// Ends the current word; a `case` inside `$( )` makes its `)` ambiguous.
    fn end_word(&mut self) {
        if self.word.take().as_deref() == Some("case")
            && self.in_frame(|frame| {
                matches!(
                    frame,
                    Frame::Code {
                        end: CodeEnd::Paren,
                        ..
                    }
                )
            })
        {
            self.confused = Some("`case` inside `$( )`");
        }
    }

    fn in_frame(&self, test: impl Fn(&Frame) -> bool) -> bool {
        self.stack.iter().any(test)
    }

    fn in_backticks(&self) -> bool {
        self.in_frame(|frame| {
            matches!(
                frame,
                Frame::Code {
                    end: CodeEnd::Backtick { .. },
                    ..
                }
            )
        })
    }

    /// `<<`, `<<-` and bash's `<<<`: reads a here-document's delimiter word.
    fn heredoc_operator(&mut self, i: usize) -> usize {
        let bytes = self.bytes;
        let mut j = i + 2;
        if bytes.get(j) == Some(&b'<') {
            return j + 1;
        }
        let strip_tabs = bytes.get(j) == Some(&b'-');
        if strip_tabs {
            j += 1;
        }
        while matches!(bytes.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.in_backticks() {
            self.confused = Some("a here-document inside backticks");
        }
        let word = j;
        let mut delimiter = Vec::new();
        let mut quoted = false;
        while let Some(&byte) = bytes.get(j) {
            j += 1;
            match byte {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => {
                    j -= 1;
                    break;
                }
                b'\'' => {
                    quoted = true;
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
                    delimiter.extend(bytes.get(j));
                    j += 1;
                }
                _ => delimiter.push(byte),
            }
        }
        let j = j.min(bytes.len());
        for (index, _) in self
            .exprs
            .iter()
            .enumerate()
            .filter(|(_, at)| (word..j).contains(*at))
        {
            self.results[index] = Some(Err(Refusal::new(
                "in a here-document delimiter",
                Some("write the delimiter literally"),
            )));
        }
        if !delimiter.is_empty() {
            self.pending.push(Pending {
                quoted,
                delimiter: HereDocEnd {
                    delimiter: String::from_utf8_lossy(&delimiter).into_owned(),
                    strip_tabs,
                },
            });
        }
        j
    }

    /// At a newline of code: the bodies of the pending here-documents start at `start`.
    fn start_heredocs(&mut self, mut start: usize) {
        let mut frames = Vec::new();
        for pending in std::mem::take(&mut self.pending) {
            let (end, resume) = self.delimiter_line(start, &pending);
            frames.push(Frame::HereDoc {
                end,
                resume,
                quoted: pending.quoted,
                delimiter: pending.delimiter,
            });
            start = resume;
        }
        // The first body is read first, so its frame goes on top.
        self.stack.extend(frames.into_iter().rev());
    }

    /// Where the body starting at `start` ends (the start of its delimiter line) and where the
    /// text resumes (after that line). A line with an expression is never the delimiter.
    fn delimiter_line(&mut self, start: usize, pending: &Pending) -> (usize, usize) {
        let len = self.bytes.len();
        let mut line = start;
        while line < len {
            let line_end = self.bytes[line..]
                .iter()
                .position(|&byte| byte == b'\n')
                .map_or(len, |offset| line + offset);
            let mut content = &self.bytes[line..line_end];
            if pending.delimiter.strip_tabs {
                while let [b'\t', rest @ ..] = content {
                    content = rest;
                }
            }
            let has_expr = self.exprs.iter().any(|at| (line..line_end).contains(at));
            if !has_expr && content == pending.delimiter.delimiter.as_bytes() {
                return (line, (line_end + 1).min(len));
            }
            // Shells join an unquoted body's `\`-newline before looking for the delimiter.
            if !pending.quoted && content.ends_with(b"\\") {
                self.confused = Some("a `\\` at the end of a here-document line");
            }
            line = line_end + 1;
        }
        (len, len)
    }

    fn set_parens(&mut self, value: u32) {
        if let Some(Frame::Code { parens, .. } | Frame::Arith { parens }) = self.stack.last_mut() {
            *parens = value;
        }
    }

    fn pop(&mut self, i: usize) -> usize {
        self.stack.pop();
        i + 1
    }

    /// A `\` escapes the next byte; an expression right after it cannot be quoted.
    fn backslash(&mut self, i: usize) -> usize {
        if self.in_backticks() && matches!(self.bytes.get(i + 1), Some(b'$' | b'`' | b'\\')) {
            self.confused = Some("a `\\` escape inside backticks");
        }
        if self.exprs.binary_search(&(i + 1)).is_ok() {
            self.backslashed = Some(i + 1);
            return i + 1;
        }
        i + 2
    }

    /// `$(`, `$((`, `${`, `$'` and `$"`; `unquoted` says whether the last two are quotes here.
    fn dollar(&mut self, i: usize, unquoted: bool) -> usize {
        match (self.bytes.get(i + 1), self.bytes.get(i + 2)) {
            (Some(b'('), Some(b'(')) => {
                self.stack.push(Frame::Arith { parens: 0 });
                i + 3
            }
            (Some(b'('), _) => {
                self.stack.push(Frame::Code {
                    end: CodeEnd::Paren,
                    parens: 0,
                });
                self.word_start = true;
                i + 2
            }
            (Some(b'{'), _) => {
                self.stack.push(Frame::Param);
                i + 2
            }
            (Some(b'\''), _) if unquoted => {
                self.stack.push(Frame::AnsiC);
                i + 2
            }
            (Some(b'"'), _) if unquoted => {
                self.stack.push(Frame::Double);
                i + 2
            }
            _ => i + 1,
        }
    }

    fn open_backtick(&mut self, i: usize, in_double: bool) -> usize {
        if self.in_backticks() {
            self.confused = Some("nested backticks");
        }
        self.stack.push(Frame::Code {
            end: CodeEnd::Backtick { in_double },
            parens: 0,
        });
        self.word_start = true;
        i + 1
    }

    fn step_param(&mut self, i: usize) -> usize {
        let in_double = matches!(
            self.stack.iter().rev().nth(1),
            Some(Frame::Double | Frame::HereDoc { .. })
        );
        match self.bytes[i] {
            b'}' => self.pop(i),
            b'\\' => self.backslash(i),
            b'\'' if !in_double => {
                self.stack.push(Frame::Single);
                i + 1
            }
            b'"' => {
                self.stack.push(Frame::Double);
                i + 1
            }
            b'$' => self.dollar(i, !in_double),
            b'`' => self.open_backtick(i, in_double),
            _ => i + 1,
        }
    }

    fn step_arith(&mut self, i: usize, parens: u32) -> usize {
        match self.bytes[i] {
            b'(' => {
                self.set_parens(parens + 1);
                i + 1
            }
            b')' if parens == 0 && self.bytes.get(i + 1) == Some(&b')') => {
                self.stack.pop();
                i + 2
            }
            b')' => {
                self.set_parens(parens.saturating_sub(1));
                i + 1
            }
            b'\\' => self.backslash(i),
            b'\'' => {
                self.stack.push(Frame::Single);
                i + 1
            }
            b'"' => {
                self.stack.push(Frame::Double);
                i + 1
            }
            b'$' => self.dollar(i, true),
            b'`' => self.open_backtick(i, false),
            _ => i + 1,
        }
    }
}
