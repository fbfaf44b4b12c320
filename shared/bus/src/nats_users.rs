//! NATS users and what each may do: a Lading service publishes only the events it is
//! the source of and writes only the buckets it keeps; `subscriber` reads the public
//! stream (`lading.pub.>`, with consumers of its own) and nothing else; `admin` is for
//! operators. Each service receives its replies on an inbox prefix of its own, so no
//! user can listen in on another's deliveries.
//!
//! [`server_authorization`] renders the `authorization` block of a `nats-server`
//! configuration from these rules.

use std::collections::BTreeMap;
use std::path::Path;

use lading_events::EventType;
use lading_events::subject::{DEAD_LETTERS_ALL, PUBLIC_ALL};

use crate::names::*;

/// A NATS user Lading defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NatsUser {
    Api,
    Warehouse,
    Promoter,
    Verifier,
    /// A tool outside Lading that reads the public events.
    Subscriber,
    /// An operator: everything.
    Admin,
}

impl NatsUser {
    pub const ALL: [NatsUser; 6] = [
        NatsUser::Api,
        NatsUser::Warehouse,
        NatsUser::Promoter,
        NatsUser::Verifier,
        NatsUser::Subscriber,
        NatsUser::Admin,
    ];

    /// The user name (for a service, also its name).
    pub fn name(self) -> &'static str {
        match self {
            NatsUser::Api => "api",
            NatsUser::Warehouse => "warehouse",
            NatsUser::Promoter => "promoter",
            NatsUser::Verifier => "verifier",
            NatsUser::Subscriber => "subscriber",
            NatsUser::Admin => "admin",
        }
    }

    /// The environment variable a deployment's `nats-server` configuration reads this
    /// user's password from.
    pub fn password_env(self) -> String {
        format!("LADING_NATS_{}_PASSWORD", self.name().to_uppercase())
    }
}

/// The inbox prefix a service's connection uses: its replies and deliveries arrive
/// under it, where only that service may subscribe.
pub fn inbox_prefix(service: &str) -> String {
    format!("_INBOX_lading_{service}")
}

/// The services that publish events of `event_type`. A type nobody publishes any more
/// (superseded by a newer version) has none.
pub fn publishers(event_type: EventType) -> &'static [NatsUser] {
    use NatsUser::*;
    match event_type {
        // Freight made by hand is announced by the api.
        EventType::FreightCreatedV1 => &[Warehouse, Api],
        EventType::WarehouseArtifactsDiscoveredV1
        | EventType::WarehouseDiscoveryFailedV1
        | EventType::WarehouseRefreshHandledV2 => &[Warehouse],
        EventType::WarehouseRefreshRequestedV2
        | EventType::StageRefreshRequestedV2
        | EventType::FreightApprovedV1
        | EventType::FreightDeletedV1 => &[Api],
        // Made by people through the api, and by the promoter's rules (auto-promotion,
        // supersede, aliases moving with a promotion).
        EventType::PromotionCreatedV2 | EventType::PromotionAbortedV2 | EventType::FreightAliasChangedV2 => {
            &[Api, Promoter]
        }
        EventType::PromotionStartedV1
        | EventType::PromotionStepFinishedV2
        | EventType::PromotionSucceededV1
        | EventType::PromotionPushedV1
        | EventType::StageHealthChangedV1
        | EventType::FreightMetadataSetV1
        | EventType::StageMetadataSetV1
        | EventType::PromotionWaitingV1
        | EventType::StageRefreshHandledV2
        | EventType::PromotionFailedV1
        | EventType::PromotionErroredV1 => &[Promoter],
        // Verified by the verifier, and by the promoter with the success in a stage that
        // verifies nothing.
        EventType::FreightVerifiedV1 => &[Verifier, Promoter],
        EventType::VerificationStartedV1 | EventType::VerificationMeasuredV1 | EventType::VerificationFinishedV1 => {
            &[Verifier]
        }
        // `lading verify stage` asks through the api.
        EventType::VerificationRequestedV1 => &[Api],
        EventType::PromotionCreatedV1
        | EventType::PromotionAbortedV1
        | EventType::FreightAliasChangedV1
        | EventType::PromotionStepFinishedV1
        | EventType::WarehouseRefreshRequestedV1
        | EventType::WarehouseRefreshHandledV1
        | EventType::StageRefreshRequestedV1
        | EventType::StageRefreshHandledV1 => &[],
    }
}

/// The KV buckets (and object stores) a service writes.
fn writes(user: NatsUser) -> &'static [&'static str] {
    match user {
        NatsUser::Api => &[
            SPECS_BUCKET,
            TOKENS_BUCKET,
            ALIASES_BUCKET,
            CLAIMS_BUCKET,
            LEASES_BUCKET,
            CURSORS_BUCKET,
            HANDLINGS_BUCKET,
        ],
        NatsUser::Warehouse => &[ALIASES_BUCKET, HANDLINGS_BUCKET],
        NatsUser::Promoter => &[ALIASES_BUCKET, CLAIMS_BUCKET, LEASES_BUCKET, HANDLINGS_BUCKET],
        NatsUser::Verifier => &[LEASES_BUCKET, HANDLINGS_BUCKET],
        NatsUser::Subscriber | NatsUser::Admin => &[],
    }
}

/// What a user may publish to and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
}

/// The permissions of `user`.
pub fn permissions(user: NatsUser) -> Permissions {
    match user {
        NatsUser::Admin => Permissions { publish: vec![">".into()], subscribe: vec![">".into()] },
        NatsUser::Subscriber => subscriber(),
        service => {
            let mut publish: Vec<String> = EventType::ALL
                .into_iter()
                .filter(|t| publishers(*t).contains(&service))
                .map(EventType::filter)
                .collect();
            publish.sort();
            publish.dedup();
            publish.push(DEAD_LETTERS_ALL.into());
            if service == NatsUser::Api {
                publish.push(PUBLIC_ALL.into());
                // Snapshots of the read model.
                publish.push(format!("$O.{SNAPSHOTS_BUCKET}.>"));
            }
            publish.extend(writes(service).iter().map(|bucket| format!("$KV.{bucket}.>")));
            // Managing the shared streams and consumers, acknowledging, flow control.
            publish.extend(["$JS.API.>", "$JS.ACK.>", "$JS.FC.>"].map(String::from));
            let mut subscribe = vec![format!("{}.>", inbox_prefix(service.name()))];
            // A running promotion hears of its abort as the claim is written.
            if service == NatsUser::Promoter {
                subscribe.push(format!("$KV.{CLAIMS_BUCKET}.>"));
            }
            Permissions { publish, subscribe }
        }
    }
}

/// A subscriber reads the public stream with consumers of its own, and nothing else.
fn subscriber() -> Permissions {
    let stream = PUBLIC_STREAM;
    let publish = [
        "$JS.API.INFO".to_owned(),
        "$JS.API.STREAM.NAMES".to_owned(),
        format!("$JS.API.STREAM.INFO.{stream}"),
        format!("$JS.API.STREAM.MSG.GET.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.INFO.{stream}.>"),
        format!("$JS.API.CONSUMER.DELETE.{stream}.>"),
        format!("$JS.API.CONSUMER.LIST.{stream}"),
        format!("$JS.API.CONSUMER.NAMES.{stream}"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.>"),
        format!("$JS.ACK.{stream}.>"),
        "$JS.FC.>".to_owned(),
    ];
    Permissions { publish: publish.to_vec(), subscribe: vec!["_INBOX.>".into(), PUBLIC_ALL.into()] }
}

/// How a user's password appears in a rendered configuration.
pub enum Password<'a> {
    /// Written as is (a local server's own configuration file).
    Literal(&'a str),
    /// A reference to the environment variable [`NatsUser::password_env`], which
    /// `nats-server` reads when it starts (a deployment's configuration).
    FromEnv,
}

/// The `authorization` block of a `nats-server` configuration defining every user.
pub fn server_authorization<'a>(password: impl Fn(NatsUser) -> Password<'a>) -> String {
    let list = |subjects: &[String]| subjects.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let mut users = String::new();
    for user in NatsUser::ALL {
        let permissions = permissions(user);
        let password = match password(user) {
            Password::Literal(text) => format!("{text:?}"),
            Password::FromEnv => format!("${}", user.password_env()),
        };
        users.push_str(&format!(
            "    {{\n      user: {:?}\n      password: {password}\n      permissions: {{\n        \
             publish: {{ allow: [{}] }}\n        subscribe: {{ allow: [{}] }}\n      }}\n    }}\n",
            user.name(),
            list(&permissions.publish),
            list(&permissions.subscribe),
        ));
    }
    format!("authorization {{\n  users: [\n{users}  ]\n}}\n")
}

/// Every user's password, by user name. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NatsPasswords(BTreeMap<String, String>);

impl std::fmt::Debug for NatsPasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Why the passwords could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PasswordsError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("no randomness for a password: {0}")]
    Random(String),
}

impl NatsPasswords {
    /// A new random password for every user.
    pub fn generate() -> Result<Self, PasswordsError> {
        let mut passwords = BTreeMap::new();
        for user in NatsUser::ALL {
            let mut bytes = [0u8; 24];
            getrandom::fill(&mut bytes).map_err(|e| PasswordsError::Random(e.to_string()))?;
            let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            passwords.insert(user.name().to_owned(), text);
        }
        Ok(NatsPasswords(passwords))
    }

    /// The passwords kept in `path` (readable by its owner only), made there first when
    /// the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, PasswordsError> {
        let io = |source| PasswordsError::Io { path: path.display().to_string(), source };
        match std::fs::read(path) {
            Ok(bytes) => {
                let passwords: NatsPasswords = serde_json::from_slice(&bytes)
                    .map_err(|e| PasswordsError::Invalid { path: path.display().to_string(), reason: e.to_string() })?;
                match NatsUser::ALL.into_iter().find(|u| !passwords.0.contains_key(u.name())) {
                    Some(missing) => Err(PasswordsError::Invalid {
                        path: path.display().to_string(),
                        reason: format!("no password for user {:?}", missing.name()),
                    }),
                    None => Ok(passwords),
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let passwords = Self::generate()?;
                let json = serde_json::to_vec_pretty(&passwords).unwrap_or_default();
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                let mut file =
                    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
                file.write_all(&json).map_err(io)?;
                Ok(passwords)
            }
            Err(error) => Err(io(error)),
        }
    }

    pub fn get(&self, user: NatsUser) -> &str {
        self.0.get(user.name()).map(String::as_str).unwrap_or_default()
    }

    /// `url` (`nats://host:port`) with `user`'s name and password in it.
    pub fn url_for(&self, url: &str, user: NatsUser) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}:{}@{host}", user.name(), self.get(user))
    }
}

/// Splits the user and password out of a NATS URL (`nats://user:pass@host:port`):
/// the URL without them, and them (percent-decoded).
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else { return (url.to_owned(), None) };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return (url.to_owned(), None) };
    let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (format!("{scheme}://{host}"), Some((decode(user), decode(password))))
}

/// Splits a comma-separated list of NATS URLs into the URLs without credentials and
/// the first user and password any of them carries.
pub fn split_server_list(urls: &str) -> (Vec<String>, Option<(String, String)>) {
    let mut credentials = None;
    let urls = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            let (url, given) = split_credentials(url);
            credentials = credentials.take().or(given);
            url
        })
        .collect();
    (urls, credentials)
}

/// The deployments' copies of [`server_authorization`] with passwords from the
/// environment (kept equal to it by a test).
pub const DEPLOYMENT_USERS_FILES: [&str; 2] = ["deploy/nats/users.conf", "k8s/base/nats/users.conf"];

/// The first lines of each of [`DEPLOYMENT_USERS_FILES`].
pub const DEPLOYMENT_USERS_HEADER: &str = "# Lading's NATS users and their permissions, rendered from shared/bus/src/nats_users.rs\n\
# (rewrite with `LADING_BLESS=1 cargo test -p lading-bus deployment_users`). Each password\n\
# is read from the environment variable named beside it when nats-server starts.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_list_is_split_and_its_first_credentials_kept() {
        let (urls, credentials) = split_server_list("nats://api:s%40cret@a:4222, nats://b:4222,nats://other:x@c:4222");
        assert_eq!(urls, ["nats://a:4222", "nats://b:4222", "nats://c:4222"]);
        assert_eq!(credentials, Some(("api".to_owned(), "s@cret".to_owned())));
        assert_eq!(split_server_list("nats://a:4222"), (vec!["nats://a:4222".to_owned()], None));
    }

    #[test]
    fn passwords_go_into_urls_and_never_into_messages() {
        let passwords = NatsPasswords::generate().unwrap();
        let url = passwords.url_for("nats://127.0.0.1:4222", NatsUser::Api);
        assert_eq!(url, format!("nats://api:{}@127.0.0.1:4222", passwords.get(NatsUser::Api)));
        assert_eq!(passwords.url_for("nats://old:pw@h:1", NatsUser::Admin).split('@').nth(1), Some("h:1"));
        // Messages name a server through the one redaction every service uses.
        assert_eq!(lading_domain::redact::redact_url(&url), "nats://***@127.0.0.1:4222");
        let (bare, credentials) = split_credentials(&url);
        assert_eq!(bare, "nats://127.0.0.1:4222");
        assert_eq!(credentials, Some(("api".to_owned(), passwords.get(NatsUser::Api).to_owned())));
        assert_eq!(split_credentials("nats://a%40b:p%3Aw@h:1").1, Some(("a@b".into(), "p:w".into())));
        assert_eq!(split_credentials("nats://h:1"), ("nats://h:1".to_owned(), None));
        assert_eq!(lading_domain::redact::redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert!(!format!("{passwords:?}").contains(passwords.get(NatsUser::Api)));
        assert_ne!(passwords.get(NatsUser::Api), passwords.get(NatsUser::Subscriber));
    }

    #[test]
    fn passwords_are_made_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        let made = NatsPasswords::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(NatsPasswords::load_or_create(&path).unwrap(), made);
        std::fs::write(&path, "{}").unwrap();
        let error = NatsPasswords::load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains("no password for user \"api\""), "{error}");
    }

    #[test]
    fn a_service_publishes_only_the_events_it_is_the_source_of() {
        let warehouse = permissions(NatsUser::Warehouse).publish;
        assert!(warehouse.contains(&"lading.evt.*.freight.*.created".to_owned()));
        assert!(warehouse.contains(&"lading.evt.*.warehouse.*.artifacts-discovered".to_owned()));
        assert!(!warehouse.iter().any(|s| s.contains(".stage.")), "{warehouse:?}");
        assert!(!warehouse.contains(&PUBLIC_ALL.to_owned()));
        let verifier = permissions(NatsUser::Verifier).publish;
        let events: Vec<&String> = verifier.iter().filter(|s| s.starts_with("lading.evt.")).collect();
        assert_eq!(
            events,
            [
                "lading.evt.*.freight.*.verified",
                "lading.evt.*.stage.*.verification-finished",
                "lading.evt.*.stage.*.verification-measured",
                "lading.evt.*.stage.*.verification-started",
            ]
        );
        assert!(permissions(NatsUser::Api).publish.contains(&PUBLIC_ALL.to_owned()));
        // Freight verified with the success in a stage that verifies nothing.
        assert!(permissions(NatsUser::Promoter).publish.contains(&"lading.evt.*.freight.*.verified".to_owned()));
    }

    #[test]
    fn every_event_in_use_has_a_publisher() {
        let retired = [
            EventType::PromotionCreatedV1,
            EventType::PromotionAbortedV1,
            EventType::FreightAliasChangedV1,
            EventType::PromotionStepFinishedV1,
            EventType::WarehouseRefreshRequestedV1,
            EventType::WarehouseRefreshHandledV1,
            EventType::StageRefreshRequestedV1,
            EventType::StageRefreshHandledV1,
        ];
        for event_type in EventType::ALL.into_iter().filter(|t| !retired.contains(t)) {
            assert!(!publishers(event_type).is_empty(), "{event_type:?}");
        }
    }

    #[test]
    fn a_subscriber_reads_the_public_stream_and_nothing_else() {
        let Permissions { publish, subscribe } = permissions(NatsUser::Subscriber);
        assert_eq!(subscribe, ["_INBOX.>", "lading.pub.>"]);
        assert!(publish.iter().all(|s| s.contains("LADING_PUBLIC") || !s.contains("CONSUMER")), "{publish:?}");
        assert!(!publish.iter().any(|s| s.starts_with("lading.") || s == "$JS.API.>"), "{publish:?}");
    }

    #[test]
    fn services_listen_only_on_their_own_inbox() {
        for user in [NatsUser::Api, NatsUser::Warehouse, NatsUser::Verifier] {
            assert_eq!(permissions(user).subscribe, [format!("_INBOX_lading_{}.>", user.name())]);
        }
        // The promoter also hears claims on the promotions it runs, a bucket it writes.
        assert_eq!(
            permissions(NatsUser::Promoter).subscribe,
            ["_INBOX_lading_promoter.>".to_owned(), format!("$KV.{CLAIMS_BUCKET}.>")]
        );
        assert!(writes(NatsUser::Promoter).contains(&CLAIMS_BUCKET));
    }

    /// The users file that docker-compose.yml and k8s/ give `nats-server`: the block
    /// rendered here, so a deployment grants each service exactly these permissions.
    #[test]
    fn the_deployment_users_files_are_the_rendered_block() {
        let rendered = format!("{DEPLOYMENT_USERS_HEADER}{}", server_authorization(|_| Password::FromEnv));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for file in DEPLOYMENT_USERS_FILES {
            let path = root.join(file);
            if std::env::var_os("LADING_BLESS").is_some() {
                std::fs::write(&path, &rendered).unwrap();
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                text == rendered,
                "{file} differs from the users of nats_users.rs: rewrite it with \
                 `LADING_BLESS=1 cargo test -p lading-bus deployment_users`"
            );
        }
    }

    #[test]
    fn the_rendered_block_names_every_user_and_reads_passwords_from_the_environment() {
        let block = server_authorization(|_| Password::FromEnv);
        for user in NatsUser::ALL {
            assert!(block.contains(&format!("user: \"{}\"", user.name())), "{block}");
            assert!(block.contains(&format!("password: $LADING_NATS_{}_PASSWORD", user.name().to_uppercase())));
        }
        let literal = server_authorization(|_| Password::Literal("s\"cret"));
        assert!(literal.contains(r#"password: "s\"cret""#), "{literal}");
    }
}
