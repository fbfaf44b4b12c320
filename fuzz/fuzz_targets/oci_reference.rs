//! Docker/OCI references and what registries answer: image `repoURL`s (`nginx`,
//! `ghcr.io/org/app`, `oci://…` charts), digests, manifests and image configs,
//! `WWW-Authenticate` challenges, `Link` headers and chart `index.yaml` files. A
//! reference that parses names a host and a repository; a digest that parses matches
//! only the bytes it hashes. Nothing may panic.

#![no_main]

use lading_domain::digest::Digest;
use lading_domain::limits::Limit;
use lading_domain::url_normalize::{normalize_chart, normalize_image_repo};
use lading_warehouse::chart_subscription::parse_index;
use lading_warehouse::registry::{Repository, next_link, parse_challenge, parse_config, parse_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_manifest("app@sha256:…", data);
    let _ = parse_config(data);
    let Ok(text) = std::str::from_utf8(data) else { return };

    for insecure in [false, true] {
        if let Ok(repo) = Repository::parse(text, insecure) {
            assert!(!repo.host.is_empty() && !repo.name.is_empty(), "{repo:?}");
        }
    }
    let _ = (normalize_image_repo(text), normalize_chart(text));
    if let Ok(digest) = Digest::parse(text) {
        assert!(digest.verify(data).is_err(), "a digest matches its own text");
    }
    let _ = parse_challenge(text);
    let _ = next_link(text);
    let _ = parse_index(text, Limit::new(64 * 1024, "LADING_CHART_INDEX_MAX"));
});
