//! Slugs and the transliteration shared with `tags_normalized` (post-format.md section 6).

/// Latin letters with diacritics and ligatures to ASCII. Letters of other scripts are kept (the
/// slug rules keep Unicode letters such as `日本語`). Combining marks left by decomposition are
/// dropped, so `é` written as `e` + U+0301 also becomes `e`.
pub fn transliterate(s: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(rep) = special(c) {
            out.push_str(rep);
            continue;
        }
        if is_latin_extended(c) {
            for d in c.nfd() {
                if !is_combining_mark(d) {
                    out.push(d);
                }
            }
        } else if is_combining_mark(c)
            && out.chars().last().is_some_and(|p| p.is_ascii_alphabetic())
        {
            // A combining accent on an ASCII letter: drop the accent.
        } else {
            out.push(c);
        }
    }
    out
}

fn is_latin_extended(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF)
}

/// Letters that do not decompose into ASCII + accents.
fn special(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'ẞ' => "SS",
        'æ' => "ae",
        'Æ' => "AE",
        'œ' => "oe",
        'Œ' => "OE",
        'ø' => "o",
        'Ø' => "O",
        'ð' => "dh",
        'Ð' => "DH",
        'þ' => "th",
        'Þ' => "TH",
        'ł' => "l",
        'Ł' => "L",
        'đ' => "d",
        'Đ' => "D",
        'ħ' => "h",
        'Ħ' => "H",
        'ı' => "i",
        'ĳ' => "ij",
        'Ĳ' => "IJ",
        'ŀ' => "l",
        'Ŀ' => "L",
        'ŋ' => "ng",
        'Ŋ' => "NG",
        'ſ' => "s",
        'ŧ' => "t",
        'Ŧ' => "T",
        _ => return None,
    })
}

const REMOVED: &[char] = &[
    '<', '>', ':', '"', '/', '\\', '|', '?', '*', '[', ']', '(', ')', '{', '}', ';', ',', '!', '@',
    '#', '$', '%', '^', '+', '=', '`', '~', '\'',
];

/// The longest slug, in bytes. Why bytes: file names are limited to 255 bytes, not characters,
/// and the slug is the variable part of both names a post gets: its source file
/// `<yyyy-MM-dd>-<slug>[-N].md` and the page Jekyll builds from its permalink
/// (`<yyyy-MM-dd>-<slug>[-N].html` by default). 200 characters of CJK text are 600 bytes, so a
/// character cap let the permalink's page name exceed the limit (`jekyll build` aborted with
/// `ENAMETOOLONG`) while the file name was shortened separately and no longer matched it. With
/// 200 bytes, the date (11), a clash suffix (at most 6: `-10000`) and `.html` (5) leave 33 bytes
/// of a 255-byte name for a permalink pattern's own text. ASCII slugs are cut exactly as the
/// original pipeline's 200-character rule did.
pub const MAX_SLUG_BYTES: usize = 200;

/// The slug of a title (post-format.md section 6), case kept, at most [`MAX_SLUG_BYTES`].
pub fn slugify(title: &str) -> String {
    // 1. transliterate; 2. curly quotes to straight, then remove the listed punctuation.
    let s: String = transliterate(title)
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => '"',
            c => c,
        })
        .filter(|c| !REMOVED.contains(c))
        .collect();
    // 3. ` & ` -> ` and `, any other `&` -> `and`.
    let words: Vec<&str> = s.split_whitespace().collect();
    let joined = words.join(" ");
    let s = joined.replace(" & ", " and ").replace('&', "and");
    // 4. whitespace runs -> `-`; 5. keep letters, digits, `_`, `-`.
    let s: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    // 6. collapse `-` runs, trim `-`.
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim_matches('-').to_string();
    // 7. at most 200 bytes (200 characters of ASCII), cut at a character boundary, trim `-`
    // again, no trailing `.`.
    if out.len() > MAX_SLUG_BYTES {
        let mut cut = MAX_SLUG_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out = out.trim_matches('-').to_string();
    }
    while out.ends_with('.') {
        out.pop();
        out = out.trim_end_matches('-').to_string();
    }
    if out.is_empty() {
        "untitled".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            slugify("Transitioning from Backend Developer to DevOps"),
            "Transitioning-from-Backend-Developer-to-DevOps"
        );
        assert_eq!(
            slugify("CI/CD & GitOps: what's next?"),
            "CICD-and-GitOps-whats-next"
        );
        assert_eq!(
            slugify("VS Code June 2025 (version 1.102)"),
            "VS-Code-June-2025-version-1102"
        );
    }

    #[test]
    fn transliteration_and_scripts() {
        assert_eq!(
            transliterate("Straße Æsir Øresund Łódź ðþ"),
            "Strasse AEsir Oresund Lodz dhth"
        );
        assert_eq!(
            slugify("日本語のタイトル: テスト"),
            "日本語のタイトル-テスト"
        );
        assert_eq!(slugify("Rust 🦀 is fun 🎉"), "Rust-is-fun");
        assert_eq!(slugify("Cafe\u{301}"), "Cafe");
    }

    /// Golden cases: 100 CJK characters (300 bytes) and 200 Cyrillic words' worth of letters
    /// (2 bytes each) are cut to at most 200 bytes at a character boundary, and the file name
    /// and the permalink's page name of the post both fit in 255 bytes, even with a `-10000`
    /// clash suffix.
    #[test]
    fn long_non_latin_titles_are_capped_in_bytes() {
        let cjk: String = "日本語の長いタイトル".chars().cycle().take(100).collect();
        let slug = slugify(&cjk);
        // 66 characters of 3 bytes: 198 bytes, the last whole character under 200.
        assert_eq!(slug.len(), 198);
        assert_eq!(slug, cjk.chars().take(66).collect::<String>());

        let cyrillic: String = "Привет".chars().cycle().take(200).collect();
        let slug = slugify(&cyrillic);
        assert_eq!(slug.len(), 200);
        assert_eq!(slug, cyrillic.chars().take(100).collect::<String>());

        // A cut inside a run of Cyrillic words: no trailing `-`.
        let words = "Длинный заголовок ".repeat(20);
        let slug = slugify(&words);
        assert!(slug.len() <= 200 && !slug.ends_with('-'), "{slug}");

        // A 4-byte character straddling the cap: cut before it.
        let mixed = format!("{}{}", "a".repeat(198), "𝒳𝒳");
        assert_eq!(slugify(&mixed), "a".repeat(198));

        for title in [cjk.as_str(), cyrillic.as_str(), words.as_str()] {
            let slug = slugify(title);
            let file = format!("2026-12-02-{slug}-10000.md");
            let page = format!("2026-12-02-{slug}-10000.html");
            assert!(file.len() <= 255 && page.len() <= 255, "{page}");
        }
    }

    #[test]
    fn degenerate_titles() {
        assert_eq!(slugify("---"), "untitled");
        assert_eq!(slugify(""), "untitled");
        assert_eq!(slugify("Ending with a dot."), "Ending-with-a-dot");
        assert_eq!(slugify(&"x".repeat(500)), "x".repeat(200));
        for s in [
            slugify("../../etc/passwd"),
            slugify("a/b\\c"),
            slugify(".hidden"),
        ] {
            assert!(
                !s.contains('/') && !s.contains('\\') && !s.starts_with('.'),
                "{s}"
            );
        }
    }
}
