//! Parsing: parts, escapes, located errors and the quoting context of each expression.

use super::*;

/// The single error of parsing `text`, with the bytes its span selects.
fn error(text: &str, flavor: Flavor) -> (String, &str) {
    let errors = parse(text, flavor).expect_err("the template is invalid");
    assert_eq!(errors.len(), 1, "{errors:?}");
    (errors[0].message.clone(), &text[errors[0].span.clone()])
}

fn contexts(text: &str, flavor: Flavor) -> Vec<QuoteContext> {
    exprs(&template(text, flavor))
        .into_iter()
        .map(|expr| expr.quoting.context)
        .collect()
}

#[test]
fn text_without_templates_is_none() {
    assert!(matches!(
        parse("echo $HOME ${x} {{ y }}", Flavor::Shell),
        Ok(None)
    ));
    assert!(matches!(parse("", Flavor::Plain), Ok(None)));
}

#[test]
fn parts_split_text_and_expressions() {
    let text = "a ${{ vars.x }}${{vars.y}} b";
    let template = template(text, Flavor::Plain);
    assert_eq!(template.parts.len(), 4);
    assert!(matches!(&template.parts[0], Part::Text(t) if t == "a "));
    assert!(matches!(&template.parts[3], Part::Text(t) if t == " b"));
    let exprs = exprs(&template);
    assert_eq!(exprs[0].source, "vars.x");
    assert_eq!(&text[exprs[0].span.clone()], "vars.x");
    assert_eq!(&text[exprs[1].span.clone()], "vars.y");
}

#[test]
fn dollar_escapes_a_literal_open() {
    let template = template("$${{ not }} ${{ 1 }} $$${{ x }}", Flavor::Plain);
    assert!(matches!(&template.parts[0], Part::Text(t) if t == "${{ not }} "));
    assert_eq!(exprs(&template).len(), 1);
    assert!(matches!(&template.parts[2], Part::Text(t) if t == " $${{ x }}"));
}

#[test]
fn close_is_the_first_outside_string_literals() {
    let text = r#"${{ "a}}b" + `c}}${"d}}"}` + 'x' }} tail"#;
    let template = template(text, Flavor::Plain);
    assert_eq!(
        exprs(&template)[0].source,
        r#""a}}b" + `c}}${"d}}"}` + 'x'"#
    );
    assert!(matches!(template.parts.last(), Some(Part::Text(t)) if t == " tail"));
    // A nested map literal needs a space before the closing `}}`.
    assert_eq!(
        exprs(&template_of("${{ #{a: #{b: 1} }.a.b }}"))[0].source,
        "#{a: #{b: 1} }.a.b"
    );
}

fn template_of(text: &str) -> Template {
    template(text, Flavor::Plain)
}

#[test]
fn errors_point_at_the_exact_bytes() {
    // The opening of an unclosed expression.
    assert_eq!(
        error("echo ${{ vars.x", Flavor::Plain),
        ("unclosed `${{`".into(), "${{")
    );
    // An empty expression: the whole `${{ }}`.
    assert_eq!(
        error("a ${{  }} b", Flavor::Plain),
        ("empty expression".into(), "${{  }}")
    );
    // Rhai's line and character, mapped back into the text.
    let text = "x ${{ 1 +\n  * 2 }}";
    let errors = parse(text, Flavor::Plain).expect_err("invalid");
    assert_eq!(errors[0].span, 12..13);
    assert_eq!(&text[errors[0].span.clone()], "*");
    assert_eq!(errors[0].message, "unexpected '*'");
    // Non-ASCII before the error counts characters, not bytes.
    assert_eq!(error("${{ \"é\" b }}", Flavor::Plain).1, "b");
    // Statements are not expressions.
    assert_eq!(
        error("${{ let x = 1 }}", Flavor::Plain),
        ("unexpected 'let'".into(), "let")
    );
    // An incomplete expression: an empty span at its end.
    let errors = parse("${{ 1 + }}", Flavor::Plain).expect_err("invalid");
    assert_eq!(errors[0].span, 7..7);
}

#[test]
fn every_error_is_reported() {
    let errors = parse("${{ a b }} ${{ }} ${{ c", Flavor::Plain).expect_err("invalid");
    let spans: Vec<_> = errors.iter().map(|e| e.span.clone()).collect();
    assert_eq!(spans, vec![6..7, 11..17, 18..21]);
}

#[test]
fn conditions_are_one_expression() {
    let expr = parse_condition("  vars.x == \"1\" ").expect("valid");
    assert_eq!(expr.source, "vars.x == \"1\"");
    assert_eq!(expr.span, 2..15);
    let expr = parse_condition(" ${{ success() }} ").expect("valid");
    assert_eq!(expr.source, "success()");
    assert_eq!(expr.span, 5..14);
    let errors = parse_condition("${{ a }} && ${{ b }}").expect_err("two expressions");
    assert_eq!(errors[0].span, 0..20);
    let errors = parse_condition("a +").expect_err("invalid");
    assert_eq!(errors[0].span, 3..3);
    assert!(parse_condition("  ").is_err());
}

#[test]
fn shell_contexts() {
    use QuoteContext::*;
    let cases: &[(&str, &[QuoteContext])] = &[
        ("echo ${{ v }} x${{ v }}y", &[ShellWord, ShellWord]),
        (
            r#"echo "a ${{ v }}" '${{ v }}'"#,
            &[ShellDoubleQuoted, ShellSingleQuoted],
        ),
        (
            r#"echo "$(echo ${{ v }} "${{ v }}")""#,
            &[ShellWord, ShellDoubleQuoted],
        ),
        (
            "echo $(( ${{ v }} + 1 )) $((1 + $(echo ${{ v }})))",
            &[ShellArithmetic, ShellArithmetic],
        ),
        (
            "echo a # ${{ v }}\necho ${{ v }}",
            &[ShellComment, ShellWord],
        ),
        ("echo a#${{ v }}", &[ShellWord]),
        (
            "cat <<EOF\n${{ v }} \"${{ v }}\"\nEOF\necho ${{ v }}",
            &[ShellHereDoc, ShellHereDoc, ShellWord],
        ),
        ("cat <<'EOF'\n$(${{ v }})\nEOF\n", &[ShellQuotedHereDoc]),
        (
            "cat <<E\"O\"F; echo ${{ v }}\n${{ v }}\nEOF\n'${{ v }}'",
            &[ShellWord, ShellQuotedHereDoc, ShellSingleQuoted],
        ),
        (
            "cat <<-EOF\n\t${{ v }}\n\tEOF\n${{ v }}",
            &[ShellHereDoc, ShellWord],
        ),
        (
            "cat <<A <<'B'\n${{ v }}\nA\n${{ v }}\nB\n${{ v }}",
            &[ShellHereDoc, ShellQuotedHereDoc, ShellWord],
        ),
        ("cat <<EOF\n$(echo ${{ v }})\nEOF", &[ShellWord]),
        ("echo $((1 << 2)) ${{ v }}", &[ShellWord]),
        ("cat <<<${{ v }}", &[ShellWord]),
        ("echo `echo ${{ v }}` ${{ v }}", &[ShellWord, ShellWord]),
        ("echo \\'${{ v }}'", &[ShellWord]),
        (
            "echo $'a' ${{ v }} $\"${{ v }}\"",
            &[ShellWord, ShellDoubleQuoted],
        ),
        (
            "(echo) ${{ v }}; echo $( (echo) ) ${{ v }}",
            &[ShellWord, ShellWord],
        ),
        ("echo ${HOME} ${{ v }}", &[ShellWord]),
        ("echo ${x:-$(echo ${{ v }})}", &[ShellWord]),
        ("echo \"${HOME:-'}'}\" ${{ v }}", &[ShellWord]),
    ];
    for (text, expected) in cases {
        assert_eq!(&contexts(text, Flavor::Shell), expected, "{text:?}");
    }
    let backticks = template("echo `echo ${{ v }}` ${{ v }}", Flavor::Shell);
    let backticks = exprs(&backticks);
    assert!(backticks[0].quoting.in_backticks);
    assert!(!backticks[1].quoting.in_backticks);
    let heredoc = template("cat <<-'X'\n$(${{ v }})\nX", Flavor::Shell);
    assert_eq!(
        exprs(&heredoc)[0].quoting.heredoc,
        Some(HereDocEnd {
            delimiter: "X".into(),
            strip_tabs: true
        })
    );
}

#[test]
fn shell_contexts_that_cannot_be_told_are_refused() {
    for (text, message) in [
        ("echo \\${{ v }}", "right after an escaping `\\`"),
        ("echo \"\\${{ v }}\"", "right after an escaping `\\`"),
        ("echo ${x:-${{ v }}}", "inside `${ … }`"),
        ("echo \"${x:-\"${{ v }}\"}\"", "inside `${ … }`"),
        ("echo $'${{ v }}'", "inside `$'…'`"),
        ("echo $'\\'' ${{ v }}", "after a `\\` inside `$'…'`"),
        (
            "x=$(case a in a) echo;; esac) ${{ v }}",
            "after `case` inside `$( )`",
        ),
        ("echo \"`echo ${{ v }}`\"", "backticks within double quotes"),
        (
            "echo `echo \\`a\\` ${{ v }}`",
            "after a `\\` escape inside backticks",
        ),
        ("cat <<${{ v }}\nx\n", "in a here-document delimiter"),
        (
            "cat <<EOF\na\\\nEOF\nEOF\n${{ v }}",
            "a `\\` at the end of a here-document line",
        ),
    ] {
        let (found, span) = error(text, Flavor::Shell);
        assert!(found.contains(message), "{text:?}: {found}");
        assert!(found.starts_with("`${{ v }}` cannot be quoted"), "{found}");
        assert_eq!(span, "${{ v }}", "{text:?}");
    }
}

#[test]
fn script_contexts() {
    use QuoteContext::*;
    let text = "let a = ${{ v }}; let b = \"x${{ v }}\"; let c = `y${{ v }}${ ${{ v }} }`;\n// ${{ v }}\n/* ${{ v }} */";
    assert_eq!(
        contexts(text, Flavor::Script),
        vec![
            ScriptCode,
            ScriptString,
            ScriptBacktick,
            ScriptCode,
            ScriptComment,
            ScriptComment
        ]
    );
    for text in ["\"\\${{ v }}\"", "`\\${{ v }}`", "'${{ v }}'"] {
        assert!(parse(text, Flavor::Script).is_err(), "{text:?}");
    }
    assert_eq!(
        contexts("\"\\\\${{ v }}\"", Flavor::Script),
        vec![ScriptString]
    );
}

#[test]
fn plain_templates_are_verbatim() {
    assert_eq!(
        contexts("'${{ v }}' \"${{ v }}\"", Flavor::Plain),
        vec![QuoteContext::Verbatim, QuoteContext::Verbatim]
    );
}
