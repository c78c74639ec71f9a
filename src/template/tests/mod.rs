//! Tests of templates across their parts: parsing and quoting contexts, rendering into real
//! shells and a real rhai engine, evaluation, and results files.

use rhai::Dynamic;

use super::*;

mod eval;
mod parse;
mod script;
mod shell;

/// The template of `text`, which must parse and contain `${{`.
fn template(text: &str, flavor: Flavor) -> Template {
    parse(text, flavor)
        .unwrap_or_else(|errors| panic!("{text:?} does not parse: {errors:?}"))
        .unwrap_or_else(|| panic!("{text:?} has no `${{{{`"))
}

/// The expressions of a template, in order.
fn exprs(template: &Template) -> Vec<&Expr> {
    template
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Expr(expr) => Some(expr),
            Part::Text(_) => None,
        })
        .collect()
}

/// A context whose `vars.v` is `value`.
fn with_v(value: impl Into<Dynamic>) -> Context {
    let mut ctx = Context::default();
    ctx.vars.insert("v".into(), value.into());
    ctx
}

/// `text` rendered with `vars.v` set to `value`.
fn render(text: &str, flavor: Flavor, value: impl Into<Dynamic>) -> Result<String, RenderError> {
    Evaluator::new().render(&template(text, flavor), &with_v(value))
}
