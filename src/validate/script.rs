//! Compiling `script` values, with rhai's error positions mapped back into the YAML file.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{AST, Engine};
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Source, Span};
use crate::parse::location_span;

/// Compiles scripts once each: identical sources share one `AST`.
pub struct ScriptCompiler {
    engine: Engine,
    compiled: HashMap<Arc<str>, Arc<AST>>,
}

impl ScriptCompiler {
    /// A compiler with the engine every script runs under.
    #[must_use]
    pub fn new() -> Self {
        Self {
            engine: crate::script::base_engine(),
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
        match self.engine.compile(&script.value) {
            Ok(ast) => {
                let text: Arc<str> = script.value.as_str().into();
                let ast = Arc::new(ast);
                self.compiled.insert(Arc::clone(&text), Arc::clone(&ast));
                Ok((text, ast))
            }
            Err(error) => {
                let start = location_span(source, script.referenced);
                let at = error.1;
                let span = match (at.line(), at.position()) {
                    (Some(line), column) => script_span(source, start, line, column.unwrap_or(1)),
                    (None, _) => start,
                };
                Err(Diagnostic::error(
                    DiagnosticKind::ScriptSyntax,
                    format!("the script of task `{task}` does not compile: {}", error.0),
                )
                .at(span, Some(error.0.to_string()))
                .hint("scripts are written in rhai: https://rhai.rs/book/"))
            }
        }
    }
}

/// The span in the YAML file of line `line`, column `column` of a script whose first
/// character is at `start`. Block scalars (`script: |`) keep their indentation on every line,
/// so columns shift by the column where the script starts; a quoted scalar adds its quote.
fn script_span(source: &Source, start: Span, line: usize, column: usize) -> Span {
    let (start_line, start_column) = source.position(start.offset);
    let quoted = matches!(
        source.text().as_bytes().get(start.offset),
        Some(b'"' | b'\'')
    );
    let column = start_column + column - 1 + usize::from(quoted && line == 1);
    let offset = source.offset(start_line + line - 1, column);
    Span::new(offset, 1)
}
