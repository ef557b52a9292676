//! The web UI's files: served from the binary at `/` and `/ui/...`, with types, validators and
//! a policy that keeps the page to its own files. What the UI does is tested in a browser
//! (tests/ui).

use crate::server;

async fn get(url: String, etag: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::new();
    let mut req = client.get(url);
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn root_serves_the_page_and_its_modules_without_the_network() {
    let srv = server().await;
    let resp = get(format!("{}/", srv.base), None).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"src="/ui/app.js""#));
    // No CDN: every script and stylesheet is the server's own.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(attr) {
            let target = &page[i + attr.len()..];
            assert!(
                target.starts_with('/') || target.starts_with("data:"),
                "{target:.40}"
            );
        }
    }

    for (path, kind) in [
        ("/ui/app.js", "text/javascript"),
        ("/ui/vendor/preact.mjs", "text/javascript"),
        ("/ui/style.css", "text/css"),
    ] {
        let resp = get(format!("{}{path}", srv.base), None).await;
        assert_eq!(resp.status(), 200, "{path}");
        let got = resp.headers()["content-type"].to_str().unwrap();
        assert!(got.starts_with(kind), "{path}: {got}");
        let body = resp.text().await.unwrap();
        assert!(!body.contains("https://cdn"), "{path} loads from a CDN");
    }
}

#[tokio::test]
async fn a_file_the_browser_holds_is_not_sent_again() {
    let srv = server().await;
    let first = get(format!("{}/ui/app.js", srv.base), None).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let again = get(format!("{}/ui/app.js", srv.base), Some(&etag)).await;
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = get(format!("{}/ui/app.js", srv.base), Some("\"stale\"")).await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn a_missing_file_is_a_json_404_and_paths_cannot_climb_out() {
    let srv = server().await;
    for path in [
        "/ui/nope.js",
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/build.rs",
        "/ui/",
    ] {
        let resp = get(format!("{}{path}", srv.base), None).await;
        assert_eq!(resp.status(), 404, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["detail"], "Not Found", "{path}");
    }
}
