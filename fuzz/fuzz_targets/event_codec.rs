//! The event codec, every event type: messages as they arrive on the bus (a type and a
//! payload) are decoded; what decodes must encode back to the same event, give its
//! identity, subject, headers and public CloudEvent, and (with the `services` feature)
//! apply to the read model the api and the promoter rebuild from the log. Nothing may
//! panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    #[cfg(feature = "services")]
    lading_fuzz::service_targets::event_codec(data);
    #[cfg(not(feature = "services"))]
    lading_fuzz::targets::event_codec(data, |_, _| {});
});
