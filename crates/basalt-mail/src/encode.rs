//! The two escapes everything else here relies on: HTML text/attribute escaping and
//! JavaScript's `encodeURIComponent`, which is how Parse puts tokens and usernames into links.

use std::fmt::Write;

/// `value` made safe for HTML text and for double- or single-quoted attribute values.
pub(crate) fn html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `value` percent-encoded exactly as JavaScript's `encodeURIComponent` (and Node's
/// `querystring.escape`) do: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` becomes `%XX`
/// of its UTF-8 bytes.
pub(crate) fn uri_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_both_quotes() {
        assert_eq!(
            html(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(html("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn uri_component_matches_encode_uri_component() {
        // Expected values from node: encodeURIComponent(...)
        assert_eq!(uri_component("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
        assert_eq!(
            uri_component("a b+c&d=e/f?g#h"),
            "a%20b%2Bc%26d%3De%2Ff%3Fg%23h"
        );
        assert_eq!(uri_component("josé@example.com"), "jos%C3%A9%40example.com");
        assert_eq!(uri_component("\"<>%"), "%22%3C%3E%25");
    }
}
