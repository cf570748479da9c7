//! `wsgiref.util`: helpers over the environ and header names.

/// Is `name` a hop-by-hop header (RFC 2616 §13.5.1, as `wsgiref.util.is_hop_by_hop`)?
/// The gateway owns these; an application may not set them.
///
/// ```
/// use wsgiref::util::is_hop_by_hop;
/// assert!(is_hop_by_hop("Connection"));
/// assert!(is_hop_by_hop("transfer-encoding"));
/// assert!(!is_hop_by_hop("Content-Type"));
/// ```
#[must_use]
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP_BY_HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    ];
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPython `UtilityTests.testHopByHop`.
    #[test]
    fn hop_by_hop_vectors() {
        let table: &[(&str, bool)] = &[
            ("Connection", true),
            ("keep-alive", true),
            ("proxy-authenticate", true),
            ("proxy-authorization", true),
            ("te", true),
            ("trailers", true),
            ("transfer-encoding", true),
            ("upgrade", true),
            ("UPGRADE", true),
            ("content-type", false),
            ("Content-Length", false),
            ("Date", false),
            ("Server", false),
        ];
        for (name, want) in table {
            assert_eq!(is_hop_by_hop(name), *want, "{name}");
        }
    }
}
