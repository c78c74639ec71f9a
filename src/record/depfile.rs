//! Reading a task's `depfile`: the Makefile rules a compiler writes with `gcc -MD`/`-MMD`,
//! clang's `-MD` and most other compilers (`out.o: src.c a.h \` with line continuations,
//! escaped spaces, `$$`, several targets, the empty rules of `-MP`). Pure text to paths:
//! it reads no file and knows nothing of tasks; the gate reads the file and keeps what it
//! names with the task's success.

use std::fmt;

/// What a depfile names: the prerequisites of its rules, in order of first appearance,
/// each once. The targets are not kept: compilers name the object, which is the task's
/// business, not the record's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Depfile {
    /// The prerequisites, as written (unescaped).
    pub deps: Vec<String>,
}

/// Where and why a depfile is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepfileError {
    /// From 1.
    pub line: usize,
    /// From 1, in characters.
    pub column: usize,
    /// What was expected there.
    pub message: String,
}

impl fmt::Display for DepfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// One word of a rule, unescaped, with where it starts.
struct Word {
    text: String,
    line: usize,
    column: usize,
}

/// The rule being read: the words before its `:` (targets) and after it (prerequisites).
#[derive(Default)]
struct Rule {
    words: Vec<Word>,
    /// Where the `:` was, once seen.
    colon: Option<(usize, usize)>,
    targets: usize,
}

impl Depfile {
    /// Parses the text of a depfile.
    ///
    /// # Errors
    /// The first thing that is not a rule: words without a `:` after the targets, a `:`
    /// without a target, a second `:` in one rule.
    pub fn parse(text: &str) -> Result<Self, DepfileError> {
        let mut parser = Parser::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let (line, column) = (parser.line, parser.column);
            parser.column += 1;
            match c {
                '\\' => match chars.peek() {
                    // A continuation: the rule goes on on the next line.
                    Some('\n') => {
                        chars.next();
                        parser.end_word();
                        parser.newline();
                    }
                    Some('\r') => {
                        chars.next();
                        if chars.peek() == Some(&'\n') {
                            chars.next();
                        }
                        parser.end_word();
                        parser.newline();
                    }
                    Some(&next @ (' ' | '#' | '\\' | '\t')) => {
                        chars.next();
                        parser.column += 1;
                        // `\\` stands for one backslash only before a space or the end of
                        // a word (`a\\ b`); elsewhere, as in `C:\\dir`, both stay.
                        if next == '\\' && !matches!(chars.peek(), Some(' ') | None) {
                            parser.push('\\', line, column);
                        }
                        parser.push(next, line, column);
                    }
                    _ => parser.push('\\', line, column),
                },
                '$' if chars.peek() == Some(&'$') => {
                    chars.next();
                    parser.column += 1;
                    parser.push('$', line, column);
                }
                '#' if parser.word.is_none() => {
                    // A comment, to the end of the line.
                    while chars.peek().is_some_and(|&c| c != '\n') {
                        chars.next();
                    }
                }
                ':' if matches!(chars.peek(), None | Some(' ' | '\t' | '\n' | '\r')) => {
                    parser.end_word();
                    parser.colon(line, column)?;
                }
                ' ' | '\t' => parser.end_word(),
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    parser.end_word();
                    parser.end_rule()?;
                    parser.newline();
                }
                '\0' => {
                    return Err(DepfileError {
                        line,
                        column,
                        message: "a NUL byte: this is not a depfile".to_owned(),
                    });
                }
                c => parser.push(c, line, column),
            }
        }
        parser.end_word();
        parser.end_rule()?;
        Ok(parser.found)
    }
}

/// The state of `Depfile::parse`.
struct Parser {
    line: usize,
    column: usize,
    word: Option<Word>,
    rule: Rule,
    found: Depfile,
    seen: rustc_hash::FxHashSet<String>,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            line: 1,
            column: 1,
            word: None,
            rule: Rule::default(),
            found: Depfile::default(),
            seen: rustc_hash::FxHashSet::default(),
        }
    }
}

impl Parser {
    fn newline(&mut self) {
        self.line += 1;
        self.column = 1;
    }

    fn push(&mut self, c: char, line: usize, column: usize) {
        self.word
            .get_or_insert_with(|| Word {
                text: String::new(),
                line,
                column,
            })
            .text
            .push(c);
    }

    fn end_word(&mut self) {
        if let Some(word) = self.word.take() {
            self.rule.words.push(word);
        }
    }

    fn colon(&mut self, line: usize, column: usize) -> Result<(), DepfileError> {
        if self.rule.colon.is_some() {
            return Err(DepfileError {
                line,
                column,
                message: "a second `:` in one rule: expected one `target: prerequisites` rule per line (is a `\\` missing at the end of the line before?)".to_owned(),
            });
        }
        if self.rule.words.is_empty() {
            return Err(DepfileError {
                line,
                column,
                message: "expected a target before `:`".to_owned(),
            });
        }
        self.rule.colon = Some((line, column));
        self.rule.targets = self.rule.words.len();
        Ok(())
    }

    fn end_rule(&mut self) -> Result<(), DepfileError> {
        let rule = std::mem::take(&mut self.rule);
        if rule.colon.is_none() {
            if let Some(first) = rule.words.first() {
                return Err(DepfileError {
                    line: first.line,
                    column: first.column,
                    message: format!(
                        "expected `target: prerequisites`, found `{}` without a `:` after it",
                        first.text
                    ),
                });
            }
            return Ok(());
        }
        for word in rule.words.into_iter().skip(rule.targets) {
            if self.seen.insert(word.text.clone()) {
                self.found.deps.push(word.text);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(text: &str) -> Vec<String> {
        Depfile::parse(text)
            .unwrap_or_else(|error| panic!("{text:?}: {error}"))
            .deps
    }

    fn error(text: &str) -> (usize, usize, String) {
        let error = Depfile::parse(text).expect_err(text);
        (error.line, error.column, error.message)
    }

    #[test]
    fn reads_what_compilers_write() {
        for (text, expected) in [
            ("", &[][..]),
            ("a.o: a.c\n", &["a.c"][..]),
            ("a.o: a.c a.h\n", &["a.c", "a.h"]),
            // gcc -MMD, with continuations.
            (
                "obj/a.o: src/a.c include/x.h \\\n include/y.h\n",
                &["src/a.c", "include/x.h", "include/y.h"],
            ),
            // -MP: empty rules naming the headers as targets.
            ("a.o: a.c a.h b.h\n\na.h:\n\nb.h:\n", &["a.c", "a.h", "b.h"]),
            // Escaped spaces, `$$`, `\#`.
            (
                "a.o: my\\ file.c dollar$$.h hash\\#.h\n",
                &["my file.c", "dollar$.h", "hash#.h"],
            ),
            // Several targets.
            ("a.o a.d: a.c\n", &["a.c"]),
            // Windows line ends and paths with a drive.
            ("a.o: a.c \\\r\n  b.h\r\n", &["a.c", "b.h"]),
            ("a.o: C:/x/a.c\n", &["C:/x/a.c"]),
            // No final newline; a name twice is kept once.
            ("a.o: a.c a.h a.h", &["a.c", "a.h"]),
            // Several rules with prerequisites: all of them.
            ("a.o: a.c\nb.o: b.c a.c\n", &["a.c", "b.c"]),
            // A comment.
            ("# generated\na.o: a.c\n", &["a.c"]),
            // A continuation right after the colon.
            ("a.o: \\\n  a.c\n", &["a.c"]),
        ] {
            assert_eq!(deps(text), expected, "{text:?}");
        }
    }

    #[test]
    fn malformed_depfiles_say_where() {
        for (text, line, column, message) in [
            ("a.c a.h\n", 1, 1, "without a `:`"),
            ("a.o: a.c\nstray words\n", 2, 1, "`stray` without a `:`"),
            (": a.c\n", 1, 1, "expected a target before `:`"),
            ("a.o: a.c b.o: b.c\n", 1, 13, "a second `:`"),
            ("a.o: a\0\n", 1, 7, "NUL"),
        ] {
            let (at_line, at_column, text_of) = error(text);
            assert_eq!((at_line, at_column), (line, column), "{text:?}: {text_of}");
            assert!(text_of.contains(message), "{text:?}: {text_of}");
        }
    }
}
