//! Rendering of a file's diagnostics: miette's graphical report for people, JSON for tools.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde_json::json;

use super::{Diagnostic, Severity, Source};

/// All diagnostics of one file.
#[derive(Debug)]
pub struct Report {
    /// The file they are about.
    pub source: Arc<Source>,
    /// The problems, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Whether any diagnostic is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// One diagnostic with its source, in the shape miette renders.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<Arc<str>>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.kind.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .hint
            .as_ref()
            .map(|hint| Box::new(hint) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diagnostic
            .primary
            .as_ref()
            .map(|_| &self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self.diagnostic.primary.as_ref()?;
        let first = LabeledSpan::new_primary_with_span(
            primary.text.clone(),
            (primary.span.offset, primary.span.len),
        );
        let others = self.diagnostic.secondary.iter().map(|label| {
            LabeledSpan::new_with_span(label.text.clone(), (label.span.offset, label.span.len))
        });
        Some(Box::new(std::iter::once(first).chain(others)))
    }
}

/// Renders every diagnostic of `report` for a terminal or a log, with `file:line:column`,
/// the source lines, carets and hints. `color` adds ANSI colors.
#[must_use]
pub fn render_human(report: &Report, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let source = NamedSource::new(report.source.name(), report.source.shared_text());
    let mut out = String::new();
    for diagnostic in &report.diagnostics {
        if diagnostic.primary.is_none() {
            // Without a snippet miette would not name the file.
            out.push_str(&format!("{}:\n", report.source.name()));
        }
        let rendered = Rendered {
            diagnostic,
            source: source.clone(),
        };
        // Writing into a String cannot fail; miette only errors on a failing writer.
        let _ = handler.render_report(&mut out, &rendered);
        out.push('\n');
    }
    out
}

/// The diagnostics of `report` as JSON objects: message, severity, kind, file, line, column,
/// length (in bytes), label, hint and the related places.
#[must_use]
pub fn render_json(report: &Report) -> Vec<serde_json::Value> {
    let place = |label: &super::Label| {
        let (line, column) = report.source.position(label.span.offset);
        json!({
            "line": line,
            "column": column,
            "offset": label.span.offset,
            "length": label.span.len,
            "label": label.text,
        })
    };
    report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let primary = diagnostic.primary.as_ref().map(&place);
            let field = |name: &str| primary.as_ref().and_then(|p| p.get(name).cloned());
            json!({
                "message": diagnostic.message,
                "severity": diagnostic.severity,
                "kind": diagnostic.kind,
                "code": diagnostic.kind.code(),
                "file": report.source.name(),
                "line": field("line"),
                "column": field("column"),
                "length": field("length"),
                "label": field("label"),
                "hint": diagnostic.hint,
                "related": diagnostic.secondary.iter().map(&place).collect::<Vec<_>>(),
            })
        })
        .collect()
}
