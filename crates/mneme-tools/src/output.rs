//! Bounded capture of a child's stdout and stderr.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// What one stream produced: its first bytes, up to the cap, and how many there were in all.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    kept: Vec<u8>,
    total: u64,
}

/// Reads `reader` to its end (or until `stop` fires), keeping at most `cap` bytes. The rest is
/// read and dropped, never buffered, so that a tool printing gigabytes neither blocks on a full
/// pipe nor grows the server's memory.
pub(crate) async fn read_capped<R>(
    reader: Option<R>,
    cap: usize,
    mut stop: watch::Receiver<bool>,
) -> Captured
where
    R: AsyncRead + Unpin,
{
    let mut captured = Captured::default();
    let Some(mut reader) = reader else {
        return captured;
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = stop.changed() => break,
        };
        captured.total += n as u64;
        let room = cap.saturating_sub(captured.kept.len());
        captured.kept.extend_from_slice(&buf[..n.min(room)]);
    }
    captured
}

/// Shares `budget` bytes between the two streams and renders them as text. Each stream is
/// guaranteed half of the budget when both overflow, so a flood on stdout cannot hide the
/// traceback on stderr; a stream that needs less leaves the rest to the other.
pub(crate) fn render(stdout: Captured, stderr: Captured, budget: usize) -> (String, String) {
    let half = budget / 2;
    let err_keep = stderr.kept.len().min(budget - stdout.kept.len().min(half));
    let out_keep = stdout.kept.len().min(budget - err_keep);
    (text(stdout, out_keep), text(stderr, err_keep))
}

/// The first `keep` bytes as UTF-8 (invalid sequences replaced), plus a note if anything was
/// dropped.
fn text(captured: Captured, keep: usize) -> String {
    let mut end = keep.min(captured.kept.len());
    // Cut before a partial UTF-8 sequence rather than turn it into a replacement character.
    if end < captured.kept.len() {
        while end > 0 && captured.kept[end] & 0b1100_0000 == 0b1000_0000 {
            end -= 1;
        }
    }
    let mut out = String::from_utf8_lossy(&captured.kept[..end]).into_owned();
    let dropped = captured.total - end as u64;
    if dropped > 0 {
        out.push_str(&format!(
            "\n... [output truncated: {dropped} of {} bytes dropped]",
            captured.total
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(len: usize, total: u64) -> Captured {
        Captured {
            kept: vec![b'a'; len],
            total,
        }
    }

    #[test]
    fn small_streams_are_kept_whole() {
        let (out, err) = render(captured(10, 10), captured(5, 5), 100);
        assert_eq!((out.len(), err.len()), (10, 5));
    }

    #[test]
    fn a_flooded_stdout_leaves_room_for_stderr() {
        let (out, err) = render(captured(100, 5000), captured(30, 30), 100);
        assert!(out.starts_with(&"a".repeat(70)));
        assert!(out.contains("[output truncated: 4930 of 5000 bytes dropped]"));
        assert_eq!(err, "a".repeat(30));
    }

    #[test]
    fn both_flooded_get_half_each() {
        let (out, err) = render(captured(100, 500), captured(100, 500), 100);
        assert!(out.contains("450 of 500"), "{out}");
        assert!(err.contains("450 of 500"), "{err}");
    }

    #[test]
    fn cuts_never_split_a_character() {
        let kept = "ééé".as_bytes().to_vec(); // 6 bytes
        let (out, _) = render(Captured { kept, total: 6 }, Captured::default(), 3);
        assert!(out.starts_with("é\n"), "{out}");
    }
}
