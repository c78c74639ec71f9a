//! The one table of what templates (`${{ }}`), conditions (`if`) and scripts may call and
//! read beyond rhai's own functions: `engine check` refuses what it does not list for a place,
//! the run time registers exactly these (tests hold the two together), and the README's list
//! is checked against it. It runs nothing.

use super::lex::{TokenKind, tokenize};

/// Where an expression or a script stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `${{ }}` in `run`, `script`, `env`, `cwd`, `inputs` or `outputs`.
    Template,
    /// A task's `if`.
    Condition,
    /// The code of a `script`.
    Script,
    /// A matrix axis written as a template (`src: ${{ glob("src/*.c") }}`), evaluated when
    /// the workflow is loaded.
    MatrixAxis,
}

impl Place {
    /// How messages name the place.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Template => "a template",
            Self::Condition => "an `if` condition",
            Self::Script => "a script",
            Self::MatrixAxis => "a matrix axis",
        }
    }
}

const EXPRESSIONS: &[Place] = &[Place::Template, Place::Condition];
const EVERYWHERE: &[Place] = &[Place::Template, Place::Condition, Place::Script];
const SCRIPTS: &[Place] = &[Place::Script];
const ANYWHERE: &[Place] = &[
    Place::Template,
    Place::Condition,
    Place::Script,
    Place::MatrixAxis,
];
/// Only where the files are read once, when the workflow is loaded: a glob in `run` would
/// change under the engine's feet.
const MATRIX_AXES: &[Place] = &[Place::MatrixAxis];

/// A function of the engine's own.
#[derive(Debug)]
pub struct Function {
    /// Its name.
    pub name: &'static str,
    /// How many arguments it takes.
    pub arity: usize,
    /// Where it may be called.
    pub places: &'static [Place],
    /// A call that works, for the README and the tests.
    pub example: &'static str,
}

/// A value that may be read.
#[derive(Debug)]
pub struct Field {
    /// Its path, with `<…>` for the part the workflow names.
    pub path: &'static str,
    /// Where it may be read.
    pub places: &'static [Place],
}

/// The engine's own functions.
pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "success",
        arity: 0,
        places: EXPRESSIONS,
        example: "success()",
    },
    Function {
        name: "failure",
        arity: 0,
        places: EXPRESSIONS,
        example: "failure()",
    },
    Function {
        name: "always",
        arity: 0,
        places: EXPRESSIONS,
        example: "always()",
    },
    Function {
        name: "raw",
        arity: 1,
        places: EXPRESSIONS,
        example: "raw(\"a b\")",
    },
    Function {
        name: "glob",
        arity: 1,
        places: MATRIX_AXES,
        example: "glob(\"src/*.c\")",
    },
    Function {
        name: "stem",
        arity: 1,
        places: ANYWHERE,
        example: "stem(\"src/lapi.c\")",
    },
    Function {
        name: "basename",
        arity: 1,
        places: ANYWHERE,
        example: "basename(\"src/lapi.c\")",
    },
    Function {
        name: "dirname",
        arity: 1,
        places: ANYWHERE,
        example: "dirname(\"src/lapi.c\")",
    },
    Function {
        name: "with_ext",
        arity: 2,
        places: ANYWHERE,
        example: "with_ext(\"src/lapi.c\", \"o\")",
    },
    Function {
        name: "from_json",
        arity: 1,
        places: ANYWHERE,
        example: "from_json(\"[1, 2]\")",
    },
    Function {
        name: "result",
        arity: 2,
        places: SCRIPTS,
        example: "result(\"key\", 1)",
    },
    Function {
        name: "sleep",
        arity: 1,
        places: SCRIPTS,
        example: "sleep(0)",
    },
    Function {
        name: "env",
        arity: 1,
        places: SCRIPTS,
        example: "env(\"HOME\")",
    },
    Function {
        name: "read_file",
        arity: 1,
        places: SCRIPTS,
        example: "read_file(\"in.txt\")",
    },
    Function {
        name: "write_file",
        arity: 2,
        places: SCRIPTS,
        example: "write_file(\"out.txt\", \"x\")",
    },
];

/// The values templates, conditions and scripts read.
pub const FIELDS: &[Field] = &[
    Field {
        path: "vars.<name>",
        places: EVERYWHERE,
    },
    Field {
        path: "matrix.<key>",
        places: EVERYWHERE,
    },
    Field {
        path: "params.<name>",
        places: EVERYWHERE,
    },
    Field {
        path: "args",
        places: EVERYWHERE,
    },
    Field {
        path: "env.<NAME>",
        places: EXPRESSIONS,
    },
    Field {
        path: "tasks.<name>.status",
        places: EVERYWHERE,
    },
    Field {
        path: "tasks.<name>.results.<key>",
        places: EVERYWHERE,
    },
    Field {
        path: "tasks.<name>.outputs",
        places: EVERYWHERE,
    },
];

/// The values `tasks.<name>.status` takes.
pub const STATUSES: &[&str] = &["success", "failure", "skipped", "cancelled"];

/// Functions rhai itself provides to every engine (its keywords and standard packages): the
/// engine's hardening removes `eval` from templates, the rest may be called anywhere.
const RHAI_KEYWORDS: &[&str] = &[
    "Fn",
    "call",
    "curry",
    "debug",
    "eval",
    "is_def_fn",
    "is_def_var",
    "is_shared",
    "print",
    "type_of",
];

/// Rhai's keywords, which may stand before a `(` without being called: `if (x) { … }`.
const RHAI_RESERVED: &[&str] = &[
    "as", "break", "catch", "const", "continue", "do", "else", "export", "false", "fn", "for",
    "global", "if", "import", "in", "let", "loop", "private", "return", "switch", "this", "throw",
    "true", "try", "until", "while",
];

/// The engine function `name`, if it is one.
#[must_use]
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|function| function.name == name)
}

/// Whether rhai provides a function `name` to every engine.
#[must_use]
pub fn is_rhai_function(name: &str) -> bool {
    RHAI_KEYWORDS.contains(&name) || RHAI_FUNCTIONS.binary_search(&name).is_ok()
}

/// A function call in an expression or script that is not allowed where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCall {
    /// The name called.
    pub name: String,
    /// Its bytes in the source.
    pub span: std::ops::Range<usize>,
    /// What is wrong, as a message.
    pub message: String,
    /// What to do instead.
    pub hint: String,
}

/// The calls in `source` (rhai code at `place`) of functions that do not exist there: an
/// engine function of another place, or a name neither the engine, rhai nor the code itself
/// (`fn name`, a variable holding a function) defines. Method calls (`x.len()`) are rhai's
/// and not checked.
#[must_use]
pub fn bad_calls(source: &str, place: Place) -> Vec<BadCall> {
    let tokens = tokenize(source);
    let text = |index: usize| &source[tokens[index].span.clone()];
    // Names the code defines or binds: anything used other than as a call.
    let mut defined = std::collections::HashSet::new();
    for (index, token) in tokens.iter().enumerate() {
        if token.kind != TokenKind::Ident {
            continue;
        }
        let called = tokens
            .get(index + 1)
            .is_some_and(|next| next.kind == TokenKind::Paren);
        let after_fn = index > 0 && text(index - 1) == "fn";
        if !called || after_fn {
            defined.insert(text(index));
        }
    }
    let mut found = Vec::new();
    for (index, pair) in tokens.windows(2).enumerate() {
        let after_dot = index > 0 && tokens[index - 1].kind == TokenKind::Dot;
        let after_fn = index > 0 && text(index - 1) == "fn";
        if pair[0].kind != TokenKind::Ident
            || pair[1].kind != TokenKind::Paren
            || after_dot
            || after_fn
        {
            continue;
        }
        let name = text(index);
        if RHAI_RESERVED.contains(&name) {
            continue;
        }
        let problem = match function(name) {
            Some(function) if function.places.contains(&place) || is_rhai_function(name) => None,
            Some(function) => Some((
                format!("`{name}()` cannot be called in {}", place.describe()),
                format!(
                    "`{name}()` works only in {}",
                    function
                        .places
                        .iter()
                        .map(|place| place.describe())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )),
            None if is_rhai_function(name) || defined.contains(name) => None,
            None => Some((
                format!("unknown function `{name}()` in {}", place.describe()),
                if name == "cancelled" {
                    // GitHub Actions' status function; engine starts no task once a run is
                    // interrupted, so it could never be true.
                    format!(
                        "engine starts no task after Ctrl-C, so GitHub Actions' `cancelled()` \
                         would never be true here ({})",
                        known_here(place)
                    )
                } else {
                    known_here(place)
                },
            )),
        };
        if let Some((message, hint)) = problem {
            found.push(BadCall {
                name: name.to_owned(),
                span: pair[0].span.clone(),
                message,
                hint,
            });
        }
    }
    found
}

/// The hint listing the engine functions of `place`.
fn known_here(place: Place) -> String {
    let names: Vec<String> = FUNCTIONS
        .iter()
        .filter(|function| function.places.contains(&place))
        .map(|function| format!("`{}`", function.example))
        .collect();
    format!(
        "{} can call {} and rhai's functions (https://rhai.rs/book/)",
        place.describe(),
        names.join(", ")
    )
}

/// The functions of rhai's standard packages (rhai 1.27, `Engine::new()`), sorted: made with
/// its `metadata` feature from `Engine::gen_fn_signatures(true)`.
const RHAI_FUNCTIONS: &[&str] = &[
    "E",
    "PI",
    "abs",
    "acos",
    "acosh",
    "all",
    "append",
    "as_string",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "bits",
    "blob",
    "bytes",
    "ceiling",
    "chars",
    "chop",
    "clear",
    "contains",
    "cos",
    "cosh",
    "crop",
    "debug",
    "dedup",
    "drain",
    "elapsed",
    "end",
    "ends_with",
    "exit",
    "exp",
    "extract",
    "fill_with",
    "filter",
    "find",
    "find_map",
    "floor",
    "for_each",
    "fraction",
    "get",
    "get_bit",
    "get_bits",
    "get_fn_metadata_list",
    "hypot",
    "index_of",
    "insert",
    "int",
    "is_anonymous",
    "is_empty",
    "is_even",
    "is_exclusive",
    "is_finite",
    "is_inclusive",
    "is_infinite",
    "is_nan",
    "is_odd",
    "is_zero",
    "keys",
    "len",
    "ln",
    "log",
    "make_lower",
    "make_upper",
    "map",
    "max",
    "min",
    "mixin",
    "name",
    "order",
    "order_by",
    "order_desc",
    "pad",
    "parse_be_float",
    "parse_be_int",
    "parse_float",
    "parse_int",
    "parse_json",
    "parse_le_float",
    "parse_le_int",
    "pop",
    "print",
    "push",
    "range",
    "reduce",
    "reduce_rev",
    "remove",
    "replace",
    "retain",
    "reverse",
    "round",
    "set",
    "set_bit",
    "set_bits",
    "set_tag",
    "shift",
    "sign",
    "sin",
    "sinh",
    "sleep",
    "some",
    "sort",
    "sort_by",
    "sort_desc",
    "splice",
    "split",
    "split_rev",
    "sqrt",
    "start",
    "starts_with",
    "sub_string",
    "tag",
    "take",
    "tan",
    "tanh",
    "timestamp",
    "to_array",
    "to_binary",
    "to_blob",
    "to_chars",
    "to_debug",
    "to_degrees",
    "to_float",
    "to_hex",
    "to_int",
    "to_json",
    "to_lower",
    "to_octal",
    "to_radians",
    "to_string",
    "to_upper",
    "trim",
    "truncate",
    "values",
    "write_ascii",
    "write_be",
    "write_le",
    "write_utf8",
    "zip",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rhai_list_is_sorted_so_that_it_can_be_searched() {
        assert!(RHAI_FUNCTIONS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    /// Whether `engine` knows a function called as in `call` (it may still fail).
    fn callable(engine: &rhai::Engine, call: &str) -> bool {
        match engine.eval::<rhai::Dynamic>(call) {
            Err(error) => !matches!(
                *error,
                rhai::EvalAltResult::ErrorFunctionNotFound(ref signature, _)
                    if signature.starts_with(call.split('(').next().unwrap_or(call))
            ),
            Ok(_) => true,
        }
    }

    #[test]
    fn the_engines_register_exactly_what_the_table_allows() {
        let template = crate::template::eval::template_engine();
        let script = crate::script::script_engine();
        for function in FUNCTIONS {
            let in_expressions = function.places.contains(&Place::Template);
            assert_eq!(
                function.places.contains(&Place::Condition),
                in_expressions,
                "{}: templates and conditions share one engine",
                function.name
            );
            if !is_rhai_function(function.name) {
                assert_eq!(
                    callable(&template, function.example),
                    in_expressions,
                    "{} in the template engine",
                    function.name
                );
            }
            // The functions of every place are pure: the script engine has them too.
            if function.places == ANYWHERE {
                assert!(
                    callable(&script, function.example),
                    "{} in the script engine",
                    function.name
                );
            }
            // Matrix axes have the template engine's functions and `glob`.
            if function.places.contains(&Place::MatrixAxis) {
                let axes = crate::template::eval::axis_engine(|_| Ok(Vec::new()));
                assert!(
                    callable(&axes, function.example),
                    "{} in matrix axes",
                    function.name
                );
            }
            // Script functions do I/O; they are called by the run tests of every entry.
            if !function.places.contains(&Place::Script) {
                assert!(
                    !callable(&script, function.example),
                    "{} in the script engine",
                    function.name
                );
            }
        }
    }

    /// How the README names a place in its table.
    fn readme_place(place: Place) -> &'static str {
        match place {
            Place::Template => "templates",
            Place::Condition => "`if`",
            Place::Script => "scripts",
            Place::MatrixAxis => "matrix axes",
        }
    }

    #[test]
    fn the_readme_lists_exactly_the_table() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("| Function or field | Where |")
            .expect("the README's table");
        let rows: Vec<(String, String)> = readme[start..]
            .lines()
            .skip(2)
            .map(str::trim)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                (cells[0].trim_matches('`').to_owned(), cells[1].to_owned())
            })
            .collect();
        let places = |places: &[Place]| {
            places
                .iter()
                .map(|&place| readme_place(place))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let expected: Vec<(String, String)> = FUNCTIONS
            .iter()
            .map(|function| {
                let name = rows
                    .iter()
                    .map(|(name, _)| name)
                    .find(|name| name.split('(').next() == Some(function.name))
                    .cloned()
                    .unwrap_or_else(|| format!("{}(...)", function.name));
                let arguments = name
                    .split_once('(')
                    .map_or("", |(_, rest)| rest.trim_end_matches(')'));
                let arity = arguments
                    .split(',')
                    .filter(|a| !a.trim().is_empty())
                    .count();
                assert_eq!(arity, function.arity, "arguments of `{name}` in the README");
                (name, places(function.places))
            })
            .chain(
                FIELDS
                    .iter()
                    .map(|field| (field.path.to_owned(), places(field.places))),
            )
            .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn engine_functions_are_checked_by_place() {
        assert_eq!(bad_calls("success() && always()", Place::Condition), []);
        let found = bad_calls("let x = success(); result(\"k\", x);", Place::Script);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].name, "success");
        assert_eq!(found[0].span, 8..15);
        let found = bad_calls("cancelled() || failure()", Place::Condition);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("unknown function `cancelled()`"));
        assert!(found[0].hint.contains("after Ctrl-C"), "{}", found[0].hint);
    }

    #[test]
    fn rhai_functions_methods_and_the_codes_own_functions_are_not_checked() {
        let script = "fn twice(x) { x * 2 } let f = |y| y; print(twice(parse_int(\"1\")).to_string().len()); f(1); if (f(2) > 1) { return (3); } while (false) {} switch (1) { _ => () }";
        assert_eq!(bad_calls(script, Place::Script), []);
    }
}
