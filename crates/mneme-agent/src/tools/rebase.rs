//! Replaying a memory edit on a block another writer changed meanwhile (two conversations of one
//! agent editing a shared block in overlapping turns). The edit is taken as the one contiguous
//! change from the value it was made on (`base`) to the edited value (`ours`), and applied to
//! the current value (`theirs`) where it still finds its place unambiguously: the replaced text
//! occurring once, or for an insertion, the text around it. Anything else is a real conflict.

/// How much surrounding text anchors an edit whose own text is not unique.
const CONTEXT: usize = 32;

/// `ours`'s change to `base`, applied to `theirs`; `None` when it has no unambiguous place.
pub(crate) fn rebase_text(base: &str, ours: &str, theirs: &str) -> Option<String> {
    if ours == base {
        return Some(theirs.to_owned());
    }
    if theirs == base {
        return Some(ours.to_owned());
    }
    let prefix = common_prefix(base, ours);
    let suffix = common_suffix(&base[prefix..], &ours[prefix..]);
    let removed = &base[prefix..base.len() - suffix];
    let added = &ours[prefix..ours.len() - suffix];
    let (start, end) = if removed.is_empty() {
        let at = insertion_point(base, (prefix, added), theirs)?;
        (at, at)
    } else {
        replaced_span(base, (prefix, base.len() - suffix), theirs)?
    };
    Some(format!("{}{added}{}", &theirs[..start], &theirs[end..]))
}

/// Where `base[span]` is in `theirs`: the text itself when it occurs once, else with the text
/// around it.
fn replaced_span(base: &str, (from, to): (usize, usize), theirs: &str) -> Option<(usize, usize)> {
    if let Some(at) = unique(theirs, &base[from..to]) {
        return Some((at, at + (to - from)));
    }
    let (left, right) = (back(base, from, CONTEXT), forward(base, to, CONTEXT));
    let at = unique(theirs, &base[left..right])?;
    Some((at + (from - left), at + (to - left)))
}

/// Where `added`, inserted at `base[at]`, goes in `theirs`: new lines at the end stay at the
/// end (both sides appended), else after the text before it, else before the text after it.
fn insertion_point(base: &str, (at, added): (usize, &str), theirs: &str) -> Option<usize> {
    if at == base.len() && (added.starts_with('\n') || base.is_empty()) {
        return Some(theirs.len());
    }
    if at == 0 {
        return Some(0);
    }
    let before = &base[back(base, at, CONTEXT)..at];
    if let Some(found) = unique(theirs, before) {
        return Some(found + before.len());
    }
    let after = &base[at..forward(base, at, CONTEXT)];
    unique(theirs, after)
}

/// The byte offset of `needle`'s only occurrence in `hay`.
fn unique(hay: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut found = hay.match_indices(needle);
    let (first, _) = found.next()?;
    found.next().is_none().then_some(first)
}

/// Bytes both strings start with, on a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

/// Bytes both strings end with, on a character boundary.
fn common_suffix(a: &str, b: &str) -> usize {
    let same = a
        .chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum::<usize>();
    same.min(a.len()).min(b.len())
}

/// The character boundary at most `n` bytes before `at`.
fn back(s: &str, at: usize, n: usize) -> usize {
    let mut i = at.saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The character boundary at most `n` bytes after `at`.
fn forward(s: &str, at: usize, n: usize) -> usize {
    let mut i = (at + n).min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_appends_both_stay() {
        let base = "Name: Ada";
        let ours = "Name: Ada\nLikes tea";
        let theirs = "Name: Ada\nWorks at night";
        assert_eq!(
            rebase_text(base, ours, theirs).as_deref(),
            Some("Name: Ada\nWorks at night\nLikes tea")
        );
    }

    #[test]
    fn a_replacement_lands_where_its_text_still_is() {
        let base = "Name: Ada\nCity: Paris";
        let ours = "Name: Ada Lovelace\nCity: Paris";
        let theirs = "Name: Ada\nCity: London";
        assert_eq!(
            rebase_text(base, ours, theirs).as_deref(),
            Some("Name: Ada Lovelace\nCity: London")
        );
    }

    #[test]
    fn edits_of_the_same_text_conflict() {
        let base = "City: Paris";
        assert_eq!(rebase_text(base, "City: Rome", "City: London"), None);
    }

    #[test]
    fn a_short_change_is_placed_by_its_surroundings() {
        let base = "a: 1\nb: 1\nc: 1";
        let ours = "a: 1\nb: 2\nc: 1";
        let theirs = "z: 0\na: 1\nb: 1\nc: 1";
        assert_eq!(
            rebase_text(base, ours, theirs).as_deref(),
            Some("z: 0\na: 1\nb: 2\nc: 1")
        );
    }

    #[test]
    fn unchanged_sides_take_the_other() {
        assert_eq!(rebase_text("x", "x", "y").as_deref(), Some("y"));
        assert_eq!(rebase_text("x", "y", "x").as_deref(), Some("y"));
    }

    #[test]
    fn multibyte_text_splits_on_characters() {
        let base = "名前: アダ";
        let ours = "名前: アダ・ラブレス";
        let theirs = "名前: アダ\n街: 東京";
        assert_eq!(
            rebase_text(base, ours, theirs).as_deref(),
            Some("名前: アダ・ラブレス\n街: 東京")
        );
    }
}
