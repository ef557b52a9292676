//! Text into overlapping passages for embedding.
//!
//! The text is read once into words (maximal runs of non-space characters) and, for each, how
//! strong the break after it is: a blank line, a sentence end, a line end or a plain space.
//! A passage takes as many words as fit in `size` characters and then ends at the strongest
//! break in its second half, so passages follow paragraphs when they can and sentences when
//! they must. The next passage starts a little before the previous one ended, at the strongest
//! break that repeats about `overlap` characters. Passages are slices of the text, so every word
//! appears whole and unchanged in some passage (a "word" longer than `size`, such as a base64
//! blob, is cut into `size`-character pieces).

use crate::{Chunk, ChunkOptions, DocumentKind};

/// How strongly the text breaks after a word; higher is a better place to end a passage.
type Strength = u8;
const INSIDE_WORD: Strength = 0;
const SPACE: Strength = 1;
const LINE: Strength = 2;
const SENTENCE: Strength = 3;
const PARAGRAPH: Strength = 4;

#[derive(Debug, Clone, Copy)]
struct Word {
    start_byte: usize,
    end_byte: usize,
    start_char: usize,
    end_char: usize,
    /// The break after this word.
    after: Strength,
}

/// The passages of `text`, in order: none empty, each at most `opts.size` characters, each
/// after the first repeating about `opts.overlap` characters of the one before. The same input
/// always gives the same passages.
pub fn chunk(kind: DocumentKind, text: &str, opts: &ChunkOptions) -> Vec<Chunk> {
    let size = opts.size.max(1);
    let overlap = opts.overlap.min(size / 2);
    let words = words(kind, text, size);
    let mut out = Vec::new();
    let mut first = 0;
    while first < words.len() {
        let end = passage_end(&words, first, size);
        out.push(Chunk {
            text: text[words[first].start_byte..words[end].end_byte].to_owned(),
        });
        if end + 1 == words.len() {
            break;
        }
        first = next_start(&words, first, end, size, overlap);
    }
    out
}

/// The last word of the passage starting at `first`.
fn passage_end(words: &[Word], first: usize, size: usize) -> usize {
    let start = words[first].start_char;
    let mut last = first;
    while last + 1 < words.len() && words[last + 1].end_char - start <= size {
        last += 1;
    }
    if last + 1 == words.len() {
        return last;
    }
    // The strongest break in the passage's second half, the latest of equals; a passage of
    // one paragraph or one sentence is not cut short just because a break comes early.
    let half = size / 2;
    (first..=last)
        .filter(|&k| words[k].end_char - start >= half)
        .max_by_key(|&k| (words[k].after, k))
        .unwrap_or(last)
}

/// The first word of the passage after the one spanning `first..=end`: the start of a word no
/// more than `overlap` characters before the end, preferring one after a strong break, from
/// which the next passage still reaches past `end`.
fn next_start(words: &[Word], first: usize, end: usize, size: usize, overlap: usize) -> usize {
    let stop = words[end].end_char;
    let reach = words[end + 1].end_char;
    let candidates = (first + 1..=end)
        .filter(|&j| stop - words[j].start_char <= overlap && reach - words[j].start_char <= size);
    let band = candidates
        .clone()
        .filter(|&j| stop - words[j].start_char >= overlap / 2);
    // Strongest break before the word; of equals the earliest, for the fuller overlap.
    band.max_by_key(|&j| (words[j - 1].after, std::cmp::Reverse(j)))
        .or_else(|| candidates.min())
        .unwrap_or(end + 1)
}

/// The words of `text` with the break after each; words longer than `size` characters are
/// cut into pieces of `size`.
fn words(kind: DocumentKind, text: &str, size: usize) -> Vec<Word> {
    let line_is_sentence = matches!(
        kind,
        DocumentKind::Csv | DocumentKind::Json | DocumentKind::Code
    );
    let mut out: Vec<Word> = Vec::new();
    let mut current: Option<Word> = None;
    let mut newlines = 0;
    for (char_index, (byte, c)) in text.char_indices().enumerate() {
        if c.is_whitespace() {
            if let Some(word) = current.take() {
                out.push(word);
                newlines = 0;
            }
            newlines += usize::from(c == '\n');
            if let Some(prev) = out.last_mut() {
                prev.after = gap_strength(prev.after, newlines, line_is_sentence);
            }
            continue;
        }
        let word = current.get_or_insert(Word {
            start_byte: byte,
            end_byte: byte,
            start_char: char_index,
            end_char: char_index,
            after: SPACE,
        });
        word.end_byte = byte + c.len_utf8();
        word.end_char = char_index + 1;
    }
    out.extend(current);
    for word in &mut out {
        if ends_sentence(&text[word.start_byte..word.end_byte]) {
            word.after = word.after.max(SENTENCE);
        }
    }
    split_long_words(text, out, size)
}

fn gap_strength(so_far: Strength, newlines: usize, line_is_sentence: bool) -> Strength {
    let by_gap = match newlines {
        0 => SPACE,
        1 if line_is_sentence => SENTENCE,
        1 => LINE,
        _ => PARAGRAPH,
    };
    so_far.max(by_gap)
}

/// `end.`, `really?!`, `said."` and `(see above.)` end sentences; `e.g` and `3.5` do not.
fn ends_sentence(word: &str) -> bool {
    let trimmed = word.trim_end_matches(['"', '\'', ')', ']', '”', '’', '*', '_']);
    trimmed.ends_with(['.', '!', '?', '。', '！', '？'])
}

fn split_long_words(text: &str, words: Vec<Word>, size: usize) -> Vec<Word> {
    if words.iter().all(|w| w.end_char - w.start_char <= size) {
        return words;
    }
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        if word.end_char - word.start_char <= size {
            out.push(word);
            continue;
        }
        let mut piece: Option<Word> = None;
        let mut char_index = word.start_char;
        for (byte, c) in text[word.start_byte..word.end_byte].char_indices() {
            let byte = word.start_byte + byte;
            let p = piece.get_or_insert(Word {
                start_byte: byte,
                end_byte: byte,
                start_char: char_index,
                end_char: char_index,
                after: INSIDE_WORD,
            });
            p.end_byte = byte + c.len_utf8();
            char_index += 1;
            p.end_char = char_index;
            if p.end_char - p.start_char == size {
                out.extend(piece.take());
            }
        }
        out.extend(piece);
        if let Some(last) = out.last_mut() {
            last.after = word.after;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(kind: DocumentKind, text: &str, size: usize, overlap: usize) -> Vec<String> {
        chunk(kind, text, &ChunkOptions { size, overlap })
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    #[test]
    fn empty_and_blank_text_has_no_passages() {
        assert!(texts(DocumentKind::Text, "", 100, 10).is_empty());
        assert!(texts(DocumentKind::Text, " \n\n\t ", 100, 10).is_empty());
    }

    #[test]
    fn short_text_is_one_trimmed_passage() {
        assert_eq!(
            texts(DocumentKind::Text, "\n  Hello there.  \n", 100, 10),
            vec!["Hello there."]
        );
    }

    #[test]
    fn passages_end_at_paragraphs_before_sentences_before_words() {
        let text = "First paragraph has words. It ends here.\n\nSecond one is a bit longer than that. Next.";
        // 60 characters hold the first paragraph (40) and part of the second: cut at the blank line.
        assert_eq!(
            texts(DocumentKind::Text, text, 60, 0),
            vec![
                "First paragraph has words. It ends here.",
                "Second one is a bit longer than that. Next."
            ]
        );
        // No paragraph break in range: cut at the last sentence end.
        let prose = "One two three. Four five six seven. Eight nine ten eleven twelve";
        assert_eq!(
            texts(DocumentKind::Text, prose, 40, 0)[0],
            "One two three. Four five six seven."
        );
        // No sentence end at all: cut at a space.
        let words = "alpha beta gamma delta epsilon zeta eta theta";
        let got = texts(DocumentKind::Text, words, 20, 0);
        assert_eq!(got[0], "alpha beta gamma");
        assert!(got.iter().all(|c| c.chars().count() <= 20));
    }

    #[test]
    fn consecutive_passages_overlap_and_start_at_sentences_when_they_can() {
        let text = "Aa bb cc. Dd ee ff. Gg hh ii. Jj kk ll. Mm nn oo. Pp qq rr. Ss tt uu.";
        let got = texts(DocumentKind::Text, text, 30, 12);
        assert!(got.len() > 2);
        for pair in got.windows(2) {
            let shared = (1..=pair[0].len())
                .rev()
                .find(|&n| pair[1].starts_with(&pair[0][pair[0].len() - n..]));
            assert!(
                shared.is_some_and(|n| (6..=12).contains(&n)),
                "{pair:?} share {shared:?}"
            );
            assert!(pair[1].starts_with(char::is_uppercase), "{pair:?}");
        }
    }

    #[test]
    fn csv_rows_are_whole_in_passages() {
        let rows: String = (0..50).map(|i| format!("{i},name {i},x y z\n")).collect();
        for passage in texts(DocumentKind::Csv, &rows, 100, 0) {
            assert!(passage.chars().count() <= 100);
            assert!(passage.ends_with(",x y z"), "{passage:?} ends mid-row");
        }
    }

    #[test]
    fn a_word_longer_than_a_passage_is_cut_into_pieces() {
        let blob = format!("start {} end", "é".repeat(25));
        let got = texts(DocumentKind::Text, &blob, 10, 3);
        assert!(got.iter().all(|c| c.chars().count() <= 10), "{got:?}");
        assert_eq!(got.concat().matches('é').count(), 25);
        assert_eq!(got.first().map(String::as_str), Some("start"));
        assert!(got.last().is_some_and(|c| c.ends_with(" end")), "{got:?}");
    }

    #[test]
    fn silly_options_still_make_progress() {
        let got = texts(DocumentKind::Text, "a b c", 0, 99);
        assert_eq!(got, vec!["a", "b", "c"]);
    }
}
