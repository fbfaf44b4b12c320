//! Names of the JetStream objects Lading uses.

/// The stream holding every fact (`lading.evt.>` but discoveries).
pub const EVENTS_STREAM: &str = "LADING_EVENTS";
/// The stream holding the latest discovery of each warehouse (artifacts discovered,
/// discovery failed): one message per subject.
pub const DISCOVERY_STREAM: &str = "LADING_DISCOVERY";
/// The stream of public CloudEvents in JSON (`lading.pub.>`), kept for a limited age.
pub const PUBLIC_STREAM: &str = "LADING_PUBLIC";
/// Snapshots of state rebuilt from the log (JetStream object store).
pub const SNAPSHOTS_BUCKET: &str = "lading-snapshots";
/// The stream holding messages no consumer could handle (`lading.dlq.>`).
pub const DEAD_LETTER_STREAM: &str = "LADING_DEAD_LETTERS";
/// Latest manifest per object: `<project>.<kind>.<name>`.
pub const SPECS_BUCKET: &str = "lading-specs";
/// Freight aliases per project: `<project>.<alias>` → freight ID.
pub const ALIASES_BUCKET: &str = "lading-aliases";
/// Short-lived leases: `<purpose>.<project>.<name>` → holder.
pub const LEASES_BUCKET: &str = "lading-leases";

/// Per promotion, whether it was aborted or committed: `<project>.<promotion>`.
pub const CLAIMS_BUCKET: &str = "lading-promotion-claims";
/// How long a promotion's claim is kept.
pub const CLAIMS_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Where a reader that must survive restarts got to in a stream: `public` (the log
/// sequence of the last fact republished on the public stream).
pub const CURSORS_BUCKET: &str = "lading-cursors";

/// Handlings of a message that began and have not settled, per consumer and log
/// position: `<consumer>.<stream sequence>` → how many. A process that dies while
/// handling leaves its marker behind, so the count survives restarts.
pub const HANDLINGS_BUCKET: &str = "lading-handlings";
/// How long an unsettled handling's marker is kept.
pub const HANDLINGS_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Api tokens by the SHA-256 of the token: name, role, scope, who made it.
pub const TOKENS_BUCKET: &str = "lading-tokens";

/// How long JetStream remembers a `Nats-Msg-Id` for deduplication.
pub const DUPLICATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);
/// How long a lease lives without renewal.
pub const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(15);
