//! Docker/OCI references and what registries answer: image `repoURL`s (`nginx`,
//! `ghcr.io/org/app`, `oci://…` charts), digests, manifests and image configs,
//! `WWW-Authenticate` challenges, `Link` headers and chart `index.yaml` files. A
//! reference that parses names a host and a repository; a digest that parses matches
//! only the bytes it hashes. Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::service_targets::oci_reference(data));
