//! `idms serve`'s configuration, from one table.
//!
//! Every key is one line of `config_table!` below: its type, default,
//! how far it reaches ([`Reach`]) and an example. From that line come the
//! [`Config`] field (the TOML key), its `IDMS_*` variable, its `serve` flag
//! and its entry in [`KEYS`], which the tests and the README check iterate
//! over — so a new key cannot be missing from any of them.
//!
//! Layers, each beating the one before: defaults, the TOML file, the
//! `IDMS_*` variables, the flags. Refused at start, naming what is wrong:
//! an unknown key in the file, an `IDMS_*` variable that is not a key
//! (except [`NOT_CONFIG`], the CLI's own), a value that does not parse
//! (`log_format` lists its choices).
//!
//! Why not `figment` (the usual crate for this): with its `toml` and `env`
//! features it adds 15 crates, among them a second TOML stack (toml 0.8,
//! toml_edit 0.22, winnow) beside the toml 1.x this crate uses, and a
//! proc-macro parser (pear), for what is here about a hundred lines; and its
//! flags would still be a second list of the keys.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::readers::osdp::LineConfig;

/// The longest timeout a configuration may set, in seconds (a day).
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The most connections a configuration may allow.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// Where a key can be set besides the TOML file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Its `IDMS_*` variable and a `serve` flag.
    Everywhere,
    /// Its `IDMS_*` variable and the flag every `idms` command takes
    /// (`--data-dir`, `--log`).
    GlobalFlag,
    /// Its `IDMS_*` variable, never a flag: a secret on a command line is
    /// seen by every user of the machine (`ps`).
    NoFlag,
    /// Only the TOML file (tables).
    FileOnly,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The TOML key.
    pub name: &'static str,
    /// Where else it can be set.
    pub reach: Reach,
    /// What it means.
    pub doc: &'static str,
    /// A value other than the default, as TOML.
    pub example: &'static str,
}

impl Key {
    /// Its variable: `IDMS_` and the key in capitals.
    #[must_use]
    pub fn env(&self) -> String {
        format!("IDMS_{}", self.name.to_ascii_uppercase())
    }

    /// Its flag: `--` and the key with dashes.
    #[must_use]
    pub fn flag(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// Whether `serve` has a flag of its own for it.
    fn serve_flag(&self) -> bool {
        self.reach == Reach::Everywhere
    }
}

/// `IDMS_*` variables that are not configuration keys: the CLI's (config
/// file, audit actor, token, password) and the simulator's.
pub const NOT_CONFIG: &[&str] = &["IDMS_CONFIG", "IDMS_ACTOR", "IDMS_TOKEN", "IDMS_PASSWORD", "IDMS_HWSIM_DIR"];

macro_rules! config_table {
    ($( $(#[doc = $doc:literal])+ $key:ident : $ty:ty = $default:expr, $reach:ident, example $example:literal; )+) => {
        /// Service configuration (see the module documentation for the layers).
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $key: $ty, )+
        }

        impl Default for Config {
            fn default() -> Self {
                Self { $( $key: $default, )+ }
            }
        }

        /// Every key, in the order of the table.
        pub const KEYS: &[Key] = &[
            $( Key { name: stringify!($key), reach: Reach::$reach, doc: concat!($($doc),+), example: $example }, )+
        ];

        impl Config {
            /// Sets `key` from its text in a variable or a flag.
            fn set(&mut self, key: &str, text: &str) -> Result<(), String> {
                match key {
                    $( stringify!($key) => self.$key = FromText::from_text(text)?, )+
                    _ => return Err("not a configuration key".into()),
                }
                Ok(())
            }
        }
    };
}

config_table! {
    /// Data directory (`idms.db`, `events.db`); default `~/.local/share/idms`.
    data_dir: PathBuf = default_data_dir(), GlobalFlag, example r#""/var/lib/idms""#;
    /// Listen address.
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080)), Everywhere, example r#""0.0.0.0:8443""#;
    /// PEM certificate chain to serve HTTPS with (and `tls_key`); reloaded on
    /// SIGHUP and when the file changes. Without it the service speaks plain
    /// HTTP.
    tls_cert: Option<PathBuf> = None, Everywhere, example r#""/etc/idms/tls/cert.pem""#;
    /// PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
    tls_key: Option<PathBuf> = None, Everywhere, example r#""/etc/idms/tls/key.pem""#;
    /// Seconds from a request's first byte to the end of its headers (and
    /// for a TLS handshake); a slower client is disconnected.
    header_read_timeout_secs: u64 = 10, Everywhere, example "5";
    /// Seconds a connection with no request in progress stays open (the
    /// reader event stream and a waiting enrolment are requests in progress).
    idle_timeout_secs: u64 = 60, Everywhere, example "15";
    /// Seconds from a request's complete head to the end of its body; a
    /// client that stalls its body is disconnected.
    body_read_timeout_secs: u64 = 30, Everywhere, example "10";
    /// Connections served at once; further ones wait to be accepted.
    max_connections: usize = 1024, Everywhere, example "256";
    /// Connections one client address (IPv6: its /64) may hold at once;
    /// more from it are closed at once, so one client cannot take every
    /// connection from the doors.
    max_connections_per_address: usize = 64, Everywhere, example "16";
    /// Log filter (tracing `EnvFilter` syntax).
    log: String = "info".into(), GlobalFlag, example r#""debug,hyper=info""#;
    /// Log format: `human` or `json`.
    log_format: LogFormat = LogFormat::Human, Everywhere, example r#""json""#;
    /// Access-event queue capacity (submissions); beyond it, 503.
    event_queue: usize = 65_536, Everywhere, example "1024";
    /// How long a small group of access events waits for company before its
    /// commit, in µs (fewer, larger commits under load; 0 disables).
    event_commit_delay_us: u64 = 200, Everywhere, example "0";
    /// How often to tail the change log for other processes' writes, in ms.
    tail_interval_ms: u64 = 50, Everywhere, example "20";
    /// Async worker threads (default: one per core but one, left to the
    /// access-event writer; at least one).
    workers: Option<usize> = None, Everywhere, example "3";
    /// Watch PC/SC desk readers through pcscd (the service runs without
    /// pcscd and connects when it appears).
    pcsc: bool = true, Everywhere, example "false";
    /// Watch only PC/SC readers whose name starts with one of these (all
    /// when empty; a variable or flag is comma-separated).
    pcsc_readers: Vec<String> = Vec::new(), Everywhere, example r#"["OMNIKEY", "ACS"]"#;
    /// A re-read of the same card within this many ms of its removal is
    /// not a new tap.
    pcsc_debounce_ms: u64 = 300, Everywhere, example "500";
    /// Access events older than this many days are deleted (at start, then
    /// hourly); at least 1.
    events_retention_days: u32 = 365, Everywhere, example "30";
    /// The web UI shows times in this time zone (an IANA name from the
    /// system's time-zone database), with the UTC value on hover.
    ui_time_zone: String = "UTC".into(), Everywhere, example r#""Europe/Berlin""#;
    /// The default site's time zone (an IANA name, from the tz database
    /// built into IDMS): its schedules are in this local time. At start the
    /// default site is set to it; unset leaves the site's own (UTC when new).
    default_tz: Option<String> = None, Everywhere, example r#""Europe/Berlin""#;
    /// Minutes a web UI session lives without a request (1 to 1440).
    ui_session_idle_minutes: u64 = 30, Everywhere, example "15";
    /// Hours a web UI session lives at most, however busy (1 to 168).
    ui_session_max_hours: u64 = 12, Everywhere, example "8";
    /// Seconds after a single expunge before the database file is rewritten
    /// without the erased values (a purge job's and an erase's scrub at
    /// their end); 0 scrubs at the runner's next round (about 2 s).
    scrub_delay_secs: u64 = 600, Everywhere, example "60";
    /// Purge jobs aim at door decisions' p99 staying at or under this many
    /// ms: they rest between steps while the doors are slower (1 to 1000).
    purge_door_p99_ms: u64 = 5, Everywhere, example "10";
    /// What OSDP door readers do while access events cannot be written (a
    /// full or failing disk): `decide` (from the index, their events kept in
    /// the access-event queue until the disk recovers; any that overflow it
    /// counted and audited) or `deny` (their doors stay shut).
    osdp_on_log_failure: OnLogFailure = OnLogFailure::Decide, Everywhere, example r#""deny""#;
    /// Below this much free space (percent of the data directory's file
    /// system) `/readyz` says so and the log warns (0 to 99; 0: never).
    disk_free_warn_percent: u64 = 10, Everywhere, example "5";
    /// When set, `/metrics` answers only `Authorization: Bearer <metrics_token>`
    /// (401 otherwise); a secret, so never a flag.
    metrics_token: Option<Secret> = None, NoFlag, example r#""s3cret-scrape-token""#;
    /// OSDP serial lines (`[[osdp]]` tables: port, baud, poll_ms, devices).
    osdp: Vec<LineConfig> = Vec::new(), FileOnly,
        example r#"[{ port = "/dev/ttyUSB0", devices = [{ address = 1, role = "door", door = "main" }] }]"#;
    /// The LDAP directory or Active Directory people are imported from
    /// (`[directory]`: url, bind_dn, bind_password_file, base_dn, flavour, …);
    /// `idms serve` syncs it every `interval_minutes`.
    directory: Option<crate::directory::LdapConfig> = None, FileOnly,
        example r#"{ url = "ldaps://dc1.example.org", bind_dn = "CN=idms,OU=Service,DC=example,DC=org", bind_password_file = "/etc/idms/ldap.password", base_dn = "OU=People,DC=example,DC=org", flavour = "ad" }"#;
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Human,
    /// One JSON object a line, for collectors.
    Json,
}

/// What OSDP door readers do while the access-event log cannot commit
/// (`osdp_on_log_failure`). They have no offline fallback of their own, so
/// this is the site's choice between open doors and a complete record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLogFailure {
    /// Decide from the index as usual; the events wait in memory, in the
    /// access-event queue, and those that overflow it are lost, counted
    /// (`idms_osdp_events_lost_total`) and audited (`osdp.events_lost`).
    #[default]
    Decide,
    /// Deny every read until events can be written again; each refused
    /// read is counted and audited (`osdp.reads_refused`).
    Deny,
}

/// A secret setting: its `Debug` does not show it (the configuration is
/// logged at debug level).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// An empty secret would be a secret anyone knows.
impl TryFrom<String> for Secret {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        // Surrounding whitespace (a newline from an env file) is never part of
        // it: callers' tokens are trimmed too.
        let s = s.trim();
        if s.is_empty() { Err("a secret may not be empty") } else { Ok(Self(s.to_owned())) }
    }
}

impl FromText for Secret {
    fn from_text(text: &str) -> Result<Self, String> {
        Self::try_from(text.to_owned()).map_err(str::to_owned)
    }
}

/// A value as a variable or a flag writes it.
trait FromText: Sized {
    fn from_text(text: &str) -> Result<Self, String>;
}

macro_rules! from_str_text {
    ($($t:ty),+) => {$(
        impl FromText for $t {
            fn from_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| format!("`{text}`: {e}"))
            }
        }
    )+};
}
from_str_text!(bool, u32, u64, usize, SocketAddr);

impl FromText for String {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl FromText for PathBuf {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.into())
    }
}

impl<T: FromText> FromText for Option<T> {
    fn from_text(text: &str) -> Result<Self, String> {
        T::from_text(text).map(Some)
    }
}

/// Comma-separated; blanks around and empty items dropped.
impl FromText for Vec<String> {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect())
    }
}

/// The same words, and the same refusal listing them, as in the file.
macro_rules! choice_text {
    ($($t:ty),+) => {$(
        impl FromText for $t {
            fn from_text(text: &str) -> Result<Self, String> {
                Self::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text.trim()))
                    .map_err(|e| e.to_string())
            }
        }
    )+};
}
choice_text!(LogFormat, OnLogFailure);

impl FromText for Option<crate::directory::LdapConfig> {
    fn from_text(_: &str) -> Result<Self, String> {
        Err("set only in the TOML file, as a [directory] table".into())
    }
}

impl FromText for Vec<LineConfig> {
    fn from_text(_: &str) -> Result<Self, String> {
        Err("set only in the TOML file, as [[osdp]] tables".into())
    }
}

/// `serve`'s flags: one for every key that [`Reach::Everywhere`], each
/// named [`Key::flag`], kept as given until [`Config::load`] reads them.
#[derive(Debug, Clone, Default)]
pub struct Flags(Vec<(&'static str, String)>);

impl Flags {
    /// Adds a value for `key` (the global `--data-dir` and `--log`).
    pub fn push(&mut self, key: &'static str, text: impl Into<String>) {
        self.0.push((key, text.into()));
    }
}

impl clap::Args for Flags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        KEYS.iter().filter(|k| k.serve_flag()).fold(cmd, |cmd, k| {
            let help = k.doc.trim().trim_end_matches('.');
            cmd.arg(
                clap::Arg::new(k.name)
                    .long(k.name.replace('_', "-"))
                    .value_name(k.name.to_ascii_uppercase())
                    .value_parser(clap::value_parser!(String))
                    .help(format!("{help} (overrides {} and the file)", k.env())),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for Flags {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut f = Self::default();
        f.update_from_arg_matches(m)?;
        Ok(f)
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        for k in KEYS.iter().filter(|k| k.serve_flag()) {
            if let Ok(Some(v)) = m.try_get_one::<String>(k.name) {
                self.push(k.name, v.clone());
            }
        }
        Ok(())
    }
}

/// `$HOME/.local/share/idms`, or `./idms-data` without a home.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/idms"),
        None => PathBuf::from("idms-data"),
    }
}

impl Config {
    /// Reads `file` (if given), then the `IDMS_*` variables among `env`,
    /// then `flags`; checks the result.
    ///
    /// # Errors
    /// What is refused, naming the key, variable or flag.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Flags,
    ) -> Result<Self, String> {
        let text = file
            .map(|f| {
                std::fs::read_to_string(f).map(|t| (f, t)).map_err(|e| format!("cannot read {}: {e}", f.display()))
            })
            .transpose()?;
        Self::layered(text.as_ref().map(|(f, t)| (*f, t.as_str())), env, flags)
    }

    fn layered(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Flags,
    ) -> Result<Self, String> {
        let mut c = match file {
            // The parser's message and line, never its quote of the line: a secret typed into the file by
            // mistake (`bind_password = "…"`) would otherwise be printed and logged.
            Some((f, text)) => toml::from_str(text).map_err(|e| {
                let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                format!("{} line {line}: {}", f.display(), e.message())
            })?,
            None => Self::default(),
        };
        let mut env: Vec<_> = env.into_iter().filter(|(k, _)| k.starts_with("IDMS_")).collect();
        env.sort();
        for (var, text) in env {
            if NOT_CONFIG.contains(&var.as_str()) {
                continue;
            }
            let Some(k) = KEYS.iter().find(|k| k.env() == var) else {
                let known: Vec<String> = KEYS.iter().filter(|k| k.reach != Reach::FileOnly).map(Key::env).collect();
                return Err(format!(
                    "{var} is not a configuration variable (a typo?); they are {}; other IDMS_ variables: {}",
                    known.join(", "),
                    NOT_CONFIG.join(", ")
                ));
            };
            c.set(k.name, &text).map_err(|e| format!("{var}: {e}"))?;
        }
        for (key, text) in &flags.0 {
            let flag = KEYS.iter().find(|k| k.name == *key).map_or_else(|| (*key).to_owned(), Key::flag);
            c.set(key, text).map_err(|e| format!("{flag}: {e}"))?;
        }
        c.check()?;
        Ok(c)
    }

    /// How long web UI sessions live.
    #[must_use]
    pub fn session_limits(&self) -> crate::store::sessions::SessionLimits {
        let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        crate::store::sessions::SessionLimits {
            idle_secs: secs(self.ui_session_idle_minutes * 60),
            max_secs: secs(self.ui_session_max_hours * 3600),
        }
    }

    /// Refuses settings that cannot be meant.
    fn check(&self) -> Result<(), String> {
        if self.events_retention_days == 0 {
            return Err("events_retention_days must be at least 1 (access events are kept that many days)".into());
        }
        crate::ui::time::Zone::named(&self.ui_time_zone)?;
        if let Some(tz) = &self.default_tz {
            crate::domain::access::Site::new(tz)
                .map_err(|_| format!("default_tz `{tz}` is not an IANA time zone such as Europe/Berlin"))?;
        }
        if let Some(d) = &self.directory {
            d.validate().map_err(|e| format!("[directory]: {e}"))?;
        }
        if !(1..=1440).contains(&self.ui_session_idle_minutes) {
            return Err("ui_session_idle_minutes must be 1 to 1440 (a day)".into());
        }
        if !(1..=168).contains(&self.ui_session_max_hours) {
            return Err("ui_session_max_hours must be 1 to 168 (a week)".into());
        }
        if !(1..=1000).contains(&self.purge_door_p99_ms) {
            return Err("purge_door_p99_ms must be 1 to 1000 (milliseconds)".into());
        }
        if self.disk_free_warn_percent > 99 {
            return Err("disk_free_warn_percent must be 0 to 99 (percent free; 0: no warning)".into());
        }
        if self.scrub_delay_secs > MAX_TIMEOUT_SECS {
            return Err(format!("scrub_delay_secs must be 0 to {MAX_TIMEOUT_SECS} (seconds)"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key go together: set both for HTTPS, or neither for plain HTTP".into());
        }
        for (key, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
        ] {
            if !(1..=MAX_TIMEOUT_SECS).contains(&v) {
                return Err(format!("{key} must be 1 to {MAX_TIMEOUT_SECS} (seconds)"));
            }
        }
        for (key, v) in [
            ("max_connections", self.max_connections),
            ("max_connections_per_address", self.max_connections_per_address),
        ] {
            if !(1..=MAX_CONNECTIONS).contains(&v) {
                return Err(format!("{key} must be 1 to {MAX_CONNECTIONS}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Vec<(String, String)> {
        Vec::new()
    }

    fn from_file(text: &str) -> Result<Config, String> {
        Config::layered(Some((Path::new("idms.toml"), text)), none(), &Flags::default())
    }

    fn from_env(var: &str, text: &str) -> Result<Config, String> {
        Config::layered(None, [(var.to_owned(), text.to_owned())], &Flags::default())
    }

    fn flags(args: &[&str]) -> Flags {
        use clap::{Args, FromArgMatches};
        let cmd = Flags::augment_args(clap::Command::new("serve"));
        Flags::from_arg_matches(&cmd.try_get_matches_from([&["serve"], args].concat()).unwrap()).unwrap()
    }

    /// A TOML example as a variable or flag writes it: strings bare, lists
    /// comma-separated.
    fn as_text(example: &str) -> String {
        let v: toml::Table = toml::from_str(&format!("v = {example}")).unwrap();
        match &v["v"] {
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect::<Vec<_>>().join(","),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => panic!("no text form for {other:?}"),
        }
    }

    /// Keys that are only valid together: each example is given with its partner's in the file.
    const PAIRS: &[(&str, &str)] = &[("tls_cert", "tls_key"), ("tls_key", "tls_cert")];

    #[test]
    fn every_key_is_set_alike_by_the_file_its_variable_and_its_flag() {
        for k in KEYS {
            let partner =
                PAIRS.iter().find(|(a, _)| *a == k.name).and_then(|(_, b)| KEYS.iter().find(|p| p.name == *b));
            let base = partner.map(|p| format!("{} = {}\n", p.name, p.example)).unwrap_or_default();
            let layer = |env: Vec<(String, String)>, flags: &Flags| {
                Config::layered(Some((Path::new("idms.toml"), base.as_str())), env, flags)
            };
            let file = from_file(&format!("{base}{} = {}", k.name, k.example)).unwrap();
            assert_ne!(file, Config::default(), "{}: the example must differ from the default", k.name);
            if k.reach == Reach::FileOnly {
                let e = from_env(&k.env(), "x").unwrap_err();
                assert!(e.contains(&k.env()) && e.contains("TOML file"), "{e}");
                continue;
            }
            let text = as_text(k.example);
            assert_eq!(layer(vec![(k.env(), text.clone())], &Flags::default()).unwrap(), file, "{}", k.env());
            if k.reach == Reach::Everywhere {
                let f = flags(&[&k.flag(), &text]);
                assert_eq!(layer(none(), &f).unwrap(), file, "{}", k.flag());
            } else {
                let err = <Flags as clap::Args>::augment_args(clap::Command::new("serve"))
                    .try_get_matches_from(["serve", &k.flag(), &text])
                    .unwrap_err();
                assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{}", k.flag());
            }
        }
    }

    #[test]
    fn session_limits_and_the_scrub_delay_come_from_their_keys_within_bounds() {
        use crate::store::sessions::SessionLimits;
        assert_eq!(from_file("").unwrap().session_limits(), SessionLimits::default());
        let c = from_file("ui_session_idle_minutes = 5\nui_session_max_hours = 2\nscrub_delay_secs = 0").unwrap();
        assert_eq!(c.session_limits(), SessionLimits { idle_secs: 300, max_secs: 7200 });
        assert_eq!(c.scrub_delay_secs, 0);
        assert_eq!((from_file("").unwrap().disk_free_warn_percent, c.disk_free_warn_percent), (10, 10));
        assert_eq!(from_file("disk_free_warn_percent = 0").unwrap().disk_free_warn_percent, 0);
        for (var, v) in [
            ("IDMS_UI_SESSION_IDLE_MINUTES", "0"),
            ("IDMS_UI_SESSION_IDLE_MINUTES", "1441"),
            ("IDMS_UI_SESSION_MAX_HOURS", "0"),
            ("IDMS_UI_SESSION_MAX_HOURS", "169"),
            ("IDMS_SCRUB_DELAY_SECS", "86401"),
            ("IDMS_DISK_FREE_WARN_PERCENT", "100"),
            ("IDMS_PURGE_DOOR_P99_MS", "0"),
        ] {
            let e = from_env(var, v).unwrap_err();
            assert!(e.contains(&var["IDMS_".len()..].to_lowercase()), "{var}={v}: {e}");
        }
    }

    #[test]
    fn tls_needs_both_files_and_limits_stay_within_bounds() {
        for text in ["tls_cert = \"c.pem\"\n", "tls_key = \"k.pem\"\n"] {
            let e = from_file(text).unwrap_err();
            assert!(e.contains("tls_cert and tls_key go together"), "{e}");
        }
        let c = from_file("tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap();
        assert_eq!((c.tls_cert.unwrap(), c.tls_key.unwrap()), (PathBuf::from("c.pem"), PathBuf::from("k.pem")));
        let d = Config::default();
        assert_eq!((d.header_read_timeout_secs, d.idle_timeout_secs, d.max_connections), (10, 60, 1024));
        assert_eq!((d.body_read_timeout_secs, d.max_connections_per_address), (30, 64));
        for (var, key, too_big) in [
            ("IDMS_HEADER_READ_TIMEOUT_SECS", "header_read_timeout_secs", "86401"),
            ("IDMS_IDLE_TIMEOUT_SECS", "idle_timeout_secs", "86401"),
            ("IDMS_BODY_READ_TIMEOUT_SECS", "body_read_timeout_secs", "18446744073709551615"),
            ("IDMS_MAX_CONNECTIONS", "max_connections", "1000001"),
            ("IDMS_MAX_CONNECTIONS_PER_ADDRESS", "max_connections_per_address", "1000001"),
        ] {
            for bad in ["0", too_big] {
                let e = from_env(var, bad).unwrap_err();
                assert!(e.contains(key) && e.contains("must be 1 to"), "{var}={bad}: {e}");
            }
        }
    }

    #[test]
    fn a_variable_beats_the_file_and_a_flag_beats_the_variable() {
        let file = Some((Path::new("idms.toml"), "listen = \"127.0.0.1:1001\"\nevent_queue = 1\npcsc = true\n"));
        let env = || {
            [("IDMS_LISTEN", "127.0.0.1:1002"), ("IDMS_EVENT_QUEUE", "2"), ("IDMS_PCSC", "false")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        let c = Config::layered(file, env(), &Flags::default()).unwrap();
        assert_eq!((c.listen.port(), c.event_queue, c.pcsc), (1002, 2, false));
        let f = flags(&["--listen", "127.0.0.1:1003", "--event-queue", "3"]);
        let c = Config::layered(file, env(), &f).unwrap();
        assert_eq!((c.listen.port(), c.event_queue, c.pcsc), (1003, 3, false));
        let mut f = Flags::default();
        f.push("log", "trace");
        let c = Config::layered(None, [("IDMS_LOG".to_owned(), "warn".to_owned())], &f).unwrap();
        assert_eq!(c.log, "trace");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused_by_name() {
        let e = from_file("event_queue = 5\nevnt_commit_delay_us = 10\n").unwrap_err();
        assert!(e.contains("evnt_commit_delay_us") && e.contains("idms.toml"), "{e}");
    }

    #[test]
    fn an_unknown_idms_variable_is_refused_by_name_but_the_clis_own_are_not() {
        let e = from_env("IDMS_EVENT_QUEUE_SIZE", "10").unwrap_err();
        assert!(e.starts_with("IDMS_EVENT_QUEUE_SIZE is not a configuration variable"), "{e}");
        assert!(e.contains("IDMS_EVENT_QUEUE,"), "the message lists the variables: {e}");
        for v in NOT_CONFIG {
            assert_eq!(from_env(v, "x").unwrap(), Config::default(), "{v}");
        }
        assert_eq!(from_env("OTHER_EVENT_QUEUE", "x").unwrap(), Config::default());
    }

    #[test]
    fn a_bad_log_format_is_refused_with_the_choices_wherever_it_is_set() {
        let errors = [
            from_file("log_format = \"xml\"\n").unwrap_err(),
            from_env("IDMS_LOG_FORMAT", "xml").unwrap_err(),
            Config::layered(None, none(), &flags(&["--log-format", "xml"])).unwrap_err(),
        ];
        for (e, place) in errors.iter().zip(["idms.toml", "IDMS_LOG_FORMAT", "--log-format"]) {
            assert!(e.contains(place) && e.contains("`human`") && e.contains("`json`"), "{e}");
        }
        assert_eq!(from_env("IDMS_LOG_FORMAT", "json").unwrap().log_format, LogFormat::Json);
    }

    #[test]
    fn osdp_doors_decide_on_a_failing_log_unless_told_to_deny() {
        assert_eq!(Config::default().osdp_on_log_failure, OnLogFailure::Decide);
        assert_eq!(from_file("osdp_on_log_failure = \"deny\"\n").unwrap().osdp_on_log_failure, OnLogFailure::Deny);
        assert_eq!(from_env("IDMS_OSDP_ON_LOG_FAILURE", "deny").unwrap().osdp_on_log_failure, OnLogFailure::Deny);
        let e = from_file("osdp_on_log_failure = \"open\"\n").unwrap_err();
        assert!(e.contains("`decide`") && e.contains("`deny`"), "{e}");
    }

    #[test]
    fn a_secret_is_never_empty_nor_shown() {
        let c = from_env("IDMS_METRICS_TOKEN", "s3cret-scrape-token").unwrap();
        assert_eq!(c.metrics_token.as_ref().map(Secret::expose), Some("s3cret-scrape-token"));
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        assert!(from_env("IDMS_METRICS_TOKEN", " ").unwrap_err().contains("empty"));
        assert!(from_file("metrics_token = \"\"\n").unwrap_err().contains("empty"));
    }

    /// A directory password typed into the file by mistake is refused without
    /// being quoted back (the error goes to the terminal and the journal).
    #[test]
    fn a_password_written_into_the_directory_table_is_refused_unquoted() {
        let file = "[directory]\nurl = \"ldaps://dc1\"\nbind_dn = \"cn=x\"\nbind_password = \"Hunter2-Secret\"\n\
                    bind_password_file = \"/etc/idms/pw\"\nbase_dn = \"dc=x\"\nflavour = \"ad\"\n";
        let e = from_file(file).unwrap_err();
        assert!(e.contains("bind_password") && e.contains("line 4"), "{e}");
        assert!(!e.contains("Hunter2"), "the value is never quoted: {e}");
    }

    #[test]
    fn retention_defaults_to_a_year_and_is_never_zero() {
        assert_eq!(Config::default().events_retention_days, 365);
        let e = from_file("events_retention_days = 0\n").unwrap_err();
        assert!(e.contains("events_retention_days"), "{e}");
    }

    #[test]
    fn the_ui_time_zone_is_utc_by_default_and_must_be_in_the_time_zone_database() {
        assert_eq!(Config::default().ui_time_zone, "UTC");
        assert_eq!(from_env("IDMS_UI_TIME_ZONE", "Europe/Berlin").unwrap().ui_time_zone, "Europe/Berlin");
        let e = from_file("ui_time_zone = \"Nowhere/Atlantis\"\n").unwrap_err();
        assert!(e.contains("ui_time_zone"), "{e}");
    }

    /// The README's configuration block is the table, key for key.
    #[test]
    fn the_readme_documents_every_key_and_no_other() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let block = readme.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).unwrap();
        let documented: Vec<&str> = block
            .lines()
            .take_while(|l| !l.starts_with("[["))
            .filter_map(|l| l.trim_start_matches("# ").split_once(" = ").map(|(k, _)| k.trim()))
            .collect();
        let mut keys: Vec<&str> = KEYS.iter().filter(|k| k.reach != Reach::FileOnly).map(|k| k.name).collect();
        assert_eq!(documented, keys, "README.md's ```toml block, in the table's order");
        keys.extend(KEYS.iter().filter(|k| k.reach == Reach::FileOnly).map(|k| k.name));
        for k in &keys {
            let table = block.contains(&format!("[[{k}]]")) || block.contains(&format!("\n[{k}]"));
            assert!(table || documented.contains(k), "{k}");
        }
    }
}
