//! Evaluation: the values expressions see, missing values, conditions, status functions and
//! the engine's limits.

use rhai::Map;

use super::*;

fn plain(text: &str, ctx: &Context) -> Result<String, RenderError> {
    Evaluator::new().render(&template(text, Flavor::Plain), ctx)
}

fn condition(text: &str, ctx: &Context) -> Result<bool, RenderError> {
    let expr = parse_condition(text).expect("valid condition");
    Evaluator::new().condition(&expr, ctx)
}

/// A context with `vars.name`, `env.HOME`, `matrix.os` and a task `build` with a result.
fn run_context() -> Context {
    let mut ctx = Context::default();
    ctx.vars.insert("name".into(), "engine".into());
    ctx.env.insert("HOME".into(), "/home/me".into());
    ctx.matrix.insert("os".into(), "linux".into());
    let mut results = Map::new();
    results.insert("dir".into(), "out/build".into());
    let mut build = Map::new();
    build.insert("status".into(), "success".into());
    build.insert("results".into(), results.into());
    ctx.tasks.insert("build".into(), build.clone().into());
    ctx.tasks
        .insert("test[os=linux,py=3.12]".into(), build.into());
    ctx
}

#[test]
fn expressions_read_every_root() {
    let ctx = run_context();
    assert_eq!(
        plain(
            "${{ vars.name }} ${{ env.HOME }} ${{ matrix.os }} ${{ tasks.build.results.dir }} \
             ${{ tasks[\"test[os=linux,py=3.12]\"].status }} ${{ `${vars.name}-${matrix.os}` }}",
            &ctx
        )
        .expect("renders"),
        "engine /home/me linux out/build success engine-linux"
    );
}

#[test]
fn missing_values_are_errors_naming_the_expression() {
    let ctx = run_context();
    for text in [
        "${{ vars.missing }}",
        "${{ tasks.build.results.missing }}",
        "${{ tasks.nope.results.dir }}",
        "${{ tasks[\"nope\"][\"results\"] }}",
        "${{ if false { 1 } }}",
    ] {
        let error = plain(text, &ctx).expect_err("no value");
        assert!(error.message.starts_with("has no value"), "{text}: {error}");
    }
    let error = plain("${{ tasks.build.results.missing }}", &ctx).expect_err("no value");
    assert_eq!(
        error.to_string(),
        "`${{ tasks.build.results.missing }}` has no value: a missing variable, result or map key"
    );
    let error = plain("${{ nothing }}", &ctx).expect_err("unknown variable");
    assert_eq!(
        error.message,
        "cannot be evaluated: variable not found: nothing"
    );
}

#[test]
fn conditions_must_be_booleans() {
    let ctx = run_context();
    assert_eq!(condition("vars.name == \"engine\"", &ctx), Ok(true));
    assert_eq!(condition("${{ matrix.os != \"linux\" }}", &ctx), Ok(false));
    let error = condition("vars.name", &ctx).expect_err("a string");
    assert_eq!(error.message, "must be true or false, not `engine`");
    let error = condition("vars.nope", &ctx).expect_err("nothing");
    assert!(
        error
            .message
            .starts_with("must be true or false, but it has no value")
    );
}

#[test]
fn status_functions_read_the_dependency_status() {
    let mut ctx = Context::default();
    let evaluator = Evaluator::new();
    let check = |text: &str, ctx: &Context| {
        evaluator
            .condition(&parse_condition(text).expect("valid"), ctx)
            .expect("a boolean")
    };
    ctx.status = DependencyStatus {
        all_succeeded: true,
        any_failed: false,
    };
    assert!(check("success()", &ctx));
    assert!(!check("failure()", &ctx));
    assert!(check("always()", &ctx));
    ctx.status = DependencyStatus {
        all_succeeded: false,
        any_failed: true,
    };
    assert!(!check("success()", &ctx));
    assert!(check("failure()", &ctx));
}

#[test]
fn the_status_is_restored_after_a_panic() {
    let status = DependencyStatus {
        all_succeeded: true,
        any_failed: true,
    };
    let result = std::panic::catch_unwind(|| {
        let _guard = super::super::eval::tests_support::set_status(status);
        panic!("inside an evaluation");
    });
    assert!(result.is_err());
    let expr = parse_condition("success() || failure()").expect("valid");
    assert_eq!(
        Evaluator::new().condition(&expr, &Context::default()),
        Ok(false)
    );
    assert_eq!(
        super::super::eval::tests_support::current_status(),
        DependencyStatus::default()
    );
}

#[test]
fn status_function_calls_are_found() {
    for (text, uses) in [
        ("success()", true),
        ("vars.x == \"1\" && failure ()", true),
        ("always()", true),
        ("vars.success", false),
        ("\"success()\"", false),
        ("x.failure()", false),
        ("successful()", false),
    ] {
        let expr = parse_condition(text).expect("valid");
        assert_eq!(uses_status_function(&expr), uses, "{text}");
    }
}

#[test]
fn the_engine_is_limited() {
    let mut ctx = Context::default();
    let big: rhai::Array = vec![Dynamic::from(0_i64); 50_000];
    ctx.vars.insert("big".into(), big.clone().into());
    ctx.vars.insert("small".into(), big[..100].to_vec().into());
    ctx.matrix.insert("big".into(), big.into());
    // Each element of this array literal costs operations; there are too many.
    let many = format!("${{{{ [{}] }}}}", vec!["vars.small[0]"; 40_000].join(", "));
    for (text, message) in [
        (many.as_str(), "too many operations"),
        // Nested closures: each call's operations are counted from zero, the clock is not.
        (
            "${{ vars.big.map(|x| matrix.big.map(|y| y + x).len()) }}",
            "it ran longer than 2 seconds",
        ),
        (
            "${{ \"x\".pad(10000000, \"y\") }}",
            "length of string too large",
        ),
        ("${{ [0].pad(1000000, 0) }}", "size of array"),
    ] {
        let error = plain(text, &ctx).expect_err("over a limit");
        assert!(
            error.message.to_lowercase().contains(message),
            "{}: {}",
            &text[..40],
            error.message
        );
    }
    assert_eq!(
        plain("${{ vars.small.map(|x| x + 1).len() }}", &ctx).as_deref(),
        Ok("100")
    );
    // No `eval`, and `print` writes nothing (its value is `()`).
    assert!(parse("${{ eval(\"1\") }}", Flavor::Plain).is_err());
    assert!(plain("${{ print(\"x\") }}", &ctx).is_err());
}

#[test]
fn raw_text_is_verbatim_everywhere() {
    let mut ctx = Context::default();
    ctx.vars.insert("code".into(), "a \"b\"".into());
    for (text, flavor, expected) in [
        ("'${{ raw(vars.code) }}'", Flavor::Shell, "'a \"b\"'"),
        ("\"${{ raw(vars.code) }}\"", Flavor::Script, "\"a \"b\"\""),
        ("${{ raw(vars.code) }}", Flavor::Script, "a \"b\""),
        ("${{ raw(42) }}", Flavor::Plain, "42"),
    ] {
        let rendered = Evaluator::new().render(&template(text, flavor), &ctx);
        assert_eq!(rendered.as_deref(), Ok(expected), "{text}");
    }
    let error = plain("${{ raw(vars.nope) }}", &ctx).expect_err("nothing to insert");
    assert!(error.message.contains("raw()"), "{error}");
}

#[test]
fn evaluators_are_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Evaluator>();
    shared::<Template>();
}
