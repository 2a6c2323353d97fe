//! Parse's `$regex` + `$options` as a PostgreSQL advanced regular expression (the `~` operator).
//! The pattern is first checked with the same engine the matcher and SQLite use, so an invalid
//! pattern fails the same way everywhere; then the few Perl escapes that ARE spells differently
//! are rewritten and the options become ARE's embedded flags.

use basalt_core::query::matcher::regex_source;

/// ARE's embedded options for Parse's letters. ARE's default lets `.` match a newline and
/// anchors `^`/`$` at the string's ends; Perl's (Parse's) keeps `.` off newlines:
/// `p` is Perl's default, `n` adds `m`, `s` is ARE's own default, and `w` is `m` plus `s`.
fn flags(options: &str) -> String {
    let (m, s) = (options.contains('m'), options.contains('s'));
    let mut f = String::from(match (m, s) {
        (false, false) => "p",
        (true, false) => "n",
        (false, true) => "s",
        (true, true) => "w",
    });
    if options.contains('i') {
        f.push('i');
    }
    if options.contains('x') {
        f.push('x');
    }
    f
}

/// Rewrites `\b` `\B` `\z` (outside bracket expressions) into ARE's `\y` `\Y` `\Z`.
fn are_escapes(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                out.push('\\');
                out.push(match (in_bracket, next) {
                    (false, 'b') => 'y',
                    (false, 'B') => 'Y',
                    (false, 'z') => 'Z',
                    (_, other) => other,
                });
            }
            '[' if !in_bracket => {
                in_bracket = true;
                out.push(c);
                // A `]` first in the set (after an optional `^`) is a member, not the end.
                if chars.peek() == Some(&'^') {
                    out.extend(chars.next());
                }
                if chars.peek() == Some(&']') {
                    out.extend(chars.next());
                }
            }
            ']' if in_bracket => {
                in_bracket = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The ARE source for `pattern` with Parse's `options`, or the reason the pattern is invalid.
pub(crate) fn pg_regex(pattern: &str, options: &str) -> Result<String, regex::Error> {
    regex::Regex::new(&regex_source(pattern, options))?;
    let body = regex_source(pattern, "");
    Ok(format!("(?{}){}", flags(options), are_escapes(&body)))
}

#[cfg(test)]
mod tests {
    use super::pg_regex;

    #[test]
    fn options_become_embedded_flags() {
        assert_eq!(pg_regex("^a", "").unwrap(), "(?p)^a");
        assert_eq!(pg_regex("^a", "mi").unwrap(), "(?ni)^a");
        assert_eq!(pg_regex("a.b", "s").unwrap(), "(?s)a.b");
        assert_eq!(pg_regex("a", "smx").unwrap(), "(?wx)a");
    }

    #[test]
    fn perl_escapes_are_rewritten_outside_brackets() {
        assert_eq!(pg_regex(r"\bcat\b", "").unwrap(), r"(?p)\ycat\y");
        assert_eq!(pg_regex(r"[\]b]x\z", "").unwrap(), r"(?p)[\]b]x\Z");
        assert_eq!(pg_regex(r"[^]b]\B", "").unwrap(), r"(?p)[^]b]\Y");
    }

    #[test]
    fn quoted_text_is_literal_and_bad_patterns_fail() {
        assert_eq!(pg_regex(r"^\QA.\E", "").unwrap(), r"(?p)^A\.");
        assert!(pg_regex("(unclosed", "").is_err());
    }
}
