//! Templates (`${{ expr }}` in `run`, `script`, `env` and `cwd`), evaluated safely: every
//! value is quoted for where it stands, so a value never becomes shell or rhai syntax. Also
//! the results files tasks write and the masking of secrets in output. Nothing here runs a
//! task, reads a file or knows YAML.

mod mask;
mod results;

pub use mask::Masker;
pub use results::{RESULTS_LIMIT, ResultsError, format_result, is_result_key, parse_results};

#[cfg(test)]
mod tests;
