//! Words in sheets, for the archive search (R-SHEET-11). Chinese has no spaces, and the
//! desk searches two-character words (漏水, 噪音), so a sheet's text is indexed as
//! overlapping character pairs (bigrams) of each run of Chinese characters, plus the
//! lower-cased runs of Latin letters and digits. A query word matches a sheet holding all
//! its pairs; the store then confirms the word itself.

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

/// Runs of Chinese characters and of ASCII letters/digits.
fn runs(text: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = vec![];
    for c in text.chars() {
        let kind = if is_cjk(c) {
            Some(true)
        } else if c.is_ascii_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (kind, out.last_mut()) {
            (Some(k), Some((lk, s))) if *lk == k && !s.is_empty() => s.push(c.to_ascii_lowercase()),
            (Some(k), _) => out.push((k, c.to_ascii_lowercase().to_string())),
            (None, Some((_, s))) if !s.is_empty() => out.push((false, String::new())),
            (None, _) => {}
        }
    }
    out.into_iter().filter(|(_, s)| !s.is_empty()).collect()
}

/// The terms a text is indexed under (deduplicated).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = vec![];
    for (cjk, run) in runs(text) {
        if cjk {
            let chars: Vec<char> = run.chars().collect();
            for w in chars.windows(2) {
                out.push(w.iter().collect());
            }
        } else if run.len() >= 2 {
            out.push(run);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The terms a query word needs (empty when the word is too short to use the index:
/// one Chinese character or one Latin letter, searched by scanning instead).
pub fn query_terms(word: &str) -> Vec<String> {
    terms(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sheet_11_chinese_text_is_indexed_by_character_pairs() {
        assert_eq!(terms("厨房漏水"), vec!["厨房", "房漏", "漏水"]);
        assert_eq!(terms("3-2-1502 漏水, WiFi坏了"), vec!["1502", "wifi", "坏了", "漏水"]);
        assert_eq!(query_terms("漏水"), vec!["漏水"]);
        assert_eq!(query_terms("卫生间"), vec!["卫生", "生间"]);
        assert!(query_terms("水").is_empty(), "one character: scanned, not indexed");
        assert!(query_terms("a").is_empty());
        // Every query word's terms are among the terms of a text containing it.
        let text = "卫生间漏水到楼下，业主王秀英";
        for w in ["卫生间", "漏水", "楼下", "王秀英", "业主王"] {
            let t = terms(text);
            assert!(query_terms(w).iter().all(|q| t.contains(q)), "{w}");
        }
    }
}
