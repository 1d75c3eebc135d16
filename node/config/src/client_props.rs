//! Java client properties (as written in `mm2.properties`) → librdkafka properties.
//!
//! MirrorMaker 2 configures Java clients; Strait uses librdkafka. Most property names mean the same
//! in both and pass through unchanged. The rest are translated or reported in
//! [`Settings::ignored`](crate::Settings::ignored) with the reason; nothing is dropped silently.
//! librdkafka names are taken as they are, so a property librdkafka has and Java clients lack is
//! written under its librdkafka name. The native TOML format takes librdkafka names directly and
//! does not go through this module; a Java name there is refused by librdkafka, and the error
//! names librdkafka's ([`librdkafka_hint`]).
//!
//! | Java property | librdkafka |
//! |---|---|
//! | any name librdkafka also has (`security.protocol`, `sasl.mechanism`, `client.id`, `acks`, `linger.ms`, `batch.size`, `compression.type`, `fetch.max.bytes`, `max.partition.fetch.bytes`, `fetch.min.bytes`, `request.timeout.ms`, `isolation.level`, `ssl.key.password`, ...) | same name, same value |
//! | `ssl.endpoint.identification.algorithm` | same; an empty value (Java's "off") becomes `none` |
//! | `auto.offset.reset` | same; `none` becomes `error` |
//! | `max.request.size` | `message.max.bytes` |
//! | `fetch.max.wait.ms` | `fetch.wait.max.ms` |
//! | `send.buffer.bytes` / `receive.buffer.bytes` | `socket.send.buffer.bytes` / `socket.receive.buffer.bytes` |
//! | `compression.{gzip,lz4,zstd}.level` | `compression.level` |
//! | `ssl.truststore.certificates` | `ssl.ca.pem` |
//! | `ssl.keystore.certificate.chain` / `ssl.keystore.key` | `ssl.certificate.pem` / `ssl.key.pem` |
//! | `ssl.truststore.location` with `ssl.truststore.type=PEM` | `ssl.ca.location` (JKS/PKCS12: the file is refused, with the conversion command) |
//! | `ssl.keystore.location` with `ssl.keystore.type=PEM` | `ssl.certificate.location` + `ssl.key.location` (the same file) |
//! | `ssl.keystore.location` with `ssl.keystore.type=PKCS12` | `ssl.keystore.location` (+ `ssl.keystore.password`); JKS: refused |
//! | `sasl.jaas.config` with `PlainLoginModule` / `ScramLoginModule` | `sasl.username` + `sasl.password` |
//! | `sasl.jaas.config` with `Krb5LoginModule` | `sasl.kerberos.keytab` + `sasl.kerberos.principal` |
//! | `sasl.jaas.config` with `OAuthBearerLoginModule` (`clientId`, `clientSecret`, `scope`) | `sasl.oauthbearer.method=oidc` + `sasl.oauthbearer.client.id`/`.client.secret`/`.scope` |
//! | `bootstrap.servers` in a client-type scope | ignored: set per cluster (`A.bootstrap.servers`) |
//! | (de)serializers, interceptors, partitioners, metrics reporters, assignment strategies, JSSE/JAAS tuning, `max.poll.records`, `buffer.memory`, `max.block.ms`, ... | ignored, with the reason |
//! | anything else | refused as unknown, with the known name one or two edits away ("did you mean") |
//!
//! When `ssl.truststore.type` / `ssl.keystore.type` are not set, the file extension decides
//! (`.pem`/`.crt`/`.cer` → PEM, `.p12`/`.pfx` → PKCS12), else Java's default, JKS. The type may be
//! set in a lower scope (a cluster-wide `A.ssl.truststore.type` for an `A.consumer.ssl.truststore.location`).
//!
//! Strait forces the settings its guarantees depend on (auto commit off, idempotence, `acks=all`)
//! when it builds the clients; that is not this module's job.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{ConfigError, Location, Place};
use crate::model::{ClientProps, IgnoredKey, PropertyOrigin, PropertyOrigins};
use crate::suggest;

/// A Java client property as read from the file, or a librdkafka property a `STRAIT__*` variable
/// sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JavaProp {
    pub value: String,
    /// The whole key in the file (`A.consumer.max.poll.records`), for messages.
    pub key: String,
    /// Its line, or the variable that set it.
    pub place: Place,
    /// Already a librdkafka name (set from the environment, as in TOML): passed through
    /// untranslated, after the Java properties of its scope (so it wins over what they translate
    /// to).
    pub librdkafka: bool,
}

/// Java client properties of one scope, by Java property name.
pub(crate) type JavaProps = BTreeMap<String, JavaProp>;

/// `lower` then `upper` (later layers win).
pub(crate) fn overlay<'a>(layers: impl IntoIterator<Item = &'a JavaProps>) -> JavaProps {
    let mut merged = JavaProps::new();
    for layer in layers {
        merged.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    merged
}

/// The librdkafka properties of `props`, where each came from, and what could not be translated.
#[derive(Debug, Default)]
pub(crate) struct Translated {
    pub props: ClientProps,
    pub origins: PropertyOrigins,
    pub ignored: Vec<IgnoredKey>,
}

/// Translates one scope. `context` are the scopes below it (nearest first); they are only read for
/// the settings that change how another one translates (`ssl.truststore.type`, `ssl.keystore.type`).
pub(crate) fn translate(
    file: &Path,
    props: &JavaProps,
    context: &[&JavaProps],
) -> Result<Translated, ConfigError> {
    let lookup = Context {
        scope: props,
        lower: context,
    };
    let mut out = Translated::default();
    let java = props.iter().filter(|(_, p)| !p.librdkafka);
    let librdkafka = props.iter().filter(|(_, p)| p.librdkafka);
    for (name, prop) in java.chain(librdkafka) {
        let origin = || PropertyOrigin {
            key: prop.key.clone(),
            at: Location::at(file, prop.place.clone()),
        };
        let set = |out: &mut Translated, to: &str, value: &str| {
            out.props.insert(to.to_owned(), value.to_owned());
            out.origins.insert(to.to_owned(), origin());
        };
        let ignore = |out: &mut Translated, reason: String| {
            out.ignored.push(IgnoredKey {
                key: prop.key.clone(),
                line: prop.place.line_number(),
                reason,
            })
        };
        if prop.librdkafka {
            set(&mut out, name, &prop.value);
            continue;
        }
        match rule(name) {
            Rule::Same => set(&mut out, name, &prop.value),
            Rule::Rename(to) => set(&mut out, to, &prop.value),
            Rule::Ignore(reason) => ignore(&mut out, reason.to_owned()),
            // The readers refuse unknown names as they read them (`unknown_client_property`).
            Rule::Unknown => {
                return Err(ConfigError::InvalidKey {
                    at: Location::at(file, prop.place.clone()),
                    key: prop.key.clone(),
                    reason: unknown_client_property(&prop.key, name)
                        .unwrap_or_else(|| UNKNOWN_CLIENT_PROPERTY.to_owned()),
                })
            }
            Rule::Special => match special(name, prop, &lookup) {
                Ok(Special::Set(pairs)) => {
                    for (to, value) in pairs {
                        set(&mut out, &to, &value);
                    }
                }
                Ok(Special::Context) => {}
                Ok(Special::Ignore(reason)) => ignore(&mut out, reason),
                Ok(Special::Refuse(reason)) => {
                    return Err(ConfigError::InvalidKey {
                        at: Location::at(file, prop.place.clone()),
                        key: prop.key.clone(),
                        reason,
                    })
                }
                Err(expected) => {
                    return Err(ConfigError::InvalidValue {
                        at: Location::at(file, prop.place.clone()),
                        key: prop.key.clone(),
                        value: shown_value(name, &prop.value),
                        expected,
                    })
                }
            },
        }
    }
    Ok(out)
}

/// Whether `name` is a client property (Java or librdkafka), as opposed to an MM2 setting.
pub(crate) fn is_client_property(name: &str) -> bool {
    !matches!(rule(name), Rule::Unknown)
}

/// Why a client property cannot be taken when `name` is neither a Java client property Strait
/// knows (translated, or ignored with a reason) nor a librdkafka property; `None` when it is one.
/// `key` is the whole key as written, ending in `name` (`A.consumer.fetch.min.bytess`): the closest
/// known name one or two edits away is suggested as it would be written there, with librdkafka's
/// name when Strait renames it.
pub(crate) fn unknown_client_property(key: &str, name: &str) -> Option<String> {
    if !matches!(rule(name), Rule::Unknown) {
        return None;
    }
    let known = JAVA_RULES
        .iter()
        .map(|(known, _)| *known)
        .chain(LIBRDKAFKA_PROPERTIES.iter().copied());
    let Some(suggestion) = suggest::closest(name, known) else {
        return Some(UNKNOWN_CLIENT_PROPERTY.to_owned());
    };
    let head = key.strip_suffix(name).unwrap_or_default();
    let renamed = match rule(suggestion) {
        Rule::Rename(to) => format!(" (librdkafka's `{to}`)"),
        _ => String::new(),
    };
    Some(format!(
        "unknown client property: did you mean `{head}{suggestion}`{renamed}?"
    ))
}

/// Why a client property with a name nobody knows is refused.
const UNKNOWN_CLIENT_PROPERTY: &str = "unknown client property: neither a Java client property \
    Strait translates nor a librdkafka property (librdkafka's own names are taken as they are)";

/// What to write instead of `name`, a property librdkafka does not know, where names are
/// librdkafka's (a TOML client table, a `STRAIT__*` variable): librdkafka's name when `name` is
/// a Java client's, or why it has none; else the librdkafka property one or two edits away.
pub(crate) fn librdkafka_hint(name: &str) -> Option<LibrdkafkaHint> {
    let text = |text: String| Some(LibrdkafkaHint::Text(text));
    match rule(name) {
        Rule::Rename(to) => text(format!(
            "`{name}` is the Java client's name: librdkafka's is `{to}`"
        )),
        Rule::Ignore(reason) => text(format!("`{name}` is a Java client property: {reason}")),
        Rule::Special => match name {
            "sasl.jaas.config" => text(
                "`sasl.jaas.config` is the Java client's JAAS line (Strait translates it in \
                 mm2.properties only): librdkafka takes `sasl.username` and `sasl.password` \
                 (PLAIN, SCRAM), `sasl.kerberos.keytab` and `sasl.kerberos.principal` (GSSAPI), \
                 or `sasl.oauthbearer.*`"
                    .to_owned(),
            ),
            "ssl.truststore.location" | "ssl.truststore.certificates" => text(format!(
                "`{name}` is the Java client's name: librdkafka reads the CA certificates from \
                 `ssl.ca.location` (a PEM file) or `ssl.ca.pem`"
            )),
            "ssl.truststore.password" => text(
                "`ssl.truststore.password` is the Java client's: librdkafka reads PEM CA files, \
                 which have no password"
                    .to_owned(),
            ),
            "ssl.truststore.type" | "ssl.keystore.type" => text(format!(
                "`{name}` is the Java client's: librdkafka has no store type (`ssl.ca.location`, \
                 `ssl.certificate.location` and `ssl.key.location` are PEM files, \
                 `ssl.keystore.location` a PKCS#12 file)"
            )),
            _ => None,
        },
        Rule::Unknown => {
            suggest::closest(name, LIBRDKAFKA_PROPERTIES.iter().copied()).map(LibrdkafkaHint::Typo)
        }
        Rule::Same => None,
    }
}

/// See [`librdkafka_hint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LibrdkafkaHint {
    /// A librdkafka property one or two edits away.
    Typo(&'static str),
    /// What to write instead.
    Text(String),
}

/// Whether a value must not be shown (in `check-config` output or error messages).
pub(crate) fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "token",
        "key.pem",
        "private.key",
        "oauthbearer.config",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// What a secret value is shown as.
pub(crate) const SECRET_MASK: &str = "****";

/// `value`, or a mask when `name` holds a secret.
pub(crate) fn shown_value(name: &str, value: &str) -> String {
    if is_secret(name) {
        SECRET_MASK.to_owned()
    } else {
        value.to_owned()
    }
}

#[derive(Clone, Copy)]
enum Rule {
    /// librdkafka has the same property.
    Same,
    Rename(&'static str),
    Ignore(&'static str),
    /// Depends on the value or on other properties.
    Special,
    Unknown,
}

const SERDE: &str = "Strait copies records as raw bytes: (de)serializers do not apply";
const JAVA_METRICS: &str = "Java client metrics setting: Strait exposes its own metrics";
const PARTITIONER: &str = "Strait keeps each record's source partition: no partitioner is used";
const JSSE: &str =
    "Java TLS (JSSE) setting with no librdkafka equivalent: OpenSSL's defaults apply";
const JAVA_SASL: &str = "Java SASL class or login tuning with no librdkafka equivalent";
const NO_EQUIVALENT: &str = "Java client setting with no librdkafka equivalent";
const SHARE_GROUPS: &str =
    "share group setting: Strait reads assigned partitions, not share groups";

/// Java names whose translation is not "same name, same value". Sorted.
const JAVA_RULES: &[(&str, Rule)] = &[
    ("auto.include.jmx.reporter", Rule::Ignore(JAVA_METRICS)),
    ("auto.offset.reset", Rule::Special),
    ("bootstrap.controllers", Rule::Ignore(
        "admin connection to KRaft controllers: Strait's admin clients talk to brokers",
    )),
    ("bootstrap.servers", Rule::Special),
    ("buffer.memory", Rule::Ignore(
        "no librdkafka equivalent: Strait sizes the producer queue from strait.max.in.flight.bytes",
    )),
    ("compression.gzip.level", Rule::Rename("compression.level")),
    ("compression.lz4.level", Rule::Rename("compression.level")),
    ("compression.zstd.level", Rule::Rename("compression.level")),
    ("config.providers", Rule::Ignore(
        "Java config providers cannot run in Strait: write the values, or set them from \
         STRAIT__* variables",
    )),
    ("default.api.timeout.ms", Rule::Ignore(NO_EQUIVALENT)),
    ("exclude.internal.topics", Rule::Ignore("Strait never replicates internal topics")),
    ("fetch.max.wait.ms", Rule::Rename("fetch.wait.max.ms")),
    ("interceptor.classes", Rule::Ignore("Java interceptor classes cannot run in Strait")),
    ("internal.leave.group.on.close", Rule::Ignore(NO_EQUIVALENT)),
    ("internal.throw.on.fetch.stable.offset.unsupported", Rule::Ignore(NO_EQUIVALENT)),
    ("key.deserializer", Rule::Ignore(SERDE)),
    ("key.serializer", Rule::Ignore(SERDE)),
    ("max.block.ms", Rule::Ignore(NO_EQUIVALENT)),
    ("max.poll.records", Rule::Ignore(NO_EQUIVALENT)),
    ("max.request.size", Rule::Rename("message.max.bytes")),
    ("metadata.max.idle.ms", Rule::Ignore(NO_EQUIVALENT)),
    ("metric.reporters", Rule::Ignore(JAVA_METRICS)),
    ("metrics.num.samples", Rule::Ignore(JAVA_METRICS)),
    ("metrics.recording.level", Rule::Ignore(JAVA_METRICS)),
    ("metrics.sample.window.ms", Rule::Ignore(JAVA_METRICS)),
    ("partition.assignment.strategy", Rule::Ignore(
        "Strait assigns partitions itself, without consumer group assignment",
    )),
    ("partitioner.adaptive.partitioning.enable", Rule::Ignore(PARTITIONER)),
    ("partitioner.availability.timeout.ms", Rule::Ignore(PARTITIONER)),
    ("partitioner.class", Rule::Ignore(PARTITIONER)),
    ("partitioner.ignore.keys", Rule::Ignore(PARTITIONER)),
    ("receive.buffer.bytes", Rule::Rename("socket.receive.buffer.bytes")),
    ("sasl.client.callback.handler.class", Rule::Ignore(JAVA_SASL)),
    ("sasl.jaas.config", Rule::Special),
    ("sasl.kerberos.ticket.renew.jitter", Rule::Ignore(JAVA_SASL)),
    ("sasl.kerberos.ticket.renew.window.factor", Rule::Ignore(JAVA_SASL)),
    ("security.providers", Rule::Ignore(JSSE)),
    ("send.buffer.bytes", Rule::Rename("socket.send.buffer.bytes")),
    ("share.acknowledgement.mode", Rule::Ignore(SHARE_GROUPS)),
    ("share.acquire.mode", Rule::Ignore(SHARE_GROUPS)),
    ("socket.connection.setup.timeout.max.ms", Rule::Ignore(NO_EQUIVALENT)),
    ("ssl.cipher.suites", Rule::Ignore(
        "Java cipher suite names differ from OpenSSL's: set ssl.cipher.suites with OpenSSL names \
         in a Strait TOML file",
    )),
    ("ssl.enabled.protocols", Rule::Ignore(JSSE)),
    ("ssl.endpoint.identification.algorithm", Rule::Special),
    ("ssl.engine.factory.class", Rule::Ignore(JSSE)),
    ("ssl.keymanager.algorithm", Rule::Ignore(JSSE)),
    ("ssl.keystore.certificate.chain", Rule::Rename("ssl.certificate.pem")),
    ("ssl.keystore.key", Rule::Rename("ssl.key.pem")),
    ("ssl.keystore.location", Rule::Special),
    ("ssl.keystore.password", Rule::Special),
    ("ssl.keystore.type", Rule::Special),
    ("ssl.protocol", Rule::Ignore(JSSE)),
    ("ssl.provider", Rule::Ignore(JSSE)),
    ("ssl.secure.random.implementation", Rule::Ignore(JSSE)),
    ("ssl.trustmanager.algorithm", Rule::Ignore(JSSE)),
    ("ssl.truststore.certificates", Rule::Rename("ssl.ca.pem")),
    ("ssl.truststore.location", Rule::Special),
    ("ssl.truststore.password", Rule::Special),
    ("ssl.truststore.type", Rule::Special),
    ("transaction.two.phase.commit.enable", Rule::Ignore(NO_EQUIVALENT)),
    ("value.deserializer", Rule::Ignore(SERDE)),
    ("value.serializer", Rule::Ignore(SERDE)),
];

/// Java prefixes with no librdkafka equivalent.
const JAVA_PREFIXES: &[(&str, &str)] = &[
    ("sasl.login.", JAVA_SASL),
    (
        "sasl.oauthbearer.",
        "Java OAUTHBEARER setting with no librdkafka equivalent",
    ),
    ("metrics.", JAVA_METRICS),
];

fn rule(name: &str) -> Rule {
    if let Ok(i) = JAVA_RULES.binary_search_by(|(n, _)| (*n).cmp(name)) {
        return JAVA_RULES[i].1;
    }
    if LIBRDKAFKA_PROPERTIES.binary_search(&name).is_ok() {
        return Rule::Same;
    }
    match JAVA_PREFIXES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
    {
        Some((_, reason)) => Rule::Ignore(reason),
        None => Rule::Unknown,
    }
}

/// A scope and the scopes below it, nearest first.
struct Context<'a> {
    scope: &'a JavaProps,
    lower: &'a [&'a JavaProps],
}

impl<'a> Context<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        std::iter::once(self.scope)
            .chain(self.lower.iter().copied())
            .find_map(|scope| scope.get(name))
            .map(|p| p.value.as_str())
    }
}

enum Special {
    Set(Vec<(String, String)>),
    /// Read as context by other properties (`ssl.*.type`); nothing of its own to set.
    Context,
    Ignore(String),
    /// Cannot be honoured, and running without it would connect differently from what the file
    /// asks (trusting other CAs, presenting no client certificate): the file is refused.
    Refuse(String),
}

fn set(pairs: &[(&str, &str)]) -> Special {
    Special::Set(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreType {
    Pem,
    Pkcs12,
    Jks,
}

impl std::fmt::Display for StoreType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pem => "PEM",
            Self::Pkcs12 => "PKCS12",
            Self::Jks => "JKS",
        })
    }
}

/// `ssl.<store>.type` if set, else guessed from the file's extension, else Java's default, JKS.
fn store_type(
    explicit: Option<&str>,
    location: Option<&str>,
    file_key: &str,
) -> Result<StoreType, String> {
    if let Some(explicit) = explicit {
        return match explicit.trim().to_ascii_uppercase().as_str() {
            "PEM" => Ok(StoreType::Pem),
            "PKCS12" => Ok(StoreType::Pkcs12),
            "JKS" => Ok(StoreType::Jks),
            _ => Err(format!("PEM, PKCS12 or JKS for the type of {file_key}")),
        };
    }
    let extension = location
        .and_then(|l| Path::new(l).extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    Ok(match extension.as_deref() {
        Some("pem" | "crt" | "cer") => StoreType::Pem,
        Some("p12" | "pfx") => StoreType::Pkcs12,
        _ => StoreType::Jks,
    })
}

/// Translations that depend on the value or on other properties. `Err` is what was expected.
fn special(name: &str, prop: &JavaProp, lookup: &Context<'_>) -> Result<Special, String> {
    let value = prop.value.as_str();
    let convert_truststore = |kind: StoreType| {
        let how = match kind {
            StoreType::Jks => {
                format!("keytool -exportcert -rfc -keystore {value} -alias <ca> -file ca.pem")
            }
            _ => format!("openssl pkcs12 -in {value} -nokeys -out ca.pem"),
        };
        format!(
            "{kind} truststore {value:?}: librdkafka reads only PEM truststores; convert it \
             ({how}) and set ssl.truststore.location to the PEM file with ssl.truststore.type = \
             PEM (or ssl.ca.location in a Strait TOML file)"
        )
    };
    let convert_keystore = format!(
        "JKS keystore {:?}: librdkafka cannot read JKS; convert it (keytool -importkeystore \
         -srckeystore <it> -destkeystore client.p12 -deststoretype PKCS12) and set \
         ssl.keystore.location to it with ssl.keystore.type = PKCS12, or use PEM",
        lookup.get("ssl.keystore.location").unwrap_or(value)
    );
    Ok(match name {
        "bootstrap.servers" => Special::Ignore(
            "bootstrap servers are set per cluster (A.bootstrap.servers), not per client type"
                .to_owned(),
        ),
        "auto.offset.reset" => match value.to_ascii_lowercase().as_str() {
            "none" => set(&[("auto.offset.reset", "error")]),
            "earliest" | "latest" => set(&[("auto.offset.reset", value)]),
            _ => return Err("earliest, latest or none".to_owned()),
        },
        "ssl.endpoint.identification.algorithm" => match value {
            "" => set(&[(name, "none")]),
            _ => set(&[(name, value)]),
        },
        "ssl.truststore.type" | "ssl.keystore.type" => {
            store_type(Some(value), None, name)?;
            Special::Context
        }
        "ssl.truststore.location" => {
            match store_type(lookup.get("ssl.truststore.type"), Some(value), name)? {
                StoreType::Pem => set(&[("ssl.ca.location", value)]),
                kind @ (StoreType::Pkcs12 | StoreType::Jks) => {
                    Special::Refuse(convert_truststore(kind))
                }
            }
        }
        "ssl.truststore.password" => Special::Ignore(
            "not needed: librdkafka reads PEM truststores, which have no password".to_owned(),
        ),
        "ssl.keystore.location" => {
            match store_type(lookup.get("ssl.keystore.type"), Some(value), name)? {
                StoreType::Pem => set(&[
                    ("ssl.certificate.location", value),
                    ("ssl.key.location", value),
                ]),
                StoreType::Pkcs12 => set(&[("ssl.keystore.location", value)]),
                StoreType::Jks => Special::Refuse(convert_keystore),
            }
        }
        "ssl.keystore.password" => {
            let location = lookup.get("ssl.keystore.location");
            match store_type(lookup.get("ssl.keystore.type"), location, name)? {
                StoreType::Pkcs12 => set(&[("ssl.keystore.password", value)]),
                StoreType::Pem => Special::Ignore(
                    "not used with a PEM keystore: an encrypted key's password is ssl.key.password"
                        .to_owned(),
                ),
                // The keystore's own key refuses the file.
                StoreType::Jks => Special::Ignore(convert_keystore),
            }
        }
        "sasl.jaas.config" => jaas_to_librdkafka(value)?,
        _ => unreachable!("{name} has no special rule"),
    })
}

/// One login module of a `sasl.jaas.config` value.
#[derive(Debug, PartialEq, Eq)]
struct Jaas {
    module: String,
    options: BTreeMap<String, String>,
}

fn jaas_to_librdkafka(value: &str) -> Result<Special, String> {
    let jaas = parse_jaas(value).map_err(|reason| {
        format!("a JAAS login module configuration (`<LoginModule> required key=\"value\" ...;`): {reason}")
    })?;
    let module = jaas.module.rsplit('.').next().unwrap_or_default();
    let option = |key: &str| jaas.options.get(key).map(String::as_str);
    Ok(match module {
        "PlainLoginModule" | "ScramLoginModule" => match (option("username"), option("password")) {
            (Some(user), Some(password)) => {
                set(&[("sasl.username", user), ("sasl.password", password)])
            }
            _ => {
                return Err(format!(
                    "{module} with username=\"...\" and password=\"...\""
                ))
            }
        },
        "Krb5LoginModule" => {
            let mut pairs = Vec::new();
            if let Some(keytab) = option("keyTab") {
                pairs.push(("sasl.kerberos.keytab", keytab));
            }
            if let Some(principal) = option("principal") {
                pairs.push(("sasl.kerberos.principal", principal));
            }
            set(&pairs)
        }
        "OAuthBearerLoginModule" => match (option("clientId"), option("clientSecret")) {
            (Some(id), Some(secret)) => {
                let mut pairs = vec![
                    ("sasl.oauthbearer.method", "oidc"),
                    ("sasl.oauthbearer.client.id", id),
                    ("sasl.oauthbearer.client.secret", secret),
                ];
                if let Some(scope) = option("scope") {
                    pairs.push(("sasl.oauthbearer.scope", scope));
                }
                set(&pairs)
            }
            _ => Special::Ignore(
                "only the client-credentials form of OAuthBearerLoginModule (clientId, \
                 clientSecret) is translated: configure OAUTHBEARER in a Strait TOML file"
                    .to_owned(),
            ),
        },
        _ => Special::Ignore(format!(
            "login module {} has no librdkafka translation",
            jaas.module
        )),
    })
}

/// Parses `<module> <flag> key=value ... ;` (one module, as Kafka clients require). Values may be
/// double- or single-quoted (with backslash escapes) or bare words.
fn parse_jaas(text: &str) -> Result<Jaas, String> {
    let tokens = jaas_tokens(text)?;
    let mut tokens = tokens.into_iter().peekable();
    let word = |token: Option<JaasToken>, what: &str| match token {
        Some(JaasToken::Word(w)) => Ok(w),
        _ => Err(format!("expected {what}")),
    };
    let module = word(tokens.next(), "a login module class")?;
    let flag = word(tokens.next(), "a control flag after the login module")?;
    if !["required", "requisite", "sufficient", "optional"]
        .contains(&flag.to_ascii_lowercase().as_str())
    {
        return Err(format!(
            "unknown control flag {flag:?} (expected required, requisite, sufficient or optional)"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        match tokens.next() {
            None => break,
            Some(JaasToken::Semicolon) => {
                if tokens.peek().is_some() {
                    return Err("only one login module is allowed".to_owned());
                }
                break;
            }
            Some(JaasToken::Word(key)) => {
                if tokens.next() != Some(JaasToken::Equals) {
                    return Err(format!("expected `=` after option {key}"));
                }
                match tokens.next() {
                    Some(JaasToken::Word(v) | JaasToken::Quoted(v)) => {
                        options.insert(key, v);
                    }
                    _ => return Err(format!("expected a value for option {key}")),
                }
            }
            Some(_) => return Err("expected an option name".to_owned()),
        }
    }
    Ok(Jaas { module, options })
}

#[derive(Debug, PartialEq, Eq)]
enum JaasToken {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn jaas_tokens(text: &str) -> Result<Vec<JaasToken>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                tokens.push(JaasToken::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(JaasToken::Semicolon);
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted value".to_owned()),
                        Some('\\') => s.extend(chars.next()),
                        Some(q) if q == c => break,
                        Some(other) => s.push(other),
                    }
                }
                tokens.push(JaasToken::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '=' | ';' | '"' | '\'') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push(JaasToken::Word(s));
            }
        }
    }
    Ok(tokens)
}

/// Every property librdkafka accepts as a string (from its CONFIGURATION.md, callbacks left out).
/// Sorted: looked up with a binary search.
#[rustfmt::skip]
const LIBRDKAFKA_PROPERTIES: &[&str] = &[
    "acks", "allow.auto.create.topics", "api.version.fallback.ms", "api.version.request",
    "api.version.request.timeout.ms", "auto.commit.enable", "auto.commit.interval.ms",
    "auto.offset.reset", "batch.num.messages", "batch.size", "bootstrap.servers",
    "broker.address.family", "broker.address.ttl", "broker.version.fallback", "check.crcs",
    "client.dns.lookup", "client.id", "client.rack", "compression.codec", "compression.level",
    "compression.type", "connections.max.idle.ms", "consume.callback.max.messages",
    "coordinator.query.interval.ms", "debug", "delivery.report.only.error", "delivery.timeout.ms",
    "enable.auto.commit", "enable.auto.offset.store", "enable.gapless.guarantee",
    "enable.idempotence", "enable.metrics.push", "enable.partition.eof", "enable.random.seed",
    "enable.sasl.oauthbearer.unsecure.jwt", "enable.ssl.certificate.verification",
    "fetch.error.backoff.ms", "fetch.max.bytes", "fetch.message.max.bytes", "fetch.min.bytes",
    "fetch.queue.backoff.ms", "fetch.wait.max.ms", "group.id", "group.instance.id",
    "group.protocol", "group.protocol.type", "group.remote.assignor", "heartbeat.interval.ms",
    "https.ca.location", "https.ca.pem", "isolation.level", "linger.ms", "log.connection.close",
    "log.queue", "log.thread.name", "log_level", "max.in.flight",
    "max.in.flight.requests.per.connection", "max.partition.fetch.bytes", "max.poll.interval.ms",
    "message.copy.max.bytes", "message.max.bytes", "message.send.max.retries",
    "message.timeout.ms", "metadata.broker.list", "metadata.max.age.ms",
    "metadata.recovery.rebootstrap.trigger.ms", "metadata.recovery.strategy",
    "offset.store.method", "offset.store.path", "offset.store.sync.interval.ms",
    "partition.assignment.strategy", "partitioner", "produce.offset.report",
    "queue.buffering.backpressure.threshold", "queue.buffering.max.kbytes",
    "queue.buffering.max.messages", "queue.buffering.max.ms", "queued.max.messages.kbytes",
    "queued.min.messages", "queuing.strategy", "receive.message.max.bytes",
    "reconnect.backoff.jitter.ms", "reconnect.backoff.max.ms", "reconnect.backoff.ms",
    "request.required.acks", "request.timeout.ms", "retries", "retry.backoff.max.ms",
    "retry.backoff.ms", "sasl.kerberos.keytab", "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin", "sasl.kerberos.principal",
    "sasl.kerberos.service.name", "sasl.mechanism", "sasl.mechanisms",
    "sasl.oauthbearer.assertion.algorithm", "sasl.oauthbearer.assertion.claim.aud",
    "sasl.oauthbearer.assertion.claim.exp.seconds", "sasl.oauthbearer.assertion.claim.iss",
    "sasl.oauthbearer.assertion.claim.jti.include", "sasl.oauthbearer.assertion.claim.nbf.seconds",
    "sasl.oauthbearer.assertion.claim.sub", "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.jwt.template.file", "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem", "sasl.oauthbearer.client.credentials.client.id",
    "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "sasl.oauthbearer.extensions",
    "sasl.oauthbearer.grant.type", "sasl.oauthbearer.metadata.authentication.type",
    "sasl.oauthbearer.method", "sasl.oauthbearer.scope", "sasl.oauthbearer.token.endpoint.url",
    "sasl.password", "sasl.username", "security.protocol", "session.timeout.ms",
    "socket.blocking.max.ms", "socket.connection.setup.timeout.ms", "socket.keepalive.enable",
    "socket.max.fails", "socket.nagle.disable", "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes", "socket.timeout.ms", "ssl.ca.certificate.stores",
    "ssl.ca.location", "ssl.ca.pem", "ssl.certificate.location", "ssl.certificate.pem",
    "ssl.cipher.suites", "ssl.crl.location", "ssl.curves.list",
    "ssl.endpoint.identification.algorithm", "ssl.engine.id", "ssl.engine.location",
    "ssl.key.location", "ssl.key.password", "ssl.key.pem", "ssl.keystore.location",
    "ssl.keystore.password", "ssl.providers", "ssl.sigalgs.list", "statistics.interval.ms",
    "sticky.partitioning.linger.ms", "topic.blacklist", "topic.metadata.propagation.max.ms",
    "topic.metadata.refresh.fast.cnt", "topic.metadata.refresh.fast.interval.ms",
    "topic.metadata.refresh.interval.ms", "topic.metadata.refresh.sparse",
    "transaction.timeout.ms", "transactional.id",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(pairs: &[(&str, &str)]) -> JavaProps {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let prop = JavaProp {
                    value: (*value).to_owned(),
                    key: format!("A.{name}"),
                    place: Place::Line(i + 1),
                    librdkafka: false,
                };
                ((*name).to_owned(), prop)
            })
            .collect()
    }

    fn run(pairs: &[(&str, &str)]) -> Translated {
        translate(Path::new("mm2.properties"), &scope(pairs), &[]).unwrap()
    }

    fn props(t: &Translated) -> Vec<(&str, &str)> {
        t.props
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `ConsumerConfig`, `ProducerConfig` and `AdminClientConfig` `configDef().names()` of Kafka
    /// 4.3.1's clients (the jars the tests run), as printed by a small Java program.
    const JAVA_CLIENT_PROPERTIES_4_3: &str = "\
        acks allow.auto.create.topics auto.commit.interval.ms auto.offset.reset batch.size \
        bootstrap.controllers bootstrap.servers buffer.memory check.crcs client.dns.lookup client.id \
        client.rack compression.gzip.level compression.lz4.level compression.type \
        compression.zstd.level config.providers connections.max.idle.ms default.api.timeout.ms \
        delivery.timeout.ms enable.auto.commit enable.idempotence enable.metrics.push \
        exclude.internal.topics fetch.max.bytes fetch.max.wait.ms fetch.min.bytes group.id \
        group.instance.id group.protocol group.remote.assignor heartbeat.interval.ms \
        interceptor.classes internal.throw.on.fetch.stable.offset.unsupported isolation.level \
        key.deserializer key.serializer linger.ms max.block.ms max.in.flight.requests.per.connection \
        max.partition.fetch.bytes max.poll.interval.ms max.poll.records max.request.size \
        metadata.max.age.ms metadata.max.idle.ms metadata.recovery.rebootstrap.trigger.ms \
        metadata.recovery.strategy metric.reporters metrics.num.samples metrics.recording.level \
        metrics.sample.window.ms partition.assignment.strategy \
        partitioner.adaptive.partitioning.enable partitioner.availability.timeout.ms \
        partitioner.class partitioner.ignore.keys receive.buffer.bytes reconnect.backoff.max.ms \
        reconnect.backoff.ms request.timeout.ms retries retry.backoff.max.ms retry.backoff.ms \
        sasl.client.callback.handler.class sasl.jaas.config sasl.kerberos.kinit.cmd \
        sasl.kerberos.min.time.before.relogin sasl.kerberos.service.name \
        sasl.kerberos.ticket.renew.jitter sasl.kerberos.ticket.renew.window.factor \
        sasl.login.callback.handler.class sasl.login.class sasl.login.connect.timeout.ms \
        sasl.login.read.timeout.ms sasl.login.refresh.buffer.seconds \
        sasl.login.refresh.min.period.seconds sasl.login.refresh.window.factor \
        sasl.login.refresh.window.jitter sasl.login.retry.backoff.max.ms sasl.login.retry.backoff.ms \
        sasl.mechanism sasl.oauthbearer.assertion.algorithm sasl.oauthbearer.assertion.claim.aud \
        sasl.oauthbearer.assertion.claim.exp.seconds sasl.oauthbearer.assertion.claim.iss \
        sasl.oauthbearer.assertion.claim.jti.include sasl.oauthbearer.assertion.claim.nbf.seconds \
        sasl.oauthbearer.assertion.claim.sub sasl.oauthbearer.assertion.file \
        sasl.oauthbearer.assertion.private.key.file \
        sasl.oauthbearer.assertion.private.key.passphrase sasl.oauthbearer.assertion.template.file \
        sasl.oauthbearer.client.credentials.client.id \
        sasl.oauthbearer.client.credentials.client.secret sasl.oauthbearer.clock.skew.seconds \
        sasl.oauthbearer.expected.audience sasl.oauthbearer.expected.issuer \
        sasl.oauthbearer.header.urlencode sasl.oauthbearer.jwks.endpoint.refresh.ms \
        sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms \
        sasl.oauthbearer.jwks.endpoint.retry.backoff.ms sasl.oauthbearer.jwks.endpoint.url \
        sasl.oauthbearer.jwt.retriever.class sasl.oauthbearer.jwt.validator.class \
        sasl.oauthbearer.scope sasl.oauthbearer.scope.claim.name sasl.oauthbearer.sub.claim.name \
        sasl.oauthbearer.token.endpoint.url security.protocol security.providers send.buffer.bytes \
        session.timeout.ms share.acknowledgement.mode share.acquire.mode \
        socket.connection.setup.timeout.max.ms socket.connection.setup.timeout.ms ssl.cipher.suites \
        ssl.enabled.protocols ssl.endpoint.identification.algorithm ssl.engine.factory.class \
        ssl.key.password ssl.keymanager.algorithm ssl.keystore.certificate.chain ssl.keystore.key \
        ssl.keystore.location ssl.keystore.password ssl.keystore.type ssl.protocol ssl.provider \
        ssl.secure.random.implementation ssl.trustmanager.algorithm ssl.truststore.certificates \
        ssl.truststore.location ssl.truststore.password ssl.truststore.type transaction.timeout.ms \
        transaction.two.phase.commit.enable transactional.id value.deserializer value.serializer";

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(LIBRDKAFKA_PROPERTIES.windows(2).all(|w| w[0] < w[1]));
        assert!(JAVA_RULES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn common_names_pass_through_and_some_are_renamed() {
        let t = run(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("client.id", "mm2"),
            ("acks", "all"),
            ("linger.ms", "20"),
            ("max.request.size", "2097152"),
            ("fetch.max.wait.ms", "50"),
            ("send.buffer.bytes", "131072"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]);
        assert_eq!(
            props(&t),
            vec![
                ("acks", "all"),
                ("client.id", "mm2"),
                ("fetch.wait.max.ms", "50"),
                ("linger.ms", "20"),
                ("message.max.bytes", "2097152"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("security.protocol", "SASL_SSL"),
                ("socket.send.buffer.bytes", "131072"),
                ("ssl.endpoint.identification.algorithm", "none"),
            ]
        );
        assert!(t.ignored.is_empty());
    }

    #[test]
    fn java_only_properties_are_ignored_with_a_reason() {
        let t = run(&[
            (
                "key.deserializer",
                "org.apache.kafka.common.serialization.ByteArrayDeserializer",
            ),
            ("interceptor.classes", "com.example.Audit"),
            ("max.poll.records", "500"),
            ("sasl.login.refresh.window.factor", "0.8"),
        ]);
        assert!(t.props.is_empty());
        let reasons: BTreeMap<&str, &str> = t
            .ignored
            .iter()
            .map(|i| (i.key.as_str(), i.reason.as_str()))
            .collect();
        assert!(reasons["A.key.deserializer"].contains("raw bytes"));
        assert!(reasons["A.interceptor.classes"].contains("interceptor"));
        assert!(reasons["A.max.poll.records"].contains("no librdkafka equivalent"));
        assert!(reasons["A.sasl.login.refresh.window.factor"].contains("SASL"));
        let deserializer = t.ignored.iter().find(|i| i.key == "A.key.deserializer");
        assert_eq!(deserializer.unwrap().line, Some(1));
    }

    #[test]
    fn unknown_names_are_refused_with_the_closest_known_one() {
        let refused = |key: &str, name: &str| unknown_client_property(key, name);
        assert_eq!(
            refused("A.consumer.fetch.min.bytess", "fetch.min.bytess").as_deref(),
            Some("unknown client property: did you mean `A.consumer.fetch.min.bytes`?")
        );
        assert_eq!(
            refused("A->B.producer.lingr.ms", "lingr.ms").as_deref(),
            Some("unknown client property: did you mean `A->B.producer.linger.ms`?")
        );
        // A Java name Strait renames: librdkafka's is named too.
        assert_eq!(
            refused("producer.max.request.sise", "max.request.sise").as_deref(),
            Some(
                "unknown client property: did you mean `producer.max.request.size` \
                 (librdkafka's `message.max.bytes`)?"
            )
        );
        assert_eq!(
            refused("A.no.such.property", "no.such.property").as_deref(),
            Some(
                "unknown client property: neither a Java client property Strait translates nor \
                 a librdkafka property (librdkafka's own names are taken as they are)"
            )
        );
        // Known: Java (translated or ignored with a reason) or librdkafka names.
        for name in [
            "fetch.min.bytes",
            "max.request.size",
            "max.poll.records",
            "sasl.jaas.config",
            "queue.buffering.max.messages",
            "sasl.login.refresh.window.factor",
        ] {
            assert_eq!(refused(name, name), None, "{name}");
        }
        let err = translate(
            Path::new("/etc/mm2.properties"),
            &scope(&[("no.such.property", "1")]),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/mm2.properties:1: `A.no.such.property`: unknown client property: neither a \
             Java client property Strait translates nor a librdkafka property (librdkafka's own \
             names are taken as they are)"
        );
    }

    /// Every client property of Kafka 4.3.1's Java consumer, producer and admin client (their
    /// `ConfigDef` names) is translated, passed through or ignored with a reason: an
    /// `mm2.properties` written for MirrorMaker 2 is never refused for naming one.
    #[test]
    fn every_java_client_property_of_kafka_4_3_is_known() {
        let unknown: Vec<&str> = JAVA_CLIENT_PROPERTIES_4_3
            .split_whitespace()
            .filter(|name| matches!(rule(name), Rule::Unknown))
            .collect();
        assert_eq!(unknown, Vec::<&str>::new());
    }

    /// What a TOML client table is told when librdkafka does not know a name.
    #[test]
    fn librdkafka_hints() {
        assert_eq!(
            librdkafka_hint("lingerer.ms"),
            Some(LibrdkafkaHint::Typo("linger.ms"))
        );
        assert_eq!(
            librdkafka_hint("max.request.size"),
            Some(LibrdkafkaHint::Text(
                "`max.request.size` is the Java client's name: librdkafka's is \
                 `message.max.bytes`"
                    .to_owned()
            ))
        );
        assert_eq!(
            librdkafka_hint("max.poll.records"),
            Some(LibrdkafkaHint::Text(
                "`max.poll.records` is a Java client property: Java client setting with no \
                 librdkafka equivalent"
                    .to_owned()
            ))
        );
        let Some(LibrdkafkaHint::Text(jaas)) = librdkafka_hint("sasl.jaas.config") else {
            panic!("no hint for sasl.jaas.config");
        };
        assert!(
            jaas.contains("`sasl.username` and `sasl.password`"),
            "{jaas}"
        );
        assert_eq!(librdkafka_hint("no.such.thing.at.all"), None);
        assert_eq!(librdkafka_hint("linger.ms"), None);
    }

    #[test]
    fn plain_and_scram_jaas_become_username_and_password() {
        let t = run(&[(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="mirror" password="s3cr\"t";"#,
        )]);
        assert_eq!(
            props(&t),
            vec![("sasl.password", "s3cr\"t"), ("sasl.username", "mirror")]
        );
        let t = run(&[(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username='u' password=p",
        )]);
        assert_eq!(
            props(&t),
            vec![("sasl.password", "p"), ("sasl.username", "u")]
        );
    }

    #[test]
    fn kerberos_and_oauth_jaas() {
        let t = run(&[(
            "sasl.jaas.config",
            r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true keyTab="/etc/mm2.keytab" principal="mm2@EXAMPLE.COM";"#,
        )]);
        assert_eq!(
            props(&t),
            vec![
                ("sasl.kerberos.keytab", "/etc/mm2.keytab"),
                ("sasl.kerberos.principal", "mm2@EXAMPLE.COM")
            ]
        );
        let t = run(&[(
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="id" clientSecret="sec" scope="kafka";"#,
        )]);
        assert_eq!(
            props(&t),
            vec![
                ("sasl.oauthbearer.client.id", "id"),
                ("sasl.oauthbearer.client.secret", "sec"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.scope", "kafka"),
            ]
        );
        let t = run(&[("sasl.jaas.config", "com.example.Custom required a=b;")]);
        assert!(t.props.is_empty());
        assert!(t.ignored[0].reason.contains("com.example.Custom"));
    }

    #[test]
    fn malformed_jaas_is_an_error_that_hides_the_value() {
        let err = translate(
            Path::new("/etc/mm2.properties"),
            &scope(&[(
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";",
            )]),
            &[],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/mm2.properties:1"), "{msg}");
        assert!(msg.contains("A.sasl.jaas.config"), "{msg}");
        assert!(msg.contains("password"), "{msg}");
        assert!(!msg.contains("username=\\\"u\\\""), "{msg}");
        assert!(msg.contains("****"), "{msg}");

        assert!(parse_jaas("Module required a=\"unterminated").is_err());
        assert!(parse_jaas("Module maybe a=b;").is_err());
        assert!(parse_jaas("Module required a=b; Other required c=d;").is_err());
    }

    #[test]
    fn pem_truststore_becomes_ca_location_and_jks_or_pkcs12_are_refused() {
        let t = run(&[
            ("ssl.truststore.location", "/etc/ca.pem"),
            ("ssl.truststore.type", "PEM"),
        ]);
        assert_eq!(props(&t), vec![("ssl.ca.location", "/etc/ca.pem")]);

        for (location, kind, how) in [
            ("/etc/truststore.jks", "JKS", "keytool -exportcert"),
            ("/etc/truststore.p12", "PKCS12", "openssl pkcs12"),
        ] {
            let err = translate(
                Path::new("/etc/mm2.properties"),
                &scope(&[
                    ("ssl.truststore.location", location),
                    ("ssl.truststore.password", "changeit"),
                ]),
                &[],
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with("/etc/mm2.properties:1: `A.ssl.truststore.location`: "),
                "{msg}"
            );
            assert!(msg.contains(&format!("{kind} truststore")), "{msg}");
            assert!(msg.contains(how), "{msg}");
            assert!(msg.contains("ssl.truststore.type = PEM"), "{msg}");
            assert!(!msg.contains("changeit"), "{msg}");
        }

        // Type from a lower scope, extension when no type is set.
        let lower = scope(&[("ssl.truststore.type", "PEM")]);
        let upper = scope(&[("ssl.truststore.location", "/etc/ca.bundle")]);
        let t = translate(Path::new("f"), &upper, &[&lower]).unwrap();
        assert_eq!(props(&t), vec![("ssl.ca.location", "/etc/ca.bundle")]);
        let t = run(&[("ssl.truststore.location", "/etc/ca.crt")]);
        assert_eq!(props(&t), vec![("ssl.ca.location", "/etc/ca.crt")]);
    }

    #[test]
    fn keystores() {
        let t = run(&[
            ("ssl.keystore.location", "/etc/client.pem"),
            ("ssl.keystore.type", "PEM"),
            ("ssl.key.password", "kp"),
        ]);
        assert_eq!(
            props(&t),
            vec![
                ("ssl.certificate.location", "/etc/client.pem"),
                ("ssl.key.location", "/etc/client.pem"),
                ("ssl.key.password", "kp"),
            ]
        );
        let t = run(&[
            ("ssl.keystore.location", "/etc/client.p12"),
            ("ssl.keystore.password", "ksp"),
        ]);
        assert_eq!(
            props(&t),
            vec![
                ("ssl.keystore.location", "/etc/client.p12"),
                ("ssl.keystore.password", "ksp"),
            ]
        );
        let err = translate(
            Path::new("f"),
            &scope(&[("ssl.keystore.location", "/etc/client.jks")]),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("JKS keystore"), "{err}");
        assert!(err.to_string().contains("PKCS12"), "{err}");
        let err =
            translate(Path::new("f"), &scope(&[("ssl.keystore.type", "BKS")]), &[]).unwrap_err();
        assert!(err.to_string().contains("PEM, PKCS12 or JKS"), "{err}");
    }

    #[test]
    fn auto_offset_reset_none_becomes_error() {
        assert_eq!(
            props(&run(&[("auto.offset.reset", "none")])),
            vec![("auto.offset.reset", "error")]
        );
        assert!(translate(
            Path::new("f"),
            &scope(&[("auto.offset.reset", "oldest")]),
            &[]
        )
        .is_err());
    }

    #[test]
    fn overlay_later_wins() {
        let lower = scope(&[("client.id", "a"), ("linger.ms", "1")]);
        let upper = scope(&[("client.id", "b")]);
        let merged = overlay([&lower, &upper]);
        assert_eq!(merged["client.id"].value, "b");
        assert_eq!(merged["linger.ms"].value, "1");
    }

    #[test]
    fn secrets_are_masked() {
        for name in [
            "sasl.password",
            "sasl.jaas.config",
            "ssl.key.password",
            "sasl.oauthbearer.client.secret",
            "ssl.key.pem",
            "token",
        ] {
            assert!(is_secret(name), "{name}");
            assert_eq!(shown_value(name, "x"), "****");
        }
        assert!(!is_secret("security.protocol"));
        assert_eq!(shown_value("client.id", "x"), "x");
    }
}
