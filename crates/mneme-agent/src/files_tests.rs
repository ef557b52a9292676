use chrono::Duration;
use mneme_store::AgentDirectory;
use mneme_types::{FileId, FolderId};

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_736_931_600 + seconds, 0).unwrap()
}

fn file(folder: FolderId, name: &str, open: bool, used: i64) -> AgentFile {
    AgentFile {
        id: FileAgentId::new(),
        file_id: FileId::new(),
        folder_id: folder,
        file_name: name.into(),
        is_open: open,
        visible_content: open.then(|| format!("[view of {name}]")),
        start_line: None,
        end_line: None,
        last_accessed_at: at(used),
        created_at: at(0),
    }
}

fn held(names: &[(&str, bool, i64)]) -> (OpenFiles, FolderId) {
    let folder = FolderId::new();
    let files = names
        .iter()
        .map(|(n, open, used)| file(folder, n, *open, *used))
        .collect();
    let dir = AgentDirectory {
        id: folder,
        name: "docs".into(),
        description: Some("Project notes".into()),
        instructions: None,
    };
    let files = AgentFiles {
        directories: vec![dir],
        files,
    };
    (OpenFiles::new(files), folder)
}

fn open_names(files: &OpenFiles) -> Vec<String> {
    let f = &files.current().files;
    f.iter()
        .filter(|f| f.is_open)
        .map(|f| f.file_name.clone())
        .collect()
}

#[test]
fn opening_past_the_limit_closes_the_least_recently_used() {
    let (mut files, _) = held(&[
        ("docs/a", true, 10),
        ("docs/b", true, 5),
        ("docs/c", false, 0),
    ]);
    let opened = files
        .open("docs/c", "1: c".into(), LineRange::default(), 2, at(20))
        .unwrap();
    assert_eq!(opened.closed, vec!["docs/b".to_owned()]);
    assert_eq!(opened.previous, None);
    assert_eq!(open_names(&files), vec!["docs/a", "docs/c"]);
    let changed: Vec<String> = files.changes().into_iter().map(|f| f.file_name).collect();
    assert_eq!(changed, vec!["docs/b", "docs/c"]);
    files.mark_committed();
    assert!(files.changes().is_empty());
}

#[test]
fn reopening_with_another_range_reports_the_previous_one() {
    let (mut files, _) = held(&[("docs/a", false, 0)]);
    let range = LineRange {
        start: Some(3),
        end: Some(10),
    };
    files.open("docs/a", "v1".into(), range, 5, at(1)).unwrap();
    let again = files
        .open("docs/a", "v2".into(), LineRange::default(), 5, at(2))
        .unwrap();
    assert_eq!(again.previous, Some(range));
    assert!(
        files
            .open("docs/missing", "x".into(), range, 5, at(3))
            .is_none()
    );
}

#[test]
fn close_all_except_keeps_the_named_files() {
    let (mut files, _) = held(&[
        ("docs/a", true, 1),
        ("docs/b", true, 2),
        ("docs/c", true, 3),
    ]);
    let closed = files.close_all_except(&["docs/b".into()]);
    assert_eq!(closed, vec!["docs/a", "docs/c"]);
    assert_eq!(open_names(&files), vec!["docs/b"]);
}

#[test]
fn attaching_opens_new_files_first_then_the_most_recent_old_ones() {
    let (mut files, folder) = held(&[("docs/a", true, 1), ("docs/b", true, 2)]);
    let new = vec![
        file(folder, "docs/n1", true, 0),
        file(folder, "docs/n2", true, 0),
    ];
    let closed = files.attach(new, 3, at(9));
    assert_eq!(closed, vec!["docs/a"]);
    assert_eq!(open_names(&files), vec!["docs/b", "docs/n1", "docs/n2"]);

    let more: Vec<AgentFile> = (0..4)
        .map(|i| file(folder, &format!("docs/m{i}"), true, 0))
        .collect();
    let closed = files.attach(more, 3, at(10));
    assert!(closed.contains(&"docs/m3".to_owned()), "{closed:?}");
    assert_eq!(open_names(&files), vec!["docs/m0", "docs/m1", "docs/m2"]);
}

#[test]
fn directories_render_open_and_closed_files_with_limits() {
    let (files, _) = held(&[("docs/a.txt", true, 1), ("docs/b.txt", false, 0)]);
    let limits = FileLimits {
        max_open: 5,
        chars_per_file: 100,
    };
    let text = render_directories(AgentType::LettaV1Agent, files.current(), limits);
    let expected = "<directories>\n<file_limits>\n- current_files_open=1\n- max_files_open=5\n\
        </file_limits>\n<directory name=\"docs\">\n<description>Project notes</description>\n\
        <file status=\"open\" name=\"docs/a.txt\">\n<metadata>\n- read_only=true\n\
        - chars_current=20\n- chars_limit=100\n</metadata>\n<value>\n[view of docs/a.txt]\n\
        </value>\n</file>\n<file status=\"closed\" name=\"docs/b.txt\">\n<metadata>\n\
        - read_only=true\n- chars_current=0\n- chars_limit=100\n</metadata>\n</file>\n\
        </directory>\n</directories>";
    assert_eq!(text, expected);
    assert_eq!(
        render_directories(AgentType::LettaV1Agent, &AgentFiles::default(), limits),
        ""
    );
}

#[test]
fn long_views_are_cut_to_the_limit_with_a_marker() {
    let (mut files, _) = held(&[("docs/a", false, 0)]);
    let long = "x".repeat(500);
    files
        .open(
            "docs/a",
            long,
            LineRange::default(),
            3,
            at(1) + Duration::seconds(1),
        )
        .unwrap();
    let value = visible_value(&files.current().files[0], 200);
    assert_eq!(value.chars().count(), 200);
    assert!(value.ends_with("use functions to view the full content."));
}

#[test]
fn limits_follow_the_context_window_unless_set() {
    assert_eq!(default_file_limits(8_000), (3, 5_000));
    assert_eq!(default_file_limits(32_000), (5, 15_000));
    assert_eq!(default_file_limits(128_000), (10, 25_000));
    assert_eq!(default_file_limits(200_000), (10, 40_000));
    assert_eq!(default_file_limits(1_000_000), (15, 40_000));
}
