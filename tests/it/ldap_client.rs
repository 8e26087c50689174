//! Issue 17, the LDAP client against a real slapd (`slapd.rs`): paged
//! fetches past a server size limit, incremental fetches, one entry,
//! refused binds, unreachable servers, TLS and StartTLS.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use idms::directory::{self, DirEntry, Directory, DirectoryError, LdapConfig, Marker};

use crate::slapd::{self, LIMITED_DN, LIMITED_PW, Person, READER_DN, READER_PW, SIZE_LIMIT, Slapd, loaded_at};

fn by_id(entries: &[DirEntry], id: &str) -> DirEntry {
    entries.iter().find(|e| e.external_id == id).cloned().unwrap_or_else(|| panic!("no entry {id}"))
}

fn ids(entries: &[DirEntry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.external_id.clone()).collect()
}

#[test]
fn a_full_fetch_pages_past_the_size_limit_and_maps_every_field() {
    let s = Slapd::start(300);
    // The limit is real: a search without paging stops at 50 with sizeLimitExceeded (4).
    assert_eq!(s.unpaged_count(READER_DN, READER_PW), (SIZE_LIMIT, 4));

    for page_size in [40, 500] {
        let mut cfg = s.config();
        cfg.page_size = page_size;
        let f = directory::fetch(&cfg, None).unwrap();
        assert_eq!(f.entries.len(), 300, "page size {page_size}");
        assert!(!f.incremental);
        assert_eq!(f.skipped_no_id, 0);
        let all = f.all_ids.clone().unwrap();
        assert_eq!(all.len(), 300);
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 300, "300 distinct IDs");
        assert_eq!(ids(&f.entries), all.into_iter().collect());
        assert_eq!(f.marker, Some(Marker::Timestamp(loaded_at(299))), "the newest modifyTimestamp");
    }

    let f = directory::fetch(&s.config(), None).unwrap();
    for i in [0, 7, 15, 299] {
        let id = s.entry_uuid(i).unwrap();
        let e = by_id(&f.entries, &id);
        let p = Person::of(i);
        assert_eq!(e.given_name.as_deref(), Some(p.given.as_str()));
        assert_eq!(e.family_name.as_deref(), Some(p.family.as_str()));
        assert_eq!(e.email.as_deref(), Some(p.mail.as_str()));
        assert_eq!(e.phone.as_deref(), Some(p.phone.as_str()));
        assert_eq!(e.employee_no.as_deref(), Some(p.employee_no.as_str()));
        assert_eq!(e.department.as_deref(), Some(p.department.as_str()));
        assert_eq!(e.organization.as_deref(), Some("Example"));
        let groups: BTreeSet<_> = e.groups.iter().cloned().collect();
        assert_eq!(groups, p.groups.iter().cloned().collect::<BTreeSet<_>>(), "person {i}");
        assert!(!e.disabled);
    }
    assert_eq!(by_id(&f.entries, &s.entry_uuid(15).unwrap()).groups.len(), 2, "15: staff and night shift");
}

#[test]
fn an_incremental_fetch_returns_the_changed_entries_and_every_id() {
    let s = Slapd::start(300);
    let mut cfg = s.config();
    cfg.page_size = 40;
    let full = directory::fetch(&cfg, None).unwrap();
    let marker = full.marker.clone().unwrap();

    s.modify(10, "mail", "changed10@example.org");
    s.modify(20, "sn", "Renamed");
    s.modify(30, "departmentNumber", "D9");
    let inc = directory::fetch(&cfg, Some(&marker)).unwrap();
    assert!(inc.incremental);
    let changed: BTreeSet<String> = [10, 20, 30].iter().map(|i| s.entry_uuid(*i).unwrap()).collect();
    // And person 299, whose modifyTimestamp is the marker's second: `>=`, since an
    // entry changed later in that same second must not be missed (the engine
    // finds it unchanged).
    let last = s.entry_uuid(299).unwrap();
    let mut expected = changed.clone();
    expected.insert(last.clone());
    assert_eq!(ids(&inc.entries), expected, "the three modified entries and the marker's second");
    assert_eq!(by_id(&inc.entries, &last), by_id(&full.entries, &last), "unchanged");
    assert_eq!(by_id(&inc.entries, &s.entry_uuid(10).unwrap()).email.as_deref(), Some("changed10@example.org"));
    assert_eq!(by_id(&inc.entries, &s.entry_uuid(20).unwrap()).family_name.as_deref(), Some("Renamed"));
    assert_eq!(by_id(&inc.entries, &s.entry_uuid(30).unwrap()).department.as_deref(), Some("D9"));
    let all: BTreeSet<String> = inc.all_ids.clone().unwrap().into_iter().collect();
    assert_eq!(all, ids(&full.entries), "every ID, for vanish detection");
    let next = inc.marker.clone().unwrap();
    assert!(next > marker, "{next} after {marker}");

    // A deleted entry is missing from the IDs; a marker of the other kind means a full fetch.
    let gone = s.entry_uuid(5).unwrap();
    s.delete(5);
    let after = directory::fetch(&cfg, Some(&next)).unwrap();
    let all = after.all_ids.unwrap();
    assert_eq!(all.len(), 299);
    assert!(!all.contains(&gone));
    assert!(after.entries.len() <= 3, "at most the entries of the marker's second again: {}", after.entries.len());
    let mismatched = directory::fetch(&cfg, Some(&Marker::Usn(1))).unwrap();
    assert!(!mismatched.incremental);
    assert_eq!(mismatched.entries.len(), 299);
}

#[test]
fn fetch_streams_entries_to_a_callback() {
    let s = Slapd::start(120);
    let mut seen = 0;
    let summary = directory::fetch_each(&s.config(), None, |e| {
        assert!(!e.external_id.is_empty());
        seen += 1;
    })
    .unwrap();
    assert_eq!((seen, summary.entries), (120, 120));
    assert_eq!(summary.all_ids.unwrap().len(), 120);
}

#[test]
fn fetch_one_finds_one_entry_by_its_id() {
    let s = Slapd::start(300);
    let cfg = s.config();
    let id = s.entry_uuid(42).unwrap();
    let e = directory::fetch_one(&cfg, &id).unwrap().unwrap();
    assert_eq!(e.external_id, id);
    assert_eq!(e.employee_no.as_deref(), Some("E000042"));
    assert_eq!(directory::fetch_one(&cfg, "00000000-0000-0000-0000-000000000000").unwrap(), None);
    // A filter injected through the ID matches nothing (escaped).
    assert_eq!(directory::fetch_one(&cfg, "*").unwrap(), None);
    assert_eq!(directory::fetch_one(&cfg, "x)(uid=*").unwrap(), None);
    // One connection for several.
    let mut d = Directory::connect(&cfg).unwrap();
    assert_eq!(d.fetch_one(&s.entry_uuid(1).unwrap()).unwrap().unwrap().employee_no.as_deref(), Some("E000001"));
    assert_eq!(d.all_ids().unwrap().len(), 300);
    d.close();
}

fn assert_secret_absent(e: &DirectoryError, secret: &str) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(secret), "the password shows: {shown}");
}

#[test]
fn a_wrong_bind_password_is_bind_failed_and_the_password_shows_nowhere() {
    let s = Slapd::start(10);
    let mut cfg = s.config();
    let wrong = "Wrong-Password-Text-93b1";
    cfg.bind_password_file = s.password_file("wrong.pw", wrong);
    let e = directory::fetch(&cfg, None).unwrap_err();
    assert_eq!(e.code(), "directory_bind_failed", "{e}");
    assert!(e.to_string().contains("rc 49"), "{e}");
    assert_secret_absent(&e, wrong);
    assert_secret_absent(&e, READER_PW);
    let e = Directory::connect(&cfg).unwrap_err();
    assert_eq!(e.code(), "directory_bind_failed");
    assert_secret_absent(&e, wrong);

    // An empty password would be an anonymous bind that succeeds: refused before connecting.
    cfg.bind_password_file = s.password_file("empty.pw", "");
    assert_eq!(directory::fetch(&cfg, None).unwrap_err().code(), "directory_config");
    // A bind DN that does not exist is refused too.
    let mut cfg = s.config();
    cfg.bind_dn = "cn=nobody,dc=example,dc=org".into();
    let e = directory::fetch(&cfg, None).unwrap_err();
    assert_eq!(e.code(), "directory_bind_failed");
    assert_secret_absent(&e, READER_PW);
}

#[test]
fn an_unreachable_port_is_directory_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "Some-Secret-Value\n").unwrap();
    let cfg = LdapConfig::from_toml(&format!(
        "url = \"ldap://127.0.0.1:{port}\"\nstarttls = false\nbind_dn = \"cn=x\"\nbind_password_file = {:?}\n\
         base_dn = \"dc=example,dc=org\"\nflavour = \"inetorgperson\"\ntimeout_seconds = 5",
        pw.display().to_string()
    ))
    .unwrap();
    let t = Instant::now();
    let e = directory::fetch(&cfg, None).unwrap_err();
    assert_eq!(e.code(), "directory_unreachable", "{e}");
    assert_secret_absent(&e, "Some-Secret-Value");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(directory::fetch_one(&cfg, "x").unwrap_err().code(), "directory_unreachable");
}

#[test]
fn a_search_the_server_cuts_short_is_an_error_not_a_short_list() {
    let s = Slapd::start(300);
    let mut cfg = s.config();
    cfg.bind_dn = LIMITED_DN.into();
    cfg.bind_password_file = s.password_file("limited.pw", LIMITED_PW);
    cfg.page_size = 40;
    // cn=limited may page through 100 entries in all: the rest would look vanished.
    let e = directory::fetch(&cfg, None).unwrap_err();
    assert_eq!(e.code(), "directory_search_failed", "{e}");
    assert!(e.to_string().contains("sizeLimitExceeded"), "{e}");
    let mut cfg = s.config();
    cfg.base_dn = "ou=nowhere,dc=example,dc=org".into();
    let e = directory::fetch(&cfg, None).unwrap_err();
    assert_eq!(e.code(), "directory_search_failed", "{e}");
    assert!(e.to_string().contains("noSuchObject"), "{e}");
}

#[test]
fn ldaps_and_starttls_trust_the_configured_ca_only() {
    let s = Slapd::start_tls(20);
    let (ldaps, ca) = s.ldaps.clone().unwrap();

    let mut cfg = s.config();
    cfg.url = ldaps.clone();
    cfg.starttls = None;
    cfg.ca_file = Some(ca.clone());
    assert_eq!(directory::fetch(&cfg, None).unwrap().entries.len(), 20, "ldaps://");

    let mut start_tls = s.config();
    start_tls.url = format!("ldap://localhost:{}", s.port);
    start_tls.starttls = None; // the default for ldap://
    start_tls.ca_file = Some(ca);
    assert_eq!(directory::fetch(&start_tls, None).unwrap().entries.len(), 20, "StartTLS");

    // A certificate from another CA is refused, on both.
    let other = s.dir().join("other-ca.pem");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let stranger = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    std::fs::write(&other, stranger.pem()).unwrap();
    for mut c in [cfg.clone(), start_tls.clone()] {
        c.ca_file = Some(other.clone());
        let e = directory::fetch(&c, None).unwrap_err();
        assert_eq!(e.code(), "directory_tls", "{}: {e}", c.url);
        assert_secret_absent(&e, READER_PW);
    }
    // The name must match: 127.0.0.1 is not in the certificate.
    let mut by_ip = cfg.clone();
    by_ip.url = ldaps.replace("localhost", "127.0.0.1");
    assert_eq!(directory::fetch(&by_ip, None).unwrap_err().code(), "directory_tls");
    // A CA file that is not PEM is a configuration error.
    let mut garbage = cfg;
    garbage.ca_file = Some(s.password_file("garbage.pem", "not a certificate"));
    assert_eq!(directory::fetch(&garbage, None).unwrap_err().code(), "directory_config");
}

#[test]
fn starttls_against_a_server_without_tls_is_refused_not_downgraded() {
    let s = Slapd::start(5);
    let mut cfg = s.config();
    cfg.starttls = Some(true);
    let e = directory::fetch(&cfg, None).unwrap_err();
    assert_eq!(e.code(), "directory_tls", "{e}");
}

#[test]
fn slapd_is_stopped_when_dropped() {
    let mut s = Slapd::start(1);
    assert!(s.running());
    let port = s.port;
    let dir = s.dir().to_path_buf();
    drop(s);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens any more");
    assert!(!dir.exists(), "its files are gone");
    let _ = slapd::SUFFIX;
}
