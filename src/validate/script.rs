//! Compiling `script` values, with rhai's error positions mapped back into the YAML file.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{AST, Engine};
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span};
use crate::parse::location_span;

/// Compiles scripts once each: identical sources share one `AST`.
pub struct ScriptCompiler {
    /// Made with the first script: a workflow without scripts never pays for it.
    engine: Option<Engine>,
    compiled: HashMap<Arc<str>, Arc<AST>>,
}

impl ScriptCompiler {
    /// A compiler with the engine every script runs under.
    #[must_use]
    pub fn new() -> Self {
        Self {
            engine: None,
            compiled: HashMap::new(),
        }
    }

    /// Compiles `script`, or explains where it does not compile.
    pub fn compile(
        &mut self,
        source: &Source,
        script: &Spanned<String>,
        task: &str,
    ) -> Result<(Arc<str>, Arc<AST>), Diagnostic> {
        if let Some((text, ast)) = self.compiled.get_key_value(script.value.as_str()) {
            return Ok((Arc::clone(text), Arc::clone(ast)));
        }
        let engine = self.engine.get_or_insert_with(crate::script::base_engine);
        match engine.compile(&script.value) {
            Ok(ast) => {
                let text: Arc<str> = script.value.as_str().into();
                let ast = Arc::new(ast);
                self.compiled.insert(Arc::clone(&text), Arc::clone(&ast));
                Ok((text, ast))
            }
            Err(error) => {
                let start = location_span(source, script.referenced);
                let at = error.1;
                let (span, label) = match (at.line(), at.position()) {
                    (Some(line), column) => {
                        let column = column.unwrap_or(1);
                        match script_span(source, start, &script.value, line, column) {
                            Some(span) => (span, error.0.to_string()),
                            // The script is not written verbatim in the file: point at its
                            // start and say where in the script the problem is.
                            None => (
                                first_line(source, start),
                                format!("{} (line {line}, column {column} of the script)", error.0),
                            ),
                        }
                    }
                    (None, _) => (start, error.0.to_string()),
                };
                Err(Diagnostic::error(
                    DiagnosticKind::ScriptSyntax,
                    format!("the script of task `{task}` does not compile: {}", error.0),
                )
                .at(span, Some(label))
                .hint("scripts are written in rhai: https://rhai.rs/book/"))
            }
        }
    }
}

/// The span in the YAML file of line `line`, column `column` of a script whose first
/// character is at `start`. Block scalars (`script: |`) keep their indentation on every line,
/// so columns shift by the column where the script starts; a quoted scalar adds its quote.
/// `None` when the script's lines are not in the file as they are, as in a folded (`>`) or
/// multi-line quoted scalar, which joins lines, or a quoted one with escapes.
pub(super) fn script_span(
    source: &Source,
    start: Span,
    script: &str,
    line: usize,
    column: usize,
) -> Option<Span> {
    let (start_line, start_column) = source.position(start.offset);
    let quoted = matches!(
        source.text().as_bytes().get(start.offset),
        Some(b'"' | b'\'')
    );
    let verbatim = script.lines().enumerate().all(|(index, text)| {
        let column = start_column + usize::from(quoted && index == 0);
        let offset = source.offset(start_line + index, column);
        text.is_empty() || source.text()[offset..].starts_with(text)
    });
    if !verbatim {
        return None;
    }
    let column = start_column + column - 1 + usize::from(quoted && line == 1);
    let offset = source.offset(start_line + line - 1, column);
    Some(Span::new(offset, 1))
}

/// The part of `span` on its first line, so that a whole multi-line script is not underlined.
pub(super) fn first_line(source: &Source, span: Span) -> Span {
    let rest = source.text().get(span.offset..).unwrap_or("");
    let line = rest.find('\n').unwrap_or(rest.len());
    Span::new(span.offset, span.len.min(line))
}
