//! Bytes -> UTF-8 text, whatever the document claims. Real feeds are served with a BOM, in
//! UTF-16, with no declaration, with a declaration that lies, or with invalid bytes. The XML
//! parser gets clean UTF-8 without a BOM, and the prolog's `encoding=` is rewritten to match, so
//! it cannot re-decode the text (and the quick-xml UTF-16 panic can never be reached).

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// The charset of a `Content-Type` header value.
fn header_charset(content_type: Option<&str>) -> Option<&'static Encoding> {
    let ct = content_type?;
    let value = ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']).to_string())
    })?;
    Encoding::for_label(value.as_bytes())
}

/// The `encoding="..."` of an XML prolog at the start of the document.
fn prolog_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head);
    let start = text.find("<?xml")?;
    let end = text[start..].find("?>")? + start;
    let decl = &text[start..end];
    let i = decl.find("encoding")?;
    let rest = decl[i + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    Encoding::for_label(value.trim().as_bytes())
}

/// Guess the encoding of undeclared or mislabelled bytes with chardetng.
///
/// chardetng costs about 70 ms per MB, almost all of it spent on ASCII that says nothing about
/// the encoding. It is fed only windows around the non-ASCII bytes (with some ASCII context), at
/// most [`DETECT_BUDGET`] bytes of them: the guess is the same and a 320 KB feed is decided in
/// well under a millisecond instead of 25.
fn detect(bytes: &[u8]) -> &'static Encoding {
    const BEFORE: usize = 16;
    const AFTER: usize = 48;
    const DETECT_BUDGET: usize = 256 * 1024;
    let mut detector = chardetng::EncodingDetector::new();
    let mut covered = 0;
    let mut fed = 0;
    let mut i = 0;
    while i < bytes.len() && fed < DETECT_BUDGET {
        if bytes[i] < 0x80 || i < covered {
            i += 1;
            continue;
        }
        let start = i.saturating_sub(BEFORE).max(covered);
        let mut end = (i + AFTER).min(bytes.len());
        // Never cut a multi-byte character in two.
        while end < bytes.len() && bytes[end] >= 0x80 {
            end += 1;
        }
        if start > covered && covered > 0 {
            detector.feed(b" ", false);
        }
        detector.feed(&bytes[start..end], false);
        fed += end - start;
        covered = end;
        i = end;
    }
    detector.feed(b"", true);
    detector.guess(None, true)
}

/// Decode a feed document to UTF-8 text (no BOM) and say which encoding was used.
pub fn to_utf8(bytes: &[u8], content_type: Option<&str>) -> (String, &'static Encoding) {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return (fix_prolog(&text), enc);
    }
    // UTF-16 without a BOM: a `<` followed by a NUL (LE) or preceded by one (BE).
    if bytes.len() >= 4 && bytes[0] == b'<' && bytes[1] == 0 {
        let (text, _) = UTF_16LE.decode_without_bom_handling(bytes);
        return (fix_prolog(&text), UTF_16LE);
    }
    if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == b'<' {
        let (text, _) = UTF_16BE.decode_without_bom_handling(bytes);
        return (fix_prolog(&text), UTF_16BE);
    }
    let declared = prolog_encoding(bytes).or_else(|| header_charset(content_type));
    let valid_utf8 = std::str::from_utf8(bytes).is_ok();
    let has_non_ascii = bytes.iter().any(|b| *b >= 0x80);
    let encoding = match declared {
        // A UTF-16 declaration on 8-bit bytes is a lie; so is any declaration on text that is
        // valid, non-ASCII UTF-8 (single-byte encodings almost never produce valid UTF-8 by chance).
        Some(enc) if enc == UTF_16LE || enc == UTF_16BE => {
            if valid_utf8 {
                UTF_8
            } else {
                detect(bytes)
            }
        }
        Some(enc) if enc != UTF_8 && valid_utf8 && has_non_ascii => UTF_8,
        Some(enc) if enc == UTF_8 && !valid_utf8 => {
            if let Some(text) = mixed_utf8(bytes) {
                return (fix_prolog(&text), UTF_8);
            }
            detect(bytes)
        }
        Some(enc) => enc,
        None if valid_utf8 => UTF_8,
        None => {
            if let Some(text) = mixed_utf8(bytes) {
                return (fix_prolog(&text), UTF_8);
            }
            detect(bytes)
        }
    };
    let (text, _, _) = encoding.decode(bytes);
    (fix_prolog(&text), encoding)
}

/// UTF-8 with a few stray windows-1252 bytes (Zed Shaw's feed: UTF-8 `Jyväskylä` next to a
/// lone 0x96 en dash pasted from another program). Decoding all of it as windows-1252 would
/// garble every UTF-8 character, and chardetng would pick exactly that, so when the valid
/// multi-byte sequences outnumber the invalid bytes, keep the UTF-8 and read each invalid byte
/// as windows-1252. `None` when the bytes are not mostly UTF-8. Linear.
fn mixed_utf8(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    let mut invalid = 0usize;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // `valid` is valid UTF-8 by construction; the lossy call never allocates for it.
                out.push_str(&String::from_utf8_lossy(valid));
                let bad = e.error_len().unwrap_or(after.len()).max(1).min(after.len());
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&after[..bad]);
                out.push_str(&text);
                invalid += bad;
                rest = &after[bad..];
            }
        }
    }
    let multibyte = out.chars().filter(|c| c.len_utf8() > 1).count();
    // Each invalid byte became one non-ASCII char: compare the UTF-8 ones with those.
    (multibyte.saturating_sub(invalid) >= invalid && invalid > 0).then_some(out)
}

/// Strip a leading BOM character and make the prolog say UTF-8.
fn fix_prolog(text: &str) -> String {
    let t = text.trim_start_matches('\u{FEFF}');
    let Some(start) = t.find("<?xml") else {
        return t.to_string();
    };
    if start > 200 {
        return t.to_string();
    }
    let Some(len) = t[start..].find("?>") else {
        return t.to_string();
    };
    let decl = &t[start..start + len];
    let Some(i) = decl.find("encoding") else {
        return t.to_string();
    };
    let rest = &decl[i..];
    let Some(q1) = rest.find(['"', '\'']) else {
        return t.to_string();
    };
    let quote = rest.as_bytes()[q1] as char;
    let Some(q2) = rest[q1 + 1..].find(quote) else {
        return t.to_string();
    };
    let abs_start = start + i;
    let abs_end = start + i + q1 + 1 + q2 + 1;
    format!("{}encoding=\"UTF-8\"{}", &t[..abs_start], &t[abs_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_and_utf16() {
        let mut le = vec![0xFF, 0xFE];
        for u in "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss/>".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        let (t, enc) = to_utf8(&le, None);
        assert_eq!(enc, UTF_16LE);
        assert_eq!(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>");
        let (t, _) = to_utf8(b"\xEF\xBB\xBF<rss/>", None);
        assert_eq!(t, "<rss/>");
    }

    #[test]
    fn mostly_utf8_with_stray_windows_1252_bytes() {
        let (t, enc) = to_utf8(b"<t>Jyv\xC3\xA4skyl\xC3\xA4 \x96 caf\xC3\xA9</t>", None);
        assert_eq!(enc, UTF_8);
        assert_eq!(t, "<t>Jyv\u{e4}skyl\u{e4} \u{2013} caf\u{e9}</t>");
        // Mostly invalid: not UTF-8 at all, chardetng decides.
        assert!(mixed_utf8(b"\xC1\xCB \xD0\xC5\xD2\xC5\xD6\xC9\xD4\xD8 \xC3\xA4").is_none());
    }

    #[test]
    fn koi8r_and_shift_jis_without_declaration() {
        let (koi8, _, _) = encoding_rs::KOI8_R
            .encode("<title>Как пережить новогоднюю ночь, и не сойти с ума</title>");
        // chardetng may name it KOI8-U, a superset: what matters is the text.
        let (t, _) = to_utf8(&koi8, None);
        assert!(t.contains("новогоднюю"), "{t}");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode("<title>記事投稿が反映されない。日本語の文章です。</title>");
        let (t, enc) = to_utf8(&sjis, None);
        assert_eq!(enc, encoding_rs::SHIFT_JIS, "{t}");
        assert!(t.contains("記事投稿"));
    }

    #[test]
    fn prolog_is_rewritten_to_utf8() {
        let (t, _) = to_utf8(b"<?xml version='1.0' encoding='koi8-r'?><a/>", None);
        assert_eq!(t, "<?xml version='1.0' encoding=\"UTF-8\"?><a/>");
        let (t, _) = to_utf8(b"<?xml version=\"1.0\"?><a/>", None);
        assert_eq!(t, "<?xml version=\"1.0\"?><a/>");
    }

    #[test]
    fn declared_and_detected() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xE9</t>";
        assert!(to_utf8(latin1, None).0.contains("café"));
        // Undeclared windows-1252 curly quotes.
        let (t, _) = to_utf8(
            b"<t>\x93quoted\x94 text with more words to detect</t>",
            None,
        );
        assert!(t.contains('\u{201C}'), "{t}");
        // Declared latin-1 but really UTF-8.
        let (t, enc) = to_utf8(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><t>café</t>".as_bytes(),
            None,
        );
        assert_eq!(enc, UTF_8);
        assert!(t.contains("café"));
        // Header charset when the prolog says nothing.
        let (t, _) = to_utf8(b"<t>\xE9t\xE9</t>", Some("text/xml; charset=iso-8859-1"));
        assert!(t.contains("été"));
    }
}
