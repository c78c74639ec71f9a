//! The embedded script language (rhai): one hardened engine configuration shared by the
//! validator (which compiles every script once) and the thread executor (which runs them),
//! and the value helpers (paths, `from_json`) scripts and templates share.

use rhai::Engine;
use rhai::module_resolvers::DummyModuleResolver;

/// The stack of every thread that runs scripts (and of the threads that compile them): room for
/// [`MAX_DATA_DEPTH`] levels of data walked recursively (printing a value takes several KiB
/// per level in a debug build), inside 64 levels of function calls. Only the pages a script
/// touches are ever used.
pub const STACK_BYTES: usize = 256 * 1024 * 1024;

/// The longest string a script may hold, and so the largest file `read_file` reads.
pub const MAX_STRING_BYTES: usize = 64 * 1024 * 1024;

/// A rhai engine with the limits every script runs under: no `import` from disk, bounded
/// expression depth, call depth, data depth, string, array and map sizes, and no module
/// registry.
#[must_use]
pub fn base_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.set_max_expr_depths(64, 32);
    engine.set_max_call_levels(64);
    engine.set_max_string_size(MAX_STRING_BYTES);
    engine.set_max_array_size(10_000_000);
    engine.set_max_map_size(1_000_000);
    engine.set_max_modules(0);
    // No operation budget: a CPU-bound script may run as long as its `timeout` allows, and
    // timeouts and Ctrl-C stop it through `on_progress`.
    engine.set_max_operations(0);
    // Every value that could be made deeper is read from a variable first: refusing to read
    // one that is already too deep bounds the depth of everything a script holds.
    #[expect(
        deprecated,
        reason = "rhai marks `on_var` as volatile, not as going away"
    )]
    engine
        .on_var(|name, _, mut context| depth::check_read(context.scope_mut(), name).map(|()| None));
    // Tags stamp the values whose depth was measured (see `depth`): scripts may read them but
    // not set them, so a stamp cannot be forged.
    let reserved = |_: &mut rhai::Dynamic, _: rhai::INT| -> Result<(), Box<rhai::EvalAltResult>> {
        Err("tags are reserved by engine".into())
    };
    engine.register_fn("set_tag", reserved);
    engine.register_set("tag", reserved);
    engine
}

mod depth;
mod helpers;
mod host;

pub use depth::{MAX_DATA_DEPTH, count_operation, run_epochs};
pub use helpers::register_helpers;

pub use host::{
    CancelToken, ScriptEnd, ScriptScope, run_script, run_script_with_results, script_engine,
};
