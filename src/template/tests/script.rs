//! Values rendered into rhai scripts and run by a real rhai engine: each must come back
//! exactly as it was.

use rhai::{Array, Engine, Map};

use super::*;

/// Values whose text would break a rhai string, backtick string or comment.
const HOSTILE: &[&str] = &[
    "plain",
    "",
    "\"; throw \"pwned\"; \"",
    "quote \" and 'single'",
    "back\\slash\\",
    "line 1\nline 2\r\n",
    "`${throw \"pwned\"}`",
    "${x}",
    "}",
    "*/ throw \"pwned\" /*",
    "// x",
    "\u{1} \u{7f} \t",
    "héllo 日本 🎉",
    "\\${",
    "\\",
];

/// Runs a rendered script and returns its value.
fn run(script: &str) -> Dynamic {
    let engine = Engine::new();
    engine
        .eval::<Dynamic>(script)
        .unwrap_or_else(|error| panic!("{script:?} failed: {error}"))
}

#[test]
fn strings_round_trip_in_every_context() {
    let script = "let code = ${{ vars.v }};\n\
                  let string = \"<${{ vars.v }}>\";\n\
                  let backtick = `<${{ vars.v }}>`;\n\
                  // ${{ vars.v }}\n\
                  /* ${{ vars.v }} */\n\
                  [code, string, backtick]";
    for value in HOSTILE {
        let rendered = render(script, Flavor::Script, value.to_string()).expect("renders");
        let result: Array = run(&rendered).cast();
        let texts: Vec<String> = result.into_iter().map(|v| v.to_string()).collect();
        let wrapped = format!("<{value}>");
        assert_eq!(
            texts,
            vec![value.to_string(), wrapped.clone(), wrapped],
            "{rendered}"
        );
    }
}

#[test]
fn code_gets_rhai_literals() {
    let code = |value: Dynamic| render("${{ vars.v }}", Flavor::Script, value).expect("renders");
    assert_eq!(code(42_i64.into()), "42");
    assert_eq!(code((-3_i64).into()), "(-3)");
    assert_eq!(code(true.into()), "true");
    assert_eq!(code(1.5_f64.into()), "1.5");
    assert_eq!(code(1e300_f64.into()), "1.0e300");
    assert_eq!(code('\''.into()), "'\\''");
    let array: Array = vec![1_i64.into(), "a\"b".into(), Dynamic::UNIT];
    assert_eq!(code(array.into()), "[1, \"a\\\"b\", ()]");
    let mut map = Map::new();
    map.insert("a key".into(), (-1.5_f64).into());
    assert_eq!(code(map.into()), "#{\"a key\": (-1.5)}");
    let error = render("${{ 1.0 / 0.0 }}", Flavor::Script, 0_i64).expect_err("infinite");
    assert_eq!(error.message, "cannot be written as a rhai literal: `inf`");
}

#[test]
fn code_literals_evaluate_to_the_value() {
    let mut map = Map::new();
    map.insert(
        "k\"ey".into(),
        vec![Dynamic::from(-7_i64), 'x'.into(), 0.25_f64.into()].into(),
    );
    map.insert("n".into(), 5e-324_f64.into());
    let numbers: Vec<Dynamic> = vec![
        (-5_i64).into(),
        (-0.5_f64).into(),
        1e-7_f64.into(),
        1e300_f64.into(),
        5e-324_f64.into(),
    ];
    for value in numbers {
        // `0-` followed by a negative literal must not read as `0--`.
        let rendered = render(
            "[0-${{ vars.v }}, ${{ vars.v }}]",
            Flavor::Script,
            value.clone(),
        )
        .expect("renders");
        let result: Array = run(&rendered).cast();
        assert_eq!(result[1].to_string(), value.to_string(), "{rendered}");
    }
    let values: Vec<Dynamic> = vec!['\n'.into(), '"'.into(), '\''.into(), map.into()];
    for value in values {
        let rendered = render("${{ vars.v }}", Flavor::Script, value.clone()).expect("renders");
        assert_eq!(run(&rendered).to_string(), value.to_string(), "{rendered}");
    }
    let rendered = render("${{ vars.v }}", Flavor::Script, i64::MIN).expect("renders");
    assert_eq!(run(&rendered).as_int(), Ok(i64::MIN));
}

#[test]
fn plain_values_are_their_text() {
    let mut map = Map::new();
    map.insert("b".into(), vec![Dynamic::from(1_i64), "x".into()].into());
    map.insert("a".into(), Dynamic::UNIT);
    assert_eq!(
        render("${{ vars.v }}", Flavor::Plain, map).expect("renders"),
        r#"{"a":null,"b":[1,"x"]}"#
    );
    assert_eq!(
        render("x${{ vars.v }}", Flavor::Plain, 2.5_f64).expect("renders"),
        "x2.5"
    );
    assert_eq!(
        render("${{ vars.v }}", Flavor::Plain, "it's \"$x\"".to_owned()).expect("renders"),
        "it's \"$x\""
    );
}
