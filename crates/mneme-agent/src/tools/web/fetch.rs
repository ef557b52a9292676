//! `fetch_webpage`: one page as readable text, fetched by the server itself.
//!
//! The model chooses the URL, so the server must not become a way into its own network: every
//! hop's host is resolved here, every address it resolves to must be public, and the request
//! is pinned to those addresses (no second lookup a rebinding DNS server could answer
//! differently). Redirects are followed by hand so each target is checked the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use super::WebOptions;

/// Hops followed before giving up.
const MAX_REDIRECTS: usize = 5;

pub(super) async fn fetch_webpage(options: &WebOptions, url: &str) -> Result<String, String> {
    let start = Url::parse(url.trim()).map_err(|e| format!("Error: invalid URL '{url}': {e}"))?;
    match tokio::time::timeout(options.timeout, follow(options, start)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "Error fetching webpage: no complete answer from {url} within {} seconds",
            options.timeout.as_secs()
        )),
    }
}

/// Fetches `url`, following redirects, and turns the final body into text.
async fn follow(options: &WebOptions, mut url: Url) -> Result<String, String> {
    for _ in 0..=MAX_REDIRECTS {
        let response = request(options, &url).await?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("Error fetching webpage: {url} redirects nowhere"))?;
            url = url
                .join(location)
                .map_err(|e| format!("Error fetching webpage: bad redirect '{location}': {e}"))?;
            continue;
        }
        if !status.is_success() {
            return Err(format!(
                "Error fetching webpage: {url} answered HTTP {status}"
            ));
        }
        return readable(options, response).await;
    }
    Err(format!(
        "Error fetching webpage: more than {MAX_REDIRECTS} redirects"
    ))
}

/// One GET to a checked address, without following redirects.
async fn request(options: &WebOptions, url: &Url) -> Result<reqwest::Response, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "Error: invalid URL scheme '{}'; only http and https URLs can be fetched",
            url.scheme()
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("Error: the URL {url} has no host"))?;
    let addrs = resolve(url, host).await?;
    if !options.fetch_private
        && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
    {
        return Err(format!(
            "Error: refusing to fetch {url}: {host} resolves to {}, a loopback, private or \
             link-local address",
            bad.ip()
        ));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(host.trim_start_matches('[').trim_end_matches(']'), &addrs)
        .user_agent("Mozilla/5.0 (compatible; mneme/1.0)")
        .build()
        .map_err(|e| format!("Error: cannot prepare the fetch: {e}"))?;
    client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("Error fetching webpage: {e}"))
}

/// The addresses `host` stands for: itself when it is an IP literal, else a DNS lookup.
async fn resolve(url: &Url, host: &str) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("Error fetching webpage: cannot resolve {host}: {e}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("Error fetching webpage: {host} has no address"));
    }
    Ok(found)
}

/// The body, at most `max_page_bytes` of it, as text: HTML through the document extractor,
/// other text as it is; binary content is refused rather than shown as noise.
async fn readable(options: &WebOptions, mut response: reqwest::Response) -> Result<String, String> {
    let kind = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/html")
        .to_ascii_lowercase();
    let html = kind.contains("html");
    let text_like =
        html || kind.starts_with("text/") || kind.contains("json") || kind.contains("xml");
    if !text_like {
        return Err(format!(
            "Error fetching webpage: its content is {kind}, not a page of text"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("Error fetching webpage: {e}"))?
    {
        let room = options.max_page_bytes.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= options.max_page_bytes {
            break;
        }
    }
    let text = if html {
        mneme_documents::extract(mneme_documents::DocumentKind::Html, &body)
            .map(|e| e.text)
            .map_err(|e| format!("Error fetching webpage: {e}"))?
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    Ok(text.chars().take(options.max_text_chars).collect())
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, shared
/// (carrier-grade NAT), unspecified, broadcast, multicast, documentation or reserved space.
/// IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let segments = ip.segments();
    // 64:ff9b::/96, the NAT64 prefix, reaches the IPv4 address in its low 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] == 0x2001 && segments[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::101:101",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
