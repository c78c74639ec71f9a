//! Templates (`${{ expr }}` in `run`, `script`, `env` and `cwd`), evaluated safely: every
//! value is quoted for where it stands, so a value never becomes shell or rhai syntax. Also
//! the masking of secrets in output. Nothing here runs a task, reads a file or knows YAML.

mod eval;
mod heredoc;
mod lex;
mod mask;
pub mod names;
mod parse;
mod quote;
mod refs;
mod shell;
mod value;

pub use eval::{Context, DependencyStatus, Evaluator, RenderError, uses_status_function};
pub use mask::{MaskError, MaskStream, Masker};
pub use parse::{Expr, Flavor, Part, Template, TemplateError, parse, parse_condition};
pub use quote::{HereDocEnd, QuoteContext, Quoting};
pub use refs::{Reference, Root, references};
pub use value::Raw;

#[cfg(test)]
mod tests;
