//! A small POSIX-sh lexer that tells where each `${{ }}` of a `run` command stands: unquoted,
//! in `"…"` or `'…'`, in a command substitution, a here-document, a comment or arithmetic.
//! It follows quoting only; it does not parse commands. Where dash and bash could disagree
//! about the context, it refuses the expression instead of guessing.

use super::heredoc::{HereDoc, find_body, read_operator};
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

impl Frame {
    /// For backticks: whether they are inside double quotes.
    fn backticks(&self) -> Option<bool> {
        match self {
            Self::Code {
                end: CodeEnd::Backtick { in_double },
                ..
            } => Some(*in_double),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeEnd {
    Top,
    Paren,
    Backtick { in_double: bool },
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
    /// Here-documents whose bodies start after the next newline of code.
    pending: Vec<HereDoc>,
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
                format!("after {reason}: where it stands is unclear"),
                Some("move that construct to a line without `${{ }}`, or into a separate script"),
            ));
        }
        if self.backslashed == Some(i) {
            return Err(Refusal::new(
                "right after an escaping `\\`",
                Some("remove the `\\`, or write `$${{` for a literal `${{`"),
            ));
        }
        // Quotes inside `${ … }` mean different things to different shells.
        let in_param = self
            .stack
            .iter()
            .rev()
            .take_while(|frame| !matches!(frame, Frame::Code { .. }))
            .any(|frame| matches!(frame, Frame::Param));
        if in_param {
            return Err(Refusal::new(
                "inside `${ … }`",
                Some("assign the value to a shell variable first: `v=${{ … }}`"),
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
            Frame::Param => unreachable!("refused above"),
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
        let backticks: Vec<_> = self.stack.iter().filter_map(Frame::backticks).collect();
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
        let in_paren = |frame: &Frame| {
            matches!(
                frame,
                Frame::Code {
                    end: CodeEnd::Paren,
                    ..
                }
            )
        };
        if self.word.take().as_deref() == Some("case") && self.stack.iter().any(in_paren) {
            self.confused = Some("`case` inside `$( )`");
        }
    }

    fn in_backticks(&self) -> bool {
        self.stack.iter().any(|frame| frame.backticks().is_some())
    }

    /// `<<`, `<<-` and bash's `<<<`: reads a here-document's delimiter word.
    fn heredoc_operator(&mut self, i: usize) -> usize {
        if self.bytes.get(i + 2) == Some(&b'<') {
            return i + 3;
        }
        if self.in_backticks() {
            self.confused = Some("a here-document inside backticks");
        }
        let operator = read_operator(self.bytes, i);
        for (index, at) in self.exprs.iter().enumerate() {
            if operator.word.contains(at) {
                self.results[index] = Some(Err(Refusal::new(
                    "in a here-document delimiter",
                    Some("write the delimiter literally"),
                )));
            }
        }
        self.pending.extend(operator.heredoc);
        operator.word.end
    }

    /// At a newline of code: the bodies of the pending here-documents start at `start`.
    fn start_heredocs(&mut self, mut start: usize) {
        let mut frames = Vec::new();
        for heredoc in std::mem::take(&mut self.pending) {
            let body = find_body(self.bytes, self.exprs, start, &heredoc);
            if body.continued {
                self.confused = Some("a `\\` at the end of a here-document line");
            }
            frames.push(Frame::HereDoc {
                end: body.end,
                resume: body.resume,
                quoted: heredoc.quoted,
                delimiter: heredoc.end,
            });
            start = body.resume;
        }
        // The first body is read first, so its frame goes on top.
        self.stack.extend(frames.into_iter().rev());
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
