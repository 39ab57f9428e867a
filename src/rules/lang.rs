//! The `lang` condition: the language of an entry's text, by whatlang (trigrams and alphabets, no
//! model file, no I/O), as an ISO 639-1 code.
//!
//! Why a confidence floor: on a short or mixed text whatlang still names a language, often the
//! wrong one; a rule such as `lang = "!en"` (drop what is not English) must not drop an English
//! post because its 40 words were mostly code. Below the floor the language is unknown, and an
//! unknown language matches neither `lang = "en"` nor `lang = "!en"`.

use whatlang::Lang;

/// Below this whatlang confidence (0 to 1) the language counts as unknown.
pub const CONFIDENCE_FLOOR: f64 = 0.5;

/// At most this many characters of the text are read: the language of a post is clear long
/// before its end, and detection time grows with the text.
const MAX_CHARS: usize = 4000;

/// The detected language of `text` as ISO 639-1 (`en`), or `None` when unsure or unknown.
pub fn detect(text: &str) -> Option<&'static str> {
    let end = text
        .char_indices()
        .nth(MAX_CHARS)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let info = whatlang::detect(&text[..end])?;
    if info.confidence() < CONFIDENCE_FLOOR {
        return None;
    }
    Some(iso639_1(info.lang()))
}

/// Whether `code` is an ISO 639-1 code of a language whatlang can tell apart.
pub fn is_known(code: &str) -> bool {
    Lang::all().iter().any(|l| iso639_1(*l) == code)
}

/// whatlang's ISO 639-3 codes mapped to ISO 639-1 (Mandarin as `zh`, Persian as `fa`, Norwegian
/// Bokmål as `nb`); the few languages without a two-letter code keep their three letters.
fn iso639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Epo => "eo",
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Cmn => "zh",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ukr => "uk",
        Lang::Kat => "ka",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Jpn => "ja",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Pol => "pl",
        Lang::Amh => "am",
        Lang::Jav => "jv",
        Lang::Kor => "ko",
        Lang::Nob => "nb",
        Lang::Dan => "da",
        Lang::Swe => "sv",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Nld => "nl",
        Lang::Hun => "hu",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Mar => "mr",
        Lang::Kan => "kn",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Mkd => "mk",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tam => "ta",
        Lang::Vie => "vi",
        Lang::Urd => "ur",
        Lang::Tha => "th",
        Lang::Guj => "gu",
        Lang::Uzb => "uz",
        Lang::Pan => "pa",
        Lang::Aze => "az",
        Lang::Ind => "id",
        Lang::Tel => "te",
        Lang::Pes => "fa",
        Lang::Mal => "ml",
        Lang::Ori => "or",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Sin => "si",
        Lang::Khm => "km",
        Lang::Tuk => "tk",
        Lang::Aka => "ak",
        Lang::Zul => "zu",
        Lang::Sna => "sn",
        Lang::Afr => "af",
        Lang::Lat => "la",
        Lang::Slk => "sk",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Hye => "hy",
        Lang::Cym => "cy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_german_are_told_apart() {
        let en = "The quick brown fox jumps over the lazy dog while the farmer watches from \
                  the porch and wonders whether the weather will hold until the harvest is in.";
        let de = "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer \
                  von der Veranda aus zusieht und sich fragt, ob das Wetter bis zur Ernte hält.";
        assert_eq!(detect(en), Some("en"));
        assert_eq!(detect(de), Some("de"));
    }

    #[test]
    fn too_little_text_is_unknown() {
        assert_eq!(detect(""), None);
        assert_eq!(detect("ok"), None);
    }

    #[test]
    fn codes_are_two_letters_where_there_is_one() {
        assert!(is_known("en") && is_known("de") && is_known("zh"));
        assert!(!is_known("eng") && !is_known("xx"));
    }
}
