//! The event codec, every event type: messages as they arrive on the bus (a type and a
//! payload) are decoded; what decodes must encode back to the same event, give its
//! identity, subject, headers and public CloudEvent, and (with the `services` feature)
//! apply to the read model the api and the promoter rebuild from the log. Nothing may
//! panic.

#![no_main]

use lading_events::{CloudEvent, EventHeaders, TraceContext, decode, encode};
use lading_fuzz::frames;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    #[cfg(feature = "services")]
    let mut model = lading_projection::ReadModel::default();
    for (seq, (event_type, payload)) in frames(data).into_iter().enumerate() {
        let Ok(event) = decode(Some(event_type.ce_type()), payload) else { continue };
        assert_eq!(event.event_type(), event_type);
        let again = decode(Some(event_type.ce_type()), &encode(&event)).expect("an encoded event decodes");
        assert_eq!(again, event, "an event survives encoding");

        let _ = (event.identity(), event.subject(), event.ce_subject(), event.project());
        let trace = TraceContext::root(1, 2);
        let headers = EventHeaders::for_event(&event, "/lading/fuzz", &trace);
        assert!(headers.pairs().iter().all(|(name, _)| !name.is_empty()));
        let public = CloudEvent::of(&event, "/lading/fuzz", Some(&trace));
        let read: CloudEvent = serde_json::from_slice(&public.to_json()).expect("a CloudEvent reads back");
        assert_eq!(read.id, public.id);
        let _ = lading_events::subject::parse(&event.subject());

        #[cfg(feature = "services")]
        {
            model.apply(seq as u64 + 1, &event);
            model.apply_discovery(&event);
        }
        let _ = seq;
    }
});
