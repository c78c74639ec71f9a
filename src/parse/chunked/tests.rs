//! The chunked parse against the whole-text parse: on generated workflows in many YAML
//! styles and on random mutations of them, cutting into chunks must either give up or give
//! exactly what parsing the whole text gives, every span included.

use proptest::prelude::*;

use super::{Layout, LineKind, classify, parse_chunked, push_blank};
use crate::parse::{RawWorkflow, fast_parser_options, keys_are_distinct_words, parser_options};

/// The whole-text parse, as `parse_workflow` starts: the workflow's full debug form (every
/// value and every location), or the error.
fn whole(text: &str) -> Result<String, String> {
    serde_saphyr::from_str_with_options::<RawWorkflow>(text, parser_options())
        .map(|workflow| format!("{workflow:#?}"))
        .map_err(|error| error.to_string())
}

/// Cuts `text` into `parts` chunks; when that gives a workflow, it must be the whole parse's.
/// Returns whether the text was cut.
fn agrees(text: &str, parts: usize) -> Result<bool, String> {
    let Some(chunked) = parse_chunked(text, parts) else {
        return Ok(false);
    };
    matches_whole(&format!("chunked parse in {parts} parts"), &chunked, text)?;
    Ok(true)
}

/// Whether `candidate` (what `what` gave for `text`) is what the whole parse gives, every
/// span included.
fn matches_whole(what: &str, candidate: &RawWorkflow, text: &str) -> Result<(), String> {
    let candidate = format!("{candidate:#?}");
    match whole(text) {
        Ok(expected) if expected == candidate => Ok(()),
        Ok(expected) => Err(format!(
            "{what} differs\n--- input ---\n{text}\n{}",
            first_difference(&expected, &candidate)
        )),
        Err(error) => Err(format!(
            "{what} succeeded where the whole parse fails: {error}\n--- input ---\n{text}"
        )),
    }
}

/// The lines around the first line where two debug forms differ.
fn first_difference(whole: &str, chunked: &str) -> String {
    let (whole, chunked): (Vec<&str>, Vec<&str>) =
        (whole.lines().collect(), chunked.lines().collect());
    let at = whole
        .iter()
        .zip(&chunked)
        .position(|(a, b)| a != b)
        .unwrap_or(whole.len().min(chunked.len()));
    let around =
        |lines: &[&str]| lines[at.saturating_sub(12)..(at + 3).min(lines.len())].join("\n");
    format!(
        "--- whole, line {at} ---\n{}\n--- chunked ---\n{}",
        around(&whole),
        around(&chunked)
    )
}

/// The fast whole-text parse, when it counts, must be the normal one. Returns whether it
/// counted.
fn fast_agrees(text: &str) -> Result<bool, String> {
    let Ok(fast) = serde_saphyr::from_str_with_options::<RawWorkflow>(text, fast_parser_options())
    else {
        return Ok(false);
    };
    if !keys_are_distinct_words(&fast) {
        return Ok(false);
    }
    matches_whole("fast parse", &fast, text)?;
    Ok(true)
}

/// `fast_agrees`, then `agrees` for 2, 3 and 5 parts; returns whether any cut happened.
fn agrees_in_parts(text: &str) -> Result<bool, String> {
    fast_agrees(text)?;
    let mut cut = false;
    for parts in [2, 3, 5] {
        cut |= agrees(text, parts)?;
    }
    Ok(cut)
}

fn assert_cut(text: &str) {
    assert_eq!(agrees_in_parts(text), Ok(true), "expected a cut:\n{text}");
}

fn assert_not_cut(text: &str) {
    assert_eq!(agrees_in_parts(text), Ok(false), "expected no cut:\n{text}");
}

/// A small seeded generator (splitmix64), so that a failing seed reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Values for scalars: plain, quoted, with characters of every UTF-8 length, and YAML words
/// that are not strings.
const WORDS: &[&str] = &[
    "true",
    "echo hi",
    "\"quoted: yes\"",
    "'single ''quoted'''",
    "café",
    "日本語",
    "emoji 🎉 here",
    "null",
    "~",
    "5",
    "0x1F",
    "\"()\"",
    "\"tab\\there\"",
    "plain # with comment",
    "a:b",
    "\"\"",
];

/// Writes a generated workflow: a header, the tasks in a mix of styles, and sometimes more
/// top-level keys after them.
fn workflow_text(seed: u64) -> String {
    let mut rng = Rng(seed);
    let indent = [1, 2, 2, 2, 3, 4][rng.below(6)];
    let mut out = String::new();
    if rng.chance(5) {
        out.push('\u{feff}');
    }
    if rng.chance(10) {
        out.push_str("---\n");
    }
    header(&mut rng, &mut out);
    out.push_str(rng.pick(&["tasks:\n", "tasks:   \n", "tasks: # the tasks\n"]));
    if rng.chance(20) {
        out.push_str("# before the first task\n\n");
    }
    let count = 2 + rng.below(24);
    for index in 0..count {
        task(&mut rng, &mut out, indent, index);
    }
    footer(&mut rng, &mut out);
    if rng.chance(10) {
        out = out.replace('\n', "\r\n");
    }
    if rng.chance(10) {
        out.truncate(out.trim_end_matches(['\n', '\r']).len());
    }
    out
}

fn header(rng: &mut Rng, out: &mut String) {
    let fields = [
        "# yaml-language-server: $schema=../schemas/workflow.schema.json\n",
        "name: gen-é\n",
        [
            "description: \"two\n  lines\"\n",
            "description: |\n  block\n   text\n",
        ][rng.below(2)],
        [
            "env: { GREETING: hello, N: 5 }\n",
            "env:\n  A: b\n  C: \"d\"\n",
        ][rng.below(2)],
        [
            "defaults: { timeout: 10m }\n",
            "defaults:\n  shell: bash\n  env:\n    X: y\n",
            "defaults: &base { timeout: 1m }\n",
        ][rng.below(3)],
        "\n",
    ];
    for field in fields {
        if rng.chance(40) {
            out.push_str(field);
        }
    }
}

/// Keys that are the same YAML key as another, or not strings at all, or a merge.
const TRICKY_KEYS: &[&str] = &[
    "dup", "dup", "\"dup\"", "'dup'", "1", "01", "0x1", "true", "True", "~", "null", "Yes", "a.b",
    "a-b", "_x", "<<", "nan",
];

/// Values safe inside a flow mapping.
const FLOW_WORDS: &[&str] = &[
    "true",
    "\"quoted: yes\"",
    "café",
    "日本語",
    "null",
    "5",
    "\"()\"",
];

fn task(rng: &mut Rng, out: &mut String, indent: usize, index: usize) {
    let pad = " ".repeat(indent);
    let deeper = " ".repeat(indent + 1 + rng.below(3));
    let name = if rng.chance(2) {
        rng.pick(TRICKY_KEYS).to_owned()
    } else {
        format!("t{index}")
    };
    match rng.below(12) {
        0 => out.push_str(&format!("{pad}{name}:\n")),
        1 | 2 => out.push_str(&format!(
            "{pad}{name}: {{depends_on: [a, b], run: {}}}\n",
            rng.pick(FLOW_WORDS)
        )),
        3 => out.push_str(&format!(
            "{pad}{name}: {{script: \"()\",\n{deeper}description: x}}\n"
        )),
        _ => block_task(rng, out, &pad, &deeper, &name),
    }
    for _ in 0..rng.below(2) {
        out.push_str(rng.pick(&["\n", "# a comment in column 0\n", "   \n", "\t\n"]));
        if rng.chance(30) {
            out.push_str(&format!("{pad}# a comment at the keys' indentation\n"));
        }
    }
}

fn block_task(rng: &mut Rng, out: &mut String, pad: &str, deeper: &str, name: &str) {
    out.push_str(&format!("{pad}{name}:"));
    if rng.chance(10) {
        out.push_str("   # trailing comment");
    }
    out.push('\n');
    // Each field at most once: fields 3 to 6 are all `run` or `script`, so one of them.
    let mut fields: Vec<usize> = vec![0, 1, 2, 3 + rng.below(4)];
    for _ in 0..rng.below(4) {
        let at = rng.below(fields.len());
        fields.remove(at);
    }
    for field in fields {
        let deeper = deeper.to_owned();
        match field {
            0 => match rng.below(3) {
                0 => out.push_str(&format!("{deeper}depends_on: [a, b]\n")),
                1 => out.push_str(&format!("{deeper}depends_on:\n{deeper}- a\n{deeper}- b\n")),
                _ => out.push_str(&format!("{deeper}depends_on:\n{deeper}  - c\n")),
            },
            1 => match rng.below(20) {
                0..=5 => {
                    let key = if rng.chance(15) {
                        rng.pick(TRICKY_KEYS)
                    } else {
                        "B"
                    };
                    out.push_str(&format!(
                        "{deeper}env:\n{deeper}  A: \"1\"\n{deeper}  {key}: two\n"
                    ));
                }
                6..=11 => out.push_str(&format!("{deeper}timeout: 5s\n")),
                12..=17 => out.push_str(&format!("{deeper}isolation: thread\n")),
                18 => out.push_str(&format!("{deeper}<<: {{timeout: 1m}}\n")),
                _ => out.push_str(&format!("{deeper}<<: *base\n")),
            },
            2 => out.push_str(&format!("{deeper}description: {}\n", rng.pick(WORDS))),
            3 => out.push_str(&format!("{deeper}run: {}\n", rng.pick(WORDS))),
            4 => {
                let header = rng.pick(&["|", "|+", "|-", ">", ">-", "|2", ">+"]);
                out.push_str(&format!("{deeper}run: {header}\n"));
                for _ in 0..=rng.below(3) {
                    let line = rng.pick(&[
                        "echo one",
                        "  indented: more",
                        "# not a comment",
                        "",
                        "x: y",
                        "\ttab",
                        "---",
                    ]);
                    out.push_str(&format!("{deeper}  {line}\n"));
                }
                if rng.chance(30) {
                    out.push('\n');
                }
            }
            5 => out.push_str(&format!(
                "{deeper}script: \"print(1);\n{deeper}  print(2)\"\n"
            )),
            _ => out.push_str(&format!(
                "{deeper}run: plain words\n{deeper}  continued here\n"
            )),
        }
    }
}

fn footer(rng: &mut Rng, out: &mut String) {
    let endings = [
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "# trailing comment\n",
        "timeouts: wrong\n",
        "...\n",
        "---\nname: second\n",
        "tasks:\n  again: {}\n",
    ];
    out.push_str(rng.pick(&endings));
}

/// Snippets that mutations insert: YAML's special characters and constructs.
const SNIPPETS: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ": ",
    "#",
    " #",
    "&a ",
    "*a",
    "!!str ",
    "|",
    ">",
    "- ",
    "? ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "  ",
    "\n---\n",
    "\n...\n",
    "\u{feff}",
    "\0",
    "é",
    "\n  t0: {}\n",
    "\n  zz:\n",
    "\nx: 1\n",
    "\n\"q\": 1\n",
    "<<: *base\n",
    "%YAML 1.2\n",
];

/// Applies a few random edits to `text`: insert a snippet, delete a range, duplicate or
/// re-indent a line.
fn mutate(text: &str, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = text.to_owned();
    for _ in 0..=rng.below(3) {
        let at = floor_boundary(&out, rng.below(out.len() + 1));
        match rng.below(4) {
            0 | 1 => out.insert_str(at, rng.pick(SNIPPETS)),
            2 => {
                let end = floor_boundary(&out, (at + 1 + rng.below(8)).min(out.len()));
                out.replace_range(at..end, "");
            }
            _ => {
                let start = out[..at].rfind('\n').map_or(0, |nl| nl + 1);
                let end = out[at..].find('\n').map_or(out.len(), |nl| at + nl + 1);
                let line = out[start..end].to_owned();
                if rng.chance(50) {
                    out.insert_str(start, &line);
                } else {
                    out.insert_str(start, &" ".repeat(1 + rng.below(2)));
                }
            }
        }
    }
    out
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

// 256 cases each by default; `PROPTEST_CASES=20000 cargo test --release chunked` runs longer.
proptest! {

    #[test]
    fn chunked_parse_of_generated_workflows_is_the_whole_parse(seed in any::<u64>()) {
        let text = workflow_text(seed);
        if let Err(failure) = agrees_in_parts(&text) {
            return Err(TestCaseError::fail(failure));
        }
    }

    #[test]
    fn chunked_parse_of_mutated_workflows_is_the_whole_parse(
        seed in any::<u64>(),
        edits in any::<u64>(),
    ) {
        let text = mutate(&workflow_text(seed), edits);
        if let Err(failure) = agrees_in_parts(&text) {
            return Err(TestCaseError::fail(failure));
        }
    }
}

/// Most generated workflows are valid and many are cut or taken from the fast parse, so the
/// properties above are not met by always giving up.
#[test]
fn generated_workflows_are_often_cut() {
    let (mut fast, mut cut) = (0, 0);
    for seed in 0..200 {
        let text = workflow_text(seed);
        fast += usize::from(fast_agrees(&text) == Ok(true));
        cut += usize::from(agrees_in_parts(&text) == Ok(true));
    }
    assert!(
        fast >= 40,
        "only {fast} of 200 generated workflows parsed fast ({cut} cut)"
    );
    assert!(
        cut >= 40,
        "only {cut} of 200 generated workflows were cut ({fast} fast)"
    );
}

fn tasks(count: usize, each: impl Fn(usize) -> String) -> String {
    (0..count).map(each).collect()
}

#[test]
fn flow_tasks_are_cut_with_exact_spans() {
    let text = format!(
        "name: n\ntasks:\n{}",
        tasks(40, |i| format!(
            "  t{i}: {{depends_on: [a, b], run: \"é{i}\"}}\n"
        ))
    );
    assert_cut(&text);
}

#[test]
fn block_tasks_with_unicode_crlf_and_trailing_keys_are_cut() {
    let body = tasks(30, |i| {
        format!("  t{i}:\n    depends_on:\n      - a\n    run: |\n      echo 日本 {i}\n\n")
    });
    assert_cut(&format!("name: n\ntasks:\n{body}env: {{ A: b }}\n"));
    assert_cut(&format!("\u{feff}tasks:\n{body}").replace('\n', "\r\n"));
}

#[test]
fn a_task_name_in_two_chunks_is_left_to_the_whole_parse() {
    let text = format!(
        "tasks:\n{}  t0: {{}}\n",
        tasks(40, |i| format!("  t{i}: {{}}\n"))
    );
    assert_not_cut(&text);
    let source =
        crate::diagnostic::Source::new("w.yaml".into(), "w.yaml".to_owned(), text.as_str());
    let found = crate::parse::parse_workflow(&source).expect_err("a duplicate task");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].kind,
        crate::diagnostic::DiagnosticKind::DuplicateTask
    );
}

#[test]
fn aliases_and_unsound_shapes_are_not_cut() {
    let many = tasks(40, |i| format!("  t{i}: {{}}\n"));
    for text in [
        // An alias may name an anchor in another chunk.
        format!("defaults: &d {{ timeout: 1m }}\ntasks:\n{many}  last: {{ env: *d }}\n"),
        // A flow mapping for the tasks.
        format!("tasks: {{\n{many}}}\n"),
        // A quoted key at the tasks' indentation.
        format!("tasks:\n{many}  \"quoted\": {{}}\n{many}"),
        // A line indented less than the keys.
        format!("tasks:\n{many} x: 1\n{many}"),
        // A lone carriage return is a line break to YAML.
        format!("tasks:\n{many}\r  z: {{}}\n"),
        // No `tasks:` line.
        format!("name: x\n{many}"),
    ] {
        assert_not_cut(&text);
    }
}

#[test]
fn a_quoted_value_across_a_cut_point_makes_the_earlier_chunk_fail() {
    // Lenient about the indentation of a quoted scalar's continuation lines or not, the
    // parser never sees the same text in a chunk as in the whole file, so nothing is cut
    // unless it parses identically.
    let many = tasks(20, |i| format!("  t{i}: {{}}\n"));
    let text = format!("tasks:\n{many}  open: {{run: \"start\n{many}  end\"}}\n{many}");
    assert_eq!(agrees_in_parts(&text).map(|_| ()), Ok(()));
}

#[test]
fn the_line_scan_finds_keys_and_the_end_of_the_tasks() {
    let text = "name: x\ntasks: # t\n\n  a:\n    run: |\n      b: c\n  # note\n  b: {}\nenv: {}\n  c: {}\n";
    let layout = Layout::scan(text).expect("a plain layout");
    assert_eq!(layout.indent, 2);
    assert_eq!(layout.start, text.find("  a:").expect("a"));
    let lines: Vec<u64> = layout.keys.iter().map(|key| key.line).collect();
    assert_eq!(lines, [4, 8]);
    assert_eq!(layout.end_line, 9);
}

#[test]
fn lines_are_classified_by_indentation_and_shape() {
    let kind = |line| classify(line, 2);
    assert_eq!(kind(""), LineKind::Blank);
    assert_eq!(kind(" \t "), LineKind::Blank);
    assert_eq!(kind("# c"), LineKind::Comment);
    assert_eq!(kind("     # c"), LineKind::Comment);
    assert_eq!(kind("name: x"), LineKind::TopLevel);
    assert_eq!(kind("  build:"), LineKind::Key);
    assert_eq!(kind("  build: {run: x}"), LineKind::Key);
    assert_eq!(kind("   deeper"), LineKind::Deeper);
    assert_eq!(kind("  build:x"), LineKind::Other);
    assert_eq!(kind("  Build:"), LineKind::Other);
    assert_eq!(kind("  \"build\":"), LineKind::Other);
    assert_eq!(kind("  - a"), LineKind::Other);
    assert_eq!(kind("  \tbuild:"), LineKind::Other);
    assert_eq!(kind(" build:"), LineKind::Other);
}

#[test]
fn a_blanked_region_keeps_bytes_characters_and_lines() {
    for region in [
        "  a: {}\n",
        "  a: é\n  b: 日本\n",
        "  a: 🎉🎉🎉🎉\r\n\r\n",
        "  é: x\n",
        "  a:\n\n\n",
    ] {
        let mut blank = String::new();
        push_blank(&mut blank, region).expect("a stand-in");
        assert_eq!(blank.len(), region.len(), "{region:?}");
        assert_eq!(blank.chars().count(), region.chars().count(), "{region:?}");
        assert_eq!(blank.matches('\n').count(), region.matches('\n').count());
        assert!(blank.starts_with('#'));
    }
}

#[test]
fn files_of_a_megabyte_and_more_are_cut_on_two_threads_or_more() {
    use super::{MIN_CHUNKED_BYTES, chunk_count};
    assert_eq!(chunk_count(MIN_CHUNKED_BYTES - 1, || 8), 1);
    assert_eq!(chunk_count(MIN_CHUNKED_BYTES, || 1), 1);
    assert_eq!(chunk_count(MIN_CHUNKED_BYTES, || 2), 2);
    assert_eq!(chunk_count(MIN_CHUNKED_BYTES, || 64), 4);
    assert_eq!(chunk_count(100 * MIN_CHUNKED_BYTES, || 64), 64);
}

/// `parse_workflow` itself takes the chunked path for a file over the threshold, and gets the
/// whole parse's tasks at the whole parse's places (the proptests above compare every field
/// of smaller files; comparing all of this one would take a minute in a debug build).
#[test]
fn a_large_file_is_cut_by_parse_workflow_and_parses_like_the_whole() {
    let text = format!(
        "name: big\ntasks:\n{}",
        tasks(24_000, |i| format!(
            "  t{i:05}: {{depends_on: [t{:05}], script: \"()\"}}\n",
            i / 2
        ))
    );
    assert!(text.len() > super::MIN_CHUNKED_BYTES);
    assert_eq!(super::chunk_count(text.len(), || 2), 2);
    assert!(parse_chunked(&text, 2).is_some(), "the file is cut");
    let source =
        crate::diagnostic::Source::new("w.yaml".into(), "w.yaml".to_owned(), text.as_str());
    let parsed = crate::parse::parse_workflow(&source).expect("valid");
    let expected: RawWorkflow =
        serde_saphyr::from_str_with_options(&text, parser_options()).expect("valid");
    assert_eq!(parsed.tasks.value.len(), expected.tasks.value.len());
    let place = |(name, task): (&serde_saphyr::Spanned<String>, &serde_saphyr::Spanned<_>)| {
        format!("{} {:?} {:?}", name.value, name.referenced, task.referenced)
    };
    assert!(
        parsed
            .tasks
            .value
            .iter()
            .map(place)
            .eq(expected.tasks.value.iter().map(place)),
        "tasks or their places differ"
    );
}
