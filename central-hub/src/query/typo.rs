//! Typo tolerance: a word the lexicon does not know is read as a lexicon word within edit
//! distance 1 (words of 5+ letters) or 2 (8+ letters), when exactly one is that near
//! ("motobike" → motorbike). Real words are never corrected: English ones near a lexicon word
//! ("while" is not "white") are listed in `lexicon/not_typos.txt`, and a word that is a
//! possible Vietnamese syllable ("quang" of quảng trường is not "quan", trousers) is taken as
//! meant; so is any word typed with diacritics (the caller checks that).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::lexicon::Meaning;

const NOT_TYPOS: &str = include_str!("../../lexicon/not_typos.txt");

static KEEP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    NOT_TYPOS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// A Vietnamese syllable with its marks folded away: initial consonant, vowel nucleus, final.
static SYLLABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?(?:uye|uya|uyu|oai|oay|oao|oeo|uay|uoi|uou|ieu|yeu|ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|uo|uu|uy|ye|[aeiouy])(?:ch|ng|nh|[cmnpt])?$",
    )
    .expect("valid regex")
});

/// The largest edit distance tolerated for a word of `len` letters.
fn tolerance(len: usize) -> usize {
    match len {
        0..5 => 0,
        5..8 => 1,
        _ => 2,
    }
}

/// The one lexicon word `word` (folded) is a misspelling of, with its meaning.
pub(super) fn nearest(word: &str) -> Option<(&'static str, Meaning)> {
    let len = word.chars().count();
    // The allowance is the lexicon word's ("whte" is one letter from the five of "white"), but
    // a typed word under four letters is too short to be sure of.
    if len < 4
        || !word.chars().all(|c| c.is_ascii_alphabetic())
        || KEEP.contains(word)
        || SYLLABLE.is_match(word)
        || crate::lexicon::is_phrase_word(word)
    {
        return None;
    }
    let mut best: Option<(usize, &'static str, Meaning)> = None;
    let mut tie = false;
    for (w, m) in crate::lexicon::single_words() {
        let max = tolerance(w.len());
        if max == 0 || w.len().abs_diff(len) > max {
            continue;
        }
        let d = strsim::osa_distance(word, w);
        if d > max {
            continue;
        }
        match best {
            Some((bd, _, _)) if d > bd => {}
            Some((bd, bw, bm)) if d == bd => tie |= bw != w && bm != m,
            _ => {
                best = Some((d, w, m));
                tie = false;
            }
        }
    }
    best.filter(|_| !tie).map(|(_, w, m)| (w, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_words_are_read_and_real_words_are_not() {
        for (typed, meant) in [
            ("motobike", "motorbike"),
            ("motorbyke", "motorbike"),
            ("trukc", "truck"),
            ("bicyle", "bicycle"),
            ("loitring", "loitering"),
            ("yelow", "yellow"),
        ] {
            assert_eq!(nearest(typed).map(|(w, _)| w), Some(meant), "{typed}");
        }
        for word in [
            "while",
            "block",
            "the",
            "umbrella",
            "motorbike",
            "xe",
            "quang",
            "truong",
            "nguoi",
            "thanh",
            "duong",
        ] {
            assert_eq!(nearest(word), None, "{word}");
        }
    }
}
