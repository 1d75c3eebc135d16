//! A Java `.properties` reader that keeps line numbers.
//!
//! It follows `java.util.Properties.load`, which is what MirrorMaker 2 reads `mm2.properties` with,
//! so a file means the same thing to both:
//! - `key=value`, `key: value` and `key value`; whitespace around the separator is skipped;
//! - lines whose first non-blank character is `#` or `!` are comments, blank lines are skipped;
//! - a line ending in an odd number of backslashes continues on the next line (whose leading
//!   whitespace is dropped);
//! - escapes: `\t`, `\n`, `\r`, `\f`, `\uXXXX`, and `\x` for any other `x` is `x` (so `\=`, `\:`,
//!   `\ ` and `\\` work in keys, and `.*[\-\.]internal` reads as `.*[-.]internal`, exactly as in
//!   MirrorMaker 2).
//!
//! Unlike Java, a line with an empty key (`= value`) is an error, and values are returned as
//! written (the MM2 layer trims them, as Kafka's `ConfigDef` does).

/// One `key = value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    pub key: String,
    pub value: String,
    /// 1-based line where the pair starts (its first line when continued).
    pub line: usize,
}

/// A line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub reason: String,
}

/// Reads every pair, in file order. Repeated keys are all returned (the caller decides; Java keeps the
/// last one).
pub(crate) fn parse(text: &str) -> Result<Vec<Property>, SyntaxError> {
    let mut properties = Vec::new();
    let mut lines = natural_lines(text).peekable();
    while let Some((line_no, line)) = lines.next() {
        let first = line.trim_start_matches(is_blank);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_owned();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches(is_blank)),
                None => break,
            }
        }
        properties.push(split_pair(&logical, line_no)?);
    }
    Ok(properties)
}

/// Java's whitespace in `.properties` files: space, tab and form feed.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Lines split on `\n`, `\r\n` or `\r`, numbered from 1.
fn natural_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..end];
        let after = &rest[end..];
        rest = match after.strip_prefix("\r\n") {
            Some(next) => next,
            None => after.get(1..).unwrap_or_default(),
        };
        Some((number, line))
    })
}

/// An odd number of trailing backslashes: the last one escapes the line break.
fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped `=`, `:` or whitespace, then unescapes both parts.
fn split_pair(line: &str, line_no: usize) -> Result<Property, SyntaxError> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '=' | ':' => break,
            c if is_blank(c) => break,
            _ => i += 1,
        }
    }
    let key_end = i.min(chars.len());
    let mut j = key_end;
    while j < chars.len() && is_blank(chars[j]) {
        j += 1;
    }
    if j < chars.len() && matches!(chars[j], '=' | ':') {
        j += 1;
        while j < chars.len() && is_blank(chars[j]) {
            j += 1;
        }
    }
    let raw_key: String = chars[..key_end].iter().collect();
    let raw_value: String = chars[j..].iter().collect();
    let error = |reason: String| SyntaxError {
        line: line_no,
        reason,
    };
    if raw_key.is_empty() {
        return Err(error(format!(
            "malformed line {line:?}: expected `key = value` (no key before the separator)"
        )));
    }
    Ok(Property {
        key: unescape(&raw_key).map_err(error)?,
        value: unescape(&raw_value).map_err(error)?,
        line: line_no,
    })
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uXXXX escape \"\\u{hex}\""))?;
                // A surrogate half (Java writes non-BMP characters as two escapes) is replaced,
                // not rejected: it can only be in a value Strait passes along.
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            Some(other) => out.push(other),
            // A lone trailing backslash (continuation at end of file): dropped, as Java does.
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|p| (p.key, p.value, p.line))
            .collect()
    }

    fn pair(key: &str, value: &str, line: usize) -> (String, String, usize) {
        (key.to_owned(), value.to_owned(), line)
    }

    #[test]
    fn the_three_separators_and_whitespace() {
        let text = "a=1\nb: 2\nc 3\n  d   =   4\ne\t:\tfive six\nf=\ng\n";
        assert_eq!(
            pairs(text),
            vec![
                pair("a", "1", 1),
                pair("b", "2", 2),
                pair("c", "3", 3),
                pair("d", "4", 4),
                pair("e", "five six", 5),
                pair("f", "", 6),
                pair("g", "", 7),
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines_keep_line_numbers() {
        let text =
            "# comment\n\n   ! also a comment\nclusters = A, B\n\t\nA.bootstrap.servers=h:9092";
        assert_eq!(
            pairs(text),
            vec![
                pair("clusters", "A, B", 4),
                pair("A.bootstrap.servers", "h:9092", 6),
            ]
        );
    }

    #[test]
    fn mm2_flow_keys_split_at_the_equals_sign() {
        // `->` contains no separator character: the key is whole.
        assert_eq!(
            pairs("A->B.enabled = true"),
            vec![pair("A->B.enabled", "true", 1)]
        );
    }

    #[test]
    fn continuation_lines() {
        let text = "topics = orders.*, \\\n          payments.*, \\\n   refunds\nnext=1\n";
        assert_eq!(
            pairs(text),
            vec![
                pair("topics", "orders.*, payments.*, refunds", 1),
                pair("next", "1", 4),
            ]
        );
        // An even number of backslashes is an escaped backslash, not a continuation.
        assert_eq!(
            pairs("path = C:\\\\dir\\\\\nnext=1"),
            vec![pair("path", "C:\\dir\\", 1), pair("next", "1", 2)]
        );
        // A continued comment does not continue.
        assert_eq!(pairs("# a \\\nb=1"), vec![pair("b", "1", 2)]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            pairs("topics.exclude = .*[\\-\\.]internal, .*\\.replica"),
            vec![pair("topics.exclude", ".*[-.]internal, .*.replica", 1)]
        );
        assert_eq!(
            pairs("a\\=b\\:c\\ d = x\\ty\\u0041\\\\"),
            vec![pair("a=b:c d", "x\tyA\\", 1)]
        );
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            pairs("a=1\r\nb=2\rc=3\n"),
            vec![pair("a", "1", 1), pair("b", "2", 2), pair("c", "3", 3)]
        );
    }

    #[test]
    fn missing_key_is_an_error_naming_the_line() {
        let err = parse("a=1\n\n= value\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("no key"), "{}", err.reason);
        let err = parse(": value").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn malformed_unicode_escape_is_an_error() {
        let err = parse("a=1\nb=\\u12G4").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("\\u"), "{}", err.reason);
    }
}
