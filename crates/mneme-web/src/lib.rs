//! The web UI: the files under `ui/`, embedded at build time (see `build.rs`). The UI is plain
//! ES modules (Preact and htm vendored under `ui/vendor/`), so what is embedded is what the
//! browser runs: no bundler, no build step, no network. It talks to the server only through
//! the public Letta API, like any other client.
//!
//! This crate knows no HTTP framework: `mneme-server` looks files up here and answers them.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// A quoted digest of the bytes, for `ETag` and `If-None-Match`.
    pub etag: &'static str,
}

/// The page the UI starts from.
pub fn index() -> Option<Asset> {
    asset("index.html")
}

/// The file at `path` under `ui/` (`app.js`, `views/chat.js`, ...), if there is one.
pub fn asset(path: &str) -> Option<Asset> {
    let i = ASSETS
        .binary_search_by(|(name, _, _)| (*name).cmp(path))
        .ok()?;
    let (name, bytes, etag) = ASSETS[i];
    Some(Asset {
        bytes,
        content_type: content_type(name),
        etag,
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> impl Iterator<Item = &'static str> {
        ASSETS.iter().map(|(name, _, _)| *name)
    }

    #[test]
    fn the_table_is_sorted_so_lookups_find_every_file() {
        for path in paths() {
            assert!(asset(path).is_some(), "{path} not found");
        }
        assert!(paths().count() > 3);
    }

    #[test]
    fn the_index_and_the_vendored_modules_are_embedded_with_their_types() {
        let index = index().expect("index.html");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(
            std::str::from_utf8(index.bytes)
                .expect("utf-8")
                .contains("/ui/app.js")
        );
        let preact = asset("vendor/preact.mjs").expect("preact");
        assert_eq!(preact.content_type, "text/javascript; charset=utf-8");
        assert!(asset("missing.js").is_none());
        assert!(asset("../Cargo.toml").is_none());
    }
}
