//! The embedded script language (rhai): one hardened engine configuration shared by the
//! validator (which compiles every script once) and the thread executor (which runs them).

use rhai::Engine;
use rhai::module_resolvers::DummyModuleResolver;

/// A rhai engine with the limits every script runs under: no `import` from disk, bounded
/// expression depth, call depth, string, array and map sizes, and no module registry.
#[must_use]
pub fn base_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.set_max_expr_depths(64, 32);
    engine.set_max_call_levels(64);
    engine.set_max_string_size(64 * 1024 * 1024);
    engine.set_max_array_size(10_000_000);
    engine.set_max_map_size(1_000_000);
    engine.set_max_modules(0);
    // No operation budget: a CPU-bound script may run as long as its `timeout` allows, and
    // timeouts and Ctrl-C stop it through `on_progress`.
    engine.set_max_operations(0);
    engine
}

mod host;

pub use host::{
    CancelToken, ScriptEnd, ScriptScope, run_script, run_script_with_results, script_engine,
};
