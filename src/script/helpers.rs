//! The value helpers that templates, conditions and scripts share: the path helpers `stem`,
//! `basename`, `dirname` and `with_ext`, and `from_json`. They work on text alone: no file is
//! read, nothing is looked up. `template/names.rs` lists them; both engines register them
//! through [`register_helpers`].

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::MAX_DATA_DEPTH;

/// Registers the helpers in `engine`.
pub fn register_helpers(engine: &mut Engine) {
    engine.register_fn("stem", |path: &str| stem(path).to_owned());
    engine.register_fn("basename", |path: &str| basename(path).to_owned());
    engine.register_fn("dirname", |path: &str| dirname(path).to_owned());
    engine.register_fn("with_ext", |path: &str, ext: &str| with_ext(path, ext));
    engine.register_fn("from_json", from_json);
}

/// The last component of `path`, as POSIX `basename`: trailing slashes ignored, `/` for a
/// path of slashes only, the empty string for an empty path.
#[must_use]
pub fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "" } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// The directory part of `path`, as POSIX `dirname`: `src` for `src/lapi.c`, `.` for a path
/// without a slash (and for the empty path), `/` for `/lapi.c`; trailing slashes ignored.
#[must_use]
pub fn dirname(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    match trimmed.rfind('/') {
        None => ".",
        Some(at) => {
            let parent = trimmed[..at].trim_end_matches('/');
            if parent.is_empty() { "/" } else { parent }
        }
    }
}

/// The last component of `path` without its extension: `lapi` for `src/lapi.c`, `a.tar` for
/// `a.tar.gz`; a name starting with its only dot (`.bashrc`) has no extension.
#[must_use]
pub fn stem(path: &str) -> &str {
    let name = basename(path);
    match extension_at(name) {
        Some(at) => &name[..at],
        None => name,
    }
}

/// `path` with the extension of its last component replaced by `ext` (written `o` or `.o`),
/// or added when it has none; an empty `ext` removes it. `src/lapi.c`, `o` → `src/lapi.o`.
#[must_use]
pub fn with_ext(path: &str, ext: &str) -> String {
    let ext = ext.strip_prefix('.').unwrap_or(ext);
    let trimmed = path.trim_end_matches('/');
    let name_start = trimmed.rfind('/').map_or(0, |at| at + 1);
    let name = &trimmed[name_start..];
    let keep = name_start + extension_at(name).unwrap_or(name.len());
    let mut out = String::with_capacity(keep + ext.len() + 1);
    out.push_str(&trimmed[..keep]);
    if !ext.is_empty() {
        out.push('.');
        out.push_str(ext);
    }
    out
}

/// Where the extension's dot is in a file name, if it has one: not at the start (a dotfile)
/// and not for `.` or `..`.
fn extension_at(name: &str) -> Option<usize> {
    if name == "." || name == ".." {
        return None;
    }
    name.rfind('.').filter(|&at| at > 0)
}

/// `from_json(text)`: the value of a JSON text: arrays, maps, strings, numbers (whole ones as
/// integers), booleans, and `()` for `null`.
///
/// # Errors
/// A message naming the problem and where it is for text that is not JSON, or nests deeper
/// than scripts may.
pub fn from_json(text: &str) -> Result<Dynamic, Box<EvalAltResult>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        format!(
            "from_json: not valid JSON ({error}) in `{}`",
            shorten(text.trim())
        )
    })?;
    to_dynamic(&value, MAX_DATA_DEPTH).ok_or_else(|| {
        format!("from_json: the JSON nests more than {MAX_DATA_DEPTH} levels deep").into()
    })
}

/// The first 60 characters of `text`, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A JSON value in rhai; `None` when it nests more than `levels` deep.
fn to_dynamic(value: &serde_json::Value, levels: usize) -> Option<Dynamic> {
    use serde_json::Value;
    Some(match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(flag) => (*flag).into(),
        Value::Number(number) => match number.as_i64() {
            Some(int) => int.into(),
            None => number.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(text) => text.clone().into(),
        Value::Array(items) => {
            let rest = levels.checked_sub(1)?;
            let array: Option<Array> = items.iter().map(|item| to_dynamic(item, rest)).collect();
            Dynamic::from_array(array?)
        }
        Value::Object(entries) => {
            let rest = levels.checked_sub(1)?;
            let mut map = Map::new();
            for (key, item) in entries {
                map.insert(key.as_str().into(), to_dynamic(item, rest)?);
            }
            Dynamic::from_map(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers_split_like_posix() {
        for (path, base, dir, stem_of) in [
            ("src/lapi.c", "lapi.c", "src", "lapi"),
            ("lapi.c", "lapi.c", ".", "lapi"),
            ("/lapi.c", "lapi.c", "/", "lapi"),
            ("a/b/c.tar.gz", "c.tar.gz", "a/b", "c.tar"),
            ("a//b/", "b", "a", "b"),
            ("src/.bashrc", ".bashrc", "src", ".bashrc"),
            ("Makefile", "Makefile", ".", "Makefile"),
            ("/", "/", "/", "/"),
            ("", "", ".", ""),
            ("..", "..", ".", ".."),
        ] {
            assert_eq!(basename(path), base, "basename({path:?})");
            assert_eq!(dirname(path), dir, "dirname({path:?})");
            assert_eq!(stem(path), stem_of, "stem({path:?})");
        }
    }

    #[test]
    fn with_ext_replaces_adds_or_removes_the_extension() {
        assert_eq!(with_ext("src/lapi.c", "o"), "src/lapi.o");
        assert_eq!(with_ext("src/lapi.c", ".o"), "src/lapi.o");
        assert_eq!(with_ext("Makefile", "bak"), "Makefile.bak");
        assert_eq!(with_ext("a.tar.gz", "xz"), "a.tar.xz");
        assert_eq!(with_ext("src/lapi.c", ""), "src/lapi");
        assert_eq!(with_ext(".bashrc", "old"), ".bashrc.old");
        assert_eq!(with_ext("v1.2/file", "txt"), "v1.2/file.txt");
    }

    #[test]
    fn from_json_reads_json_and_says_what_is_wrong() {
        let list = from_json(r#"["a", 1, 2.5, true, null]"#).expect("a list");
        let list = list.into_array().expect("an array");
        assert_eq!(list.len(), 5);
        assert_eq!(list[0].clone().into_string().expect("text"), "a");
        assert_eq!(list[1].as_int(), Ok(1));
        assert_eq!(list[2].as_float(), Ok(2.5));
        assert_eq!(list[3].as_bool(), Ok(true));
        assert!(list[4].is_unit());
        let map = from_json(r#"{"k": {"n": [1]}}"#).expect("a map");
        assert!(map.is_map());
        let error = from_json("[1, 2").expect_err("not JSON").to_string();
        assert!(error.contains("from_json: not valid JSON"), "{error}");
        assert!(error.contains("`[1, 2`"), "{error}");
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_DATA_DEPTH + 2),
            "]".repeat(MAX_DATA_DEPTH + 2)
        );
        assert!(from_json(&deep).is_err(), "too deep");
    }
}
