//! Every document fixture in `tests/fixtures/documents/` through extraction, passages and line
//! views, asserting what a user of the file tools would see.

use std::path::PathBuf;

use mneme_documents::{
    ChunkOptions, DocumentError, DocumentKind, LineUnit, chunk, extract, lines, view,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/documents")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn text_of(name: &str) -> (DocumentKind, String, Option<u32>) {
    let kind = DocumentKind::detect(name, None).unwrap_or_else(|| panic!("no kind for {name}"));
    let got = extract(kind, &read(name)).unwrap_or_else(|e| panic!("extract {name}: {e}"));
    (kind, got.text, got.pages)
}

/// Where each passage sits in `text`, checking each is a non-empty, trimmed slice of it no
/// longer than `opts.size`, that they come in order, that each overlaps the one before by at
/// most `opts.overlap` characters, and that together they cover every word.
fn check_passages(name: &str, text: &str, opts: &ChunkOptions) -> Vec<(usize, usize)> {
    let kind = DocumentKind::detect(name, None).unwrap_or(DocumentKind::Text);
    let passages = chunk(kind, text, opts);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut from = 0;
    for p in &passages {
        assert!(!p.text.trim().is_empty(), "{name}: empty passage");
        assert_eq!(p.text.trim(), p.text, "{name}: untrimmed passage");
        assert!(
            p.text.chars().count() <= opts.size,
            "{name}: passage too long"
        );
        let at = from
            + text[from..]
                .find(&p.text)
                .unwrap_or_else(|| panic!("{name}: passage not in order"));
        if let Some(&(_, prev_end)) = spans.last() {
            assert!(at > spans[spans.len() - 1].0, "{name}: no progress");
            let shared = text[at..prev_end.max(at)].chars().count();
            assert!(shared <= opts.overlap, "{name}: {shared} chars shared");
        }
        spans.push((at, at + p.text.len()));
        from = at;
    }
    // Coverage: every non-space character of the text lies in some passage.
    let mut covered_to = 0;
    for &(start, end) in &spans {
        assert!(
            text[covered_to..start.max(covered_to)].trim().is_empty(),
            "{name}: words between passages are lost"
        );
        covered_to = covered_to.max(end);
    }
    assert!(
        text[covered_to..].trim().is_empty(),
        "{name}: the end is lost"
    );
    spans
}

#[test]
fn every_fixture_extracts_chunks_and_views() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap_or_else(|e| panic!("{e}")) {
        let name = entry
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        let (kind, text, _) = text_of(&name);
        assert!(!text.trim().is_empty(), "{name}: no text");
        check_passages(&name, &text, &ChunkOptions::default());
        check_passages(
            &name,
            &text,
            &ChunkOptions {
                size: 300,
                overlap: 60,
            },
        );
        let ls = lines(kind, &text);
        let unit = LineUnit::of(kind).as_str();
        let whole = view(kind, &ls, None, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let header = format!("[Viewing file start (out of {} {unit})]", ls.len());
        assert!(
            whole.starts_with(&header),
            "{name}: {}",
            &whole[..80.min(whole.len())]
        );
        assert_eq!(whole.lines().count(), ls.len() + 1, "{name}");
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} fixtures");
}

#[test]
fn the_pdf_reads_as_the_paper() {
    let (kind, text, pages) = text_of("memgpt_paper.pdf");
    assert_eq!(kind, DocumentKind::Pdf);
    assert_eq!(pages, Some(13));
    assert!(text.starts_with("MemGPT: Towards LLMs as Operating Systems\n"));
    // The normaliser's work: a line-end hyphenation joined, ligatures folded, no blank runs.
    assert!(text.contains("Large language models (LLMs) have revolutionized AI"));
    assert!(!text.contains('\u{FB01}') && !text.contains('\u{FB02}'));
    assert!(!text.contains("\n\n\n"));
    assert!(text.contains("virtual context management"));
    let words = text.split_whitespace().count();
    assert!((8000..10000).contains(&words), "{words} words");
    let passages = check_passages("memgpt_paper.pdf", &text, &ChunkOptions::default());
    let overlapping = passages.windows(2).filter(|w| w[1].0 < w[0].1).count();
    assert!(
        overlapping * 10 >= passages.len() * 9,
        "{overlapping} of {} overlap",
        passages.len()
    );
}

#[test]
fn structured_and_plain_fixtures_keep_their_content() {
    let (_, csv, _) = text_of("test.csv");
    assert!(csv.starts_with("Index,Name,Description,Brand"));
    assert!(csv.contains("Herman Ltd"));
    let (_, json, _) = text_of("test.json");
    assert!(json.contains("\"GlossTerm\": \"Standard Generalized Markup Language\""));
    let (_, txt, _) = text_of("test.txt");
    assert_eq!(txt.trim(), "test");
    let (_, long, _) = text_of("long_test.txt");
    assert!(long.starts_with("Enrico Letta (Italian: [enˈriːko ˈlɛtta]"));
    // Each CSV row is one line of the file view, numbered after the header.
    let ls = lines(DocumentKind::Csv, &csv);
    assert_eq!(
        ls.len(),
        csv.lines().filter(|l| !l.trim().is_empty()).count()
    );
    let window = view(DocumentKind::Csv, &ls, Some(1), Some(1)).unwrap_or_default();
    assert_eq!(
        window,
        format!(
            "[Viewing lines 2 to 2 (out of {} lines)]\n2: {}",
            ls.len(),
            ls[1]
        )
    );
    assert!(ls[1].starts_with("1,Smart Fan Iron Cooker"));
}

#[test]
fn markdown_views_count_sentences() {
    let (kind, md, _) = text_of("test.md");
    let ls = lines(kind, &md);
    let whole = view(kind, &ls, None, None).unwrap_or_default();
    assert!(whole.starts_with(&format!(
        "[Viewing file start (out of {} sentences)]\n1: ",
        ls.len()
    )));
    assert!(ls.iter().any(|s| s.contains("h1 Heading")));
}

#[test]
fn the_html_sample_reads_as_text() {
    let (_, text, pages) = text_of("sample.html");
    assert_eq!(pages, None);
    assert!(text.starts_with("Tiered Memory for Agents\n"));
    assert!(text.contains("much as an operating system moves pages between RAM and disk."));
    assert!(text.contains("- Core memory — always visible\n- Recall memory"));
    assert!(text.contains("Core < 8 KB"));
    assert!(text.contains("Café élève © 2026 & beyond."));
    assert!(text.contains("search(query=\"zebra migration\", top_k=3)\n    -> 3 passages"));
    for hidden in [
        "analytics",
        "font-family",
        "navigation is markup",
        "hidden",
        "JavaScript",
        "<",
    ] {
        if hidden == "<" {
            assert!(!text.contains("<p") && !text.contains("<a"), "tags left");
        } else {
            assert!(!text.contains(hidden), "{hidden} leaked");
        }
    }
}

#[test]
fn broken_pdfs_are_corrupt_not_panics() {
    let pdf = read("memgpt_paper.pdf");
    for cut in [pdf.len() / 2, pdf.len() / 10, 1024, 8] {
        let got = extract(DocumentKind::Pdf, &pdf[..cut]);
        assert!(
            matches!(got, Err(DocumentError::Corrupt(_))),
            "truncated to {cut} bytes: {:?}",
            got.map(|e| e.pages)
        );
    }
    // The real header followed by noise, and noise alone.
    let mut noisy = pdf[..2048].to_vec();
    noisy.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
    assert!(matches!(
        extract(DocumentKind::Pdf, &noisy),
        Err(DocumentError::Corrupt(_))
    ));
    assert!(matches!(
        extract(DocumentKind::Pdf, &noisy[2048..]),
        Err(DocumentError::Corrupt(_))
    ));
    assert!(matches!(
        extract(DocumentKind::Pdf, b""),
        Err(DocumentError::Corrupt(_))
    ));
}

#[test]
fn damaged_pdfs_give_text_or_corrupt_never_a_panic() {
    let pdf = read("memgpt_paper.pdf");
    // A fixed xorshift sequence: the same damage on every run.
    let mut seed: u32 = 0x9E37_79B9;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as usize
    };
    for round in 0..12 {
        let mut damaged = pdf.clone();
        for _ in 0..(8 << (round % 6)) {
            let at = next() % damaged.len();
            damaged[at] = next() as u8;
        }
        match extract(DocumentKind::Pdf, &damaged) {
            Ok(got) => assert!(got.pages.is_some_and(|p| p >= 1), "round {round}"),
            Err(DocumentError::Corrupt(_)) => {}
            Err(e) => panic!("round {round}: {e}"),
        }
    }
}
