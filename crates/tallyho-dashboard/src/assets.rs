//! The built assets, embedded at compile time, and the names they are served under.
//!
//! `web/build.sh` writes `assets/index.html`, `assets/app.js` and `assets/app.css`. The page
//! names its script and style sheet with the placeholders [`JS_PLACEHOLDER`] and
//! [`CSS_PLACEHOLDER`]; the first request replaces them with content-hashed paths
//! (`/assets/app.<hash>.js`), so a browser may cache those forever and still never runs a
//! stale script after an upgrade.

use std::sync::OnceLock;

/// The page, as built.
const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");
/// The bundled script (the dashboard and uPlot).
const APP_JS: &[u8] = include_bytes!("../assets/app.js");
/// The bundled style sheet.
const APP_CSS: &[u8] = include_bytes!("../assets/app.css");

/// Stands for the script's path in `index.html`.
pub const JS_PLACEHOLDER: &str = "%APP_JS%";
/// Stands for the style sheet's path in `index.html`.
pub const CSS_PLACEHOLDER: &str = "%APP_CSS%";

/// Content type of the page.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// Content type of the script.
pub(crate) const JS: &str = "text/javascript; charset=utf-8";
/// Content type of the style sheet.
pub(crate) const CSS: &str = "text/css; charset=utf-8";

/// One servable file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asset {
    pub(crate) body: &'static [u8],
    pub(crate) content_type: &'static str,
    /// A strong validator: a quoted hash of `body`.
    pub(crate) etag: &'static str,
    /// Whether the URL named the content hash (so the body behind it never changes).
    pub(crate) immutable: bool,
}

struct Built {
    index: Vec<u8>,
    index_etag: String,
    js_name: String,
    js_etag: String,
    css_name: String,
    css_etag: String,
}

/// FNV-1a, 64 bits: enough to tell two builds of the same file apart, and needs no crate.
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn hex(h: u64) -> String {
    format!("{h:016x}")
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let js_hash = hex(fnv64(APP_JS));
        let css_hash = hex(fnv64(APP_CSS));
        let js_name = format!("app.{js_hash}.js");
        let css_name = format!("app.{css_hash}.css");
        let index = INDEX_TEMPLATE
            .replace(JS_PLACEHOLDER, &format!("/assets/{js_name}"))
            .replace(CSS_PLACEHOLDER, &format!("/assets/{css_name}"))
            .into_bytes();
        Built {
            index_etag: format!("\"{}\"", hex(fnv64(&index))),
            index,
            js_name,
            js_etag: format!("\"{js_hash}\""),
            css_name,
            css_etag: format!("\"{css_hash}\""),
        }
    })
}

/// The page, with the hashed asset paths filled in.
pub(crate) fn index() -> Asset {
    let b = built();
    Asset {
        body: &b.index,
        content_type: HTML,
        etag: &b.index_etag,
        immutable: false,
    }
}

/// The file `/assets/<name>` names: `app.<hash>.js` (immutable), `app.js` (revalidated),
/// and the same for `.css`; `None` for anything else, including an old hash.
pub(crate) fn lookup(name: &str) -> Option<Asset> {
    let b = built();
    let (body, content_type, etag, hashed) = if name == b.js_name || name == "app.js" {
        (APP_JS, JS, b.js_etag.as_str(), name == b.js_name)
    } else if name == b.css_name || name == "app.css" {
        (APP_CSS, CSS, b.css_etag.as_str(), name == b.css_name)
    } else {
        return None;
    };
    Some(Asset {
        body,
        content_type,
        etag,
        immutable: hashed,
    })
}

/// The hashed paths the page refers to: (script, style sheet).
pub fn asset_paths() -> (String, String) {
    let b = built();
    (
        format!("/assets/{}", b.js_name),
        format!("/assets/{}", b.css_name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(fnv64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_page_names_the_hashed_assets_and_no_placeholder_is_left() {
        let page = String::from_utf8(index().body.to_vec()).unwrap();
        let (js, css) = asset_paths();
        assert!(page.contains(&format!("src=\"{js}\"")), "{page}");
        assert!(page.contains(&format!("href=\"{css}\"")), "{page}");
        assert!(!page.contains(JS_PLACEHOLDER) && !page.contains(CSS_PLACEHOLDER));
        let name = js.trim_start_matches("/assets/");
        assert!(lookup(name).is_some_and(|a| a.immutable));
        assert!(lookup("app.js").is_some_and(|a| !a.immutable));
        assert!(lookup("app.0000000000000000.js").is_none());
        assert!(lookup("../Cargo.toml").is_none());
    }
}
