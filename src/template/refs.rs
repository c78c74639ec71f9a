//! The names an expression reads (`vars.x`, `env.X`, `matrix.k`, `tasks.t.results.k`), with
//! their bytes in the template text, so that `engine check` can point at unknown ones. Found
//! by a lexical scan that skips string literals and comments (rhai's AST walk needs its
//! `internals` feature); it does not evaluate anything.

use std::ops::Range;

use super::lex::{Token, TokenKind, tokenize};
use super::parse::Expr;

/// The map a reference starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// `vars`
    Vars,
    /// `env`
    Env,
    /// `matrix`
    Matrix,
    /// `tasks`
    Tasks,
    /// `params`
    Params,
}

impl Root {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "vars" => Self::Vars,
            "env" => Self::Env,
            "matrix" => Self::Matrix,
            "tasks" => Self::Tasks,
            "params" => Self::Params,
            _ => return None,
        })
    }

    /// The name written in expressions.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Vars => "vars",
            Self::Env => "env",
            Self::Matrix => "matrix",
            Self::Tasks => "tasks",
            Self::Params => "params",
        }
    }
}

/// One name an expression reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The map it reads from.
    pub root: Root,
    /// The key read from it: a variable, environment variable, matrix key or task name.
    pub name: String,
    /// The bytes of `name` in the template text (inside the quotes for the `["…"]` form).
    pub span: Range<usize>,
    /// For `tasks.t.results.k`: the result key and its bytes.
    pub field: Option<(String, Range<usize>)>,
}

/// Every `vars.x`, `env.X`, `matrix.k` and `tasks.t` (with `tasks.t.results.k` as a field),
/// also in the `["…"]` and `?.` forms, outside string literals and comments. Spans are in
/// the template text (`expr.span.start` is added).
#[must_use]
pub fn references(expr: &Expr) -> Vec<Reference> {
    let source = &expr.source;
    let base = expr.span.start;
    let tokens = tokenize(source);
    let mut found = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let after_dot = index > 0 && tokens[index - 1].kind == TokenKind::Dot;
        if token.kind != TokenKind::Ident || after_dot {
            continue;
        }
        let Some(root) = Root::from_name(&source[token.span.clone()]) else {
            continue;
        };
        let rest = &tokens[index + 1..];
        let Some((name, span, used)) = key(source, rest) else {
            continue;
        };
        let mut field = None;
        if root == Root::Tasks
            && let Some((results, _, more)) = key(source, &rest[used..])
            && results == "results"
            && let Some((result, span, _)) = key(source, &rest[used + more..])
        {
            field = Some((result, base + span.start..base + span.end));
        }
        found.push(Reference {
            root,
            name,
            span: base + span.start..base + span.end,
            field,
        });
    }
    found
}

/// A `.name`, `?.name`, `["name"]` or `?["name"]` at the start of `tokens`: the key, its
/// bytes in the source and how many tokens it took.
fn key(source: &str, tokens: &[Token]) -> Option<(String, Range<usize>, usize)> {
    match tokens {
        [dot, name, ..] if dot.kind == TokenKind::Dot && name.kind == TokenKind::Ident => {
            Some((source[name.span.clone()].to_owned(), name.span.clone(), 2))
        }
        [open, string, close, ..]
            if open.kind == TokenKind::Open && close.kind == TokenKind::Close =>
        {
            match &string.kind {
                TokenKind::Str(value) => Some((value.clone(), string.span.clone(), 3)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Flavor, Part, parse};

    /// A reference as the text its spans select: root, name, name's text, field and its text.
    type Shown<'t> = (Root, String, &'t str, Option<(String, &'t str)>);

    /// The references of the one expression in `text`.
    fn refs(text: &str) -> Vec<Shown<'_>> {
        let template = parse(text, Flavor::Plain)
            .expect("valid template")
            .expect("has an expression");
        let Some(Part::Expr(expr)) = template.parts.iter().find(|p| matches!(p, Part::Expr(_)))
        else {
            panic!("no expression");
        };
        references(expr)
            .into_iter()
            .map(|r| {
                let field = r.field.map(|(key, span)| (key, &text[span]));
                (r.root, r.name, &text[r.span], field)
            })
            .collect()
    }

    #[test]
    fn dotted_references_have_exact_spans() {
        assert_eq!(
            refs("x ${{ vars.name + env.HOME }} y"),
            vec![
                (Root::Vars, "name".into(), "name", None),
                (Root::Env, "HOME".into(), "HOME", None),
            ]
        );
        assert_eq!(
            refs("${{ tasks.build.results.dir }}"),
            vec![(
                Root::Tasks,
                "build".into(),
                "build",
                Some(("dir".into(), "dir"))
            )]
        );
        assert_eq!(
            refs("${{ tasks.build.status == \"success\" }}"),
            vec![(Root::Tasks, "build".into(), "build", None)]
        );
    }

    #[test]
    fn index_forms_reach_matrix_task_names() {
        assert_eq!(
            refs(r#"${{ tasks["test[os=linux,py=3.12]"]?["results"].log + matrix?.os }}"#),
            vec![
                (
                    Root::Tasks,
                    "test[os=linux,py=3.12]".into(),
                    "test[os=linux,py=3.12]",
                    Some(("log".into(), "log"))
                ),
                (Root::Matrix, "os".into(), "os", None),
            ]
        );
    }

    #[test]
    fn strings_comments_and_properties_are_not_references() {
        assert_eq!(
            refs(r#"${{ "vars.a" + x.vars.b /* env.C */ + `env.D ${env.E}` }}"#),
            vec![(Root::Env, "E".into(), "E", None)]
        );
    }

    #[test]
    fn escaped_index_names_are_resolved_and_span_the_raw_text() {
        assert_eq!(
            refs(r#"${{ vars["a\"b"] }}"#),
            vec![(Root::Vars, "a\"b".into(), r#"a\"b"#, None)]
        );
    }
}
