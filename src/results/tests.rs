//! Results files: the `$GITHUB_OUTPUT` format, its errors and its formatting.

use super::*;

fn parsed(text: &str) -> Result<Vec<(String, String)>, String> {
    parse_results(text.as_bytes(), RESULTS_LIMIT).map_err(|error| error.to_string())
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn results_files_parse() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("", &[]),
        ("\n\n  \n", &[]),
        ("a=1\nb=x=y\n", &[("a", "1"), ("b", "x=y")]),
        ("empty=\n", &[("empty", "")]),
        ("a=1\r\nb=2\r\n", &[("a", "1"), ("b", "2")]),
        ("a=1\nb=2\na=3\n", &[("a", "3"), ("b", "2")]),
        ("_k-2=v", &[("_k-2", "v")]),
        (
            "multi<<EOF\nline 1\n\nline 3\nEOF\nnext=1\n",
            &[("multi", "line 1\n\nline 3"), ("next", "1")],
        ),
        ("m<<EOF\r\nx\r\nEOF\r\n", &[("m", "x")]),
        ("m<<END\nEND\n", &[("m", "")]),
        ("m<<END\n\nEND\n", &[("m", "")]),
        ("m<<END\n\n\nEND\n", &[("m", "\n")]),
        ("m<<A=B\nx\nA=B\n", &[("m", "x")]),
        ("a=b<<c\n", &[("a", "b<<c")]),
        ("v=  spaced  \n", &[("v", "  spaced  ")]),
    ];
    for (text, expected) in cases {
        assert_eq!(parsed(text), Ok(pairs(expected)), "{text:?}");
    }
}

#[test]
fn bad_results_files_name_the_line() {
    for (text, error) in [
        (
            "a=1\n\nno separator\n",
            "line 3: expected `key=value` or `key<<DELIMITER`",
        ),
        (
            "1a=x",
            "line 1: `1a` is not a result key: use letters, digits, `_` and `-`, starting with a letter or `_`, at most 128 bytes",
        ),
        (
            "=x",
            "line 1: `` is not a result key: use letters, digits, `_` and `-`, starting with a letter or `_`, at most 128 bytes",
        ),
        (
            "a b=x",
            "line 1: `a b` is not a result key: use letters, digits, `_` and `-`, starting with a letter or `_`, at most 128 bytes",
        ),
        (
            "ok=1\nm<<EOF\nline\nEOF \n",
            "line 2: no line `EOF` closes `m<<EOF`",
        ),
        ("m<<\nx\n", "line 1: `<<` needs a delimiter after it"),
    ] {
        assert_eq!(parsed(text), Err(error.to_owned()), "{text:?}");
    }
    let error = parse_results(b"a=1\nb=\xff\n", RESULTS_LIMIT).expect_err("not UTF-8");
    assert_eq!(error.to_string(), "line 2: not valid UTF-8");
    let error = parse_results(b"a=1\nb=22\nc=3\n", 6).expect_err("too large");
    assert_eq!(
        error.to_string(),
        "line 2: the results file is larger than 6 bytes"
    );
    assert!(parse_results(b"a=1\nb=22\n", 9).is_ok());
}

#[test]
fn keys_are_checked() {
    assert!(is_result_key("a"));
    assert!(is_result_key("_x-1_Y"));
    assert!(is_result_key(&"k".repeat(128)));
    assert!(!is_result_key(&"k".repeat(129)));
    for bad in ["", "1a", "-a", "a.b", "a b", "é"] {
        assert!(!is_result_key(bad), "{bad:?}");
    }
}

#[test]
fn formatted_results_parse_back() {
    assert_eq!(format_result("a", "1"), "a=1\n");
    assert_eq!(format_result("m", "x\ny"), "m<<EOF\nx\ny\nEOF\n");
    assert_eq!(
        format_result("m", "EOF\nEOF_1"),
        "m<<EOF_2\nEOF\nEOF_1\nEOF_2\n"
    );
    for value in [
        "", "plain", "a\nb", "\n", "a\n", "\nb", "EOF\nEOF", "x=y<<z", "\n\n",
    ] {
        let text = format!(
            "{}{}",
            format_result("k", value),
            format_result("after", "1")
        );
        assert_eq!(
            parsed(&text),
            Ok(pairs(&[("k", value), ("after", "1")])),
            "{value:?}"
        );
    }
}
