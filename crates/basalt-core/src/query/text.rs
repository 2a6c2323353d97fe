//! `$text` word matching on one string: the single definition of the rule, used by the
//! in-memory matcher and by the SQLite store's `basalt_text_match` SQL function.
//!
//! MongoDB-style semantics: the term is split into words, `"quoted phrases"` and `-negated`
//! words. Any listed word matching makes a match, every phrase must appear, and no negated word
//! may appear. Unless the search asks otherwise, case and diacritics (accents) are ignored.

use unicode_normalization::UnicodeNormalization;

use super::TextSearch;

fn fold(s: &str, search: &TextSearch) -> String {
    let s: String = if search.diacritic_sensitive {
        s.to_owned()
    } else {
        s.nfd()
            .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
            .collect()
    };
    if search.case_sensitive {
        s
    } else {
        s.to_lowercase()
    }
}

fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `text` matches the `$text` search: any listed word matches, every "quoted phrase"
/// appears, and no -negated word appears. Case and diacritics are ignored unless `search` asks
/// for them.
pub fn text_matches(text: &str, search: &TextSearch) -> bool {
    let text = fold(text, search);
    let term = fold(&search.term, search);
    let text_words = words(&text);
    let mut phrases = Vec::new();
    let mut rest = String::new();
    for (i, part) in term.split('"').enumerate() {
        if i % 2 == 1 {
            phrases.push(part.trim().to_owned());
        } else {
            rest.push_str(part);
            rest.push(' ');
        }
    }
    let (mut any, mut wanted) = (false, false);
    for token in rest.split_whitespace() {
        if let Some(neg) = token.strip_prefix('-') {
            if words(neg).iter().any(|w| text_words.contains(w)) {
                return false;
            }
            continue;
        }
        for w in words(token) {
            wanted = true;
            any |= text_words.contains(&w);
        }
    }
    let phrases_ok = phrases
        .iter()
        .filter(|p| !p.is_empty())
        .all(|p| text.contains(p.as_str()));
    phrases_ok && (any || (!wanted && !phrases.is_empty()))
}
