//! A real OpenLDAP `slapd` (Debian's `slapd` package; `make deps` installs it
//! with `ldap-utils`) for the directory tests and the `ldap` benchmark:
//! started unprivileged on a free loopback port from a temporary
//! `slapd.conf` (mdb backend, suffix `dc=example,dc=org`), its people loaded
//! with `slapadd` before the start (100,000 in seconds), stopped and removed
//! on drop. The machine's own slapd (the package's service) is never used.
//!
//! What the directory looks like:
//! - `ou=people`: N `inetOrgPerson` entries `uid=pNNNNNN` with the values of
//!   [`Person`]; person i's `modifyTimestamp` is 2000-01-01 00:00:00 plus i
//!   seconds ([`loaded_at`]), so anything modified during a test is newer,
//!   without waiting, and only the last person shares the second of the
//!   marker a full fetch ends with (an incremental fetch asks for
//!   `modifyTimestamp>=` that second: see `directory::Marker`).
//! - `ou=groups`: `cn=staff` (`groupOfNames`, every third person) and
//!   `cn=night shift` (every fifth); the people carry the matching `memberOf`
//!   values. Groups come from `memberOf`: slapd computes it with the
//!   `memberof` overlay (loaded here, so a change made through LDAP keeps it
//!   current); `slapadd` bypasses overlays, so the loaded entries carry it
//!   written out.
//! - Size limit 50 for everyone but the rootdn (`size.prtotal=unlimited`: a
//!   paged search may return them all); `cn=limited` also has
//!   `size.prtotal=100`, a server that cuts a paged search short.
//! - [`READER_DN`] reads everything (the service account); the rootdn
//!   writes (the helpers below).
//!
//! With [`Slapd::start_tls`] it also listens on `ldaps://` with a
//! certificate for `localhost` signed by a CA made for the run.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use idms::directory::{Flavour, LdapConfig};
use ldap3::{LdapConn, Mod, Scope, SearchEntry};

pub const SLAPD: &str = "/usr/sbin/slapd";
pub const SLAPADD: &str = "/usr/sbin/slapadd";
pub const SUFFIX: &str = "dc=example,dc=org";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
pub const ROOT_PW: &str = "root-pw-not-for-the-service";
pub const READER_DN: &str = "cn=idms-sync,dc=example,dc=org";
pub const READER_PW: &str = "Reader-Secret-7f3a9c";
pub const LIMITED_DN: &str = "cn=limited,dc=example,dc=org";
pub const LIMITED_PW: &str = "Limited-Secret-51e0";
/// The server's size limit for non-paged searches.
pub const SIZE_LIMIT: usize = 50;
/// `modifyTimestamp` of loaded person `i`: 2000-01-01T00:00:00Z plus `i` seconds.
pub fn loaded_at(i: usize) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(946_684_800 + i as i64).unwrap();
    format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// A running slapd; stopped (and its files removed) on drop.
pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    /// `ldap://127.0.0.1:PORT`.
    pub url: String,
    /// With TLS: `ldaps://localhost:PORT` and the CA's PEM file.
    pub ldaps: Option<(String, PathBuf)>,
    pub people: usize,
}

/// What person `i` looks like in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub uid: String,
    pub given: String,
    pub family: String,
    pub mail: String,
    pub phone: String,
    pub employee_no: String,
    pub department: String,
    pub groups: Vec<String>,
}

impl Person {
    pub fn of(i: usize) -> Self {
        let mut groups = Vec::new();
        if i.is_multiple_of(3) {
            groups.push("staff".to_owned());
        }
        if i.is_multiple_of(5) {
            groups.push("night shift".to_owned());
        }
        Self {
            uid: format!("p{i:06}"),
            given: format!("Given{i}"),
            family: format!("Family{i}"),
            mail: format!("p{i:06}@example.org"),
            phone: format!("+41 44 {:03} {:02} {:02}", i / 10_000 % 1000, i / 100 % 100, i % 100),
            employee_no: format!("E{i:06}"),
            department: format!("D{}", i % 10),
            groups,
        }
    }
}

pub fn person_dn(i: usize) -> String {
    format!("uid=p{i:06},{PEOPLE}")
}

fn group_dn(cn: &str) -> String {
    format!("cn={cn},ou=groups,{SUFFIX}")
}

fn person_ldif(out: &mut String, i: usize, operational: bool) {
    let p = Person::of(i);
    let _ = write!(
        out,
        "dn: {}\nobjectClass: inetOrgPerson\nuid: {}\ncn: {} {}\ngivenName: {}\nsn: {}\nmail: {}\n\
         telephoneNumber: {}\nemployeeNumber: {}\ndepartmentNumber: {}\no: Example\n",
        person_dn(i),
        p.uid,
        p.given,
        p.family,
        p.given,
        p.family,
        p.mail,
        p.phone,
        p.employee_no,
        p.department,
    );
    if operational {
        for g in &p.groups {
            let _ = writeln!(out, "memberOf: {}", group_dn(g));
        }
        let at = loaded_at(i);
        let _ = writeln!(out, "createTimestamp: {at}\nmodifyTimestamp: {at}");
    }
    out.push('\n');
}

/// The LDIF `slapadd` loads: the tree, the service accounts, N people, the groups.
pub fn ldif(people: usize) -> String {
    let mut out = String::with_capacity(people * 400 + 4096);
    let _ = write!(
        out,
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {READER_DN}\nobjectClass: person\ncn: idms-sync\nsn: service\nuserPassword: {READER_PW}\n\n\
         dn: {LIMITED_DN}\nobjectClass: person\ncn: limited\nsn: service\nuserPassword: {LIMITED_PW}\n\n"
    );
    for i in 0..people {
        person_ldif(&mut out, i, true);
    }
    for (cn, every) in [("staff", 3), ("night shift", 5)] {
        let _ = write!(out, "dn: {}\nobjectClass: groupOfNames\ncn: {cn}\n", group_dn(cn));
        // groupOfNames needs a member; the reader stands in when there are no people.
        let _ = writeln!(out, "member: {READER_DN}");
        for i in (0..people).step_by(every) {
            let _ = writeln!(out, "member: {}", person_dn(i));
        }
        out.push('\n');
    }
    out
}

fn slapd_conf(dir: &Path, tls: Option<(&Path, &Path)>) -> String {
    let d = dir.display();
    let tls = tls
        .map(|(cert, key)| format!("TLSCertificateFile {}\nTLSCertificateKeyFile {}\n", cert.display(), key.display()))
        .unwrap_or_default();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
{tls}sizelimit size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited

database mdb
maxsize 4294967296
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PW}
directory {d}/db
index objectClass eq
index entryUUID eq
index uid eq
limits dn.exact=\"{LIMITED_DN}\" size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=100
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"
    )
}

/// A CA and a `localhost` certificate it signs: (CA PEM, cert PEM, key PEM).
fn pki() -> (String, String, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Slapd {
    /// slapd with `people` people, plain `ldap://` only.
    pub fn start(people: usize) -> Self {
        Self::launch(people, false)
    }

    /// slapd with `people` people, on `ldap://` (StartTLS offered) and `ldaps://`.
    pub fn start_tls(people: usize) -> Self {
        Self::launch(people, true)
    }

    fn launch(people: usize, tls: bool) -> Self {
        for bin in [SLAPD, SLAPADD] {
            assert!(Path::new(bin).exists(), "{bin} is missing: the directory tests need Debian's slapd (`make deps`)");
        }
        let dir = tempfile::Builder::new().prefix("idms-slapd-").tempdir().unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        let tls_files = tls.then(|| {
            let (ca, cert, key) = pki();
            for (name, pem) in [("ca.pem", &ca), ("cert.pem", &cert), ("key.pem", &key)] {
                std::fs::write(dir.path().join(name), pem).unwrap();
            }
            (dir.path().join("cert.pem"), dir.path().join("key.pem"))
        });
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, slapd_conf(dir.path(), tls_files.as_ref().map(|(c, k)| (c.as_path(), k.as_path()))))
            .unwrap();
        let data = dir.path().join("data.ldif");
        std::fs::write(&data, ldif(people)).unwrap();
        // -q: no consistency checks (the LDIF is ours), much faster for 100,000.
        let out = Command::new(SLAPADD).arg("-q").arg("-f").arg(&conf).arg("-l").arg(&data).output().unwrap();
        assert!(out.status.success(), "slapadd: {}", String::from_utf8_lossy(&out.stderr));
        let _ = std::fs::remove_file(&data);

        for _attempt in 0..5 {
            let port = free_port();
            let tls_port = tls.then(free_port);
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if let Some(p) = tls_port {
                urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
            }
            let log = std::fs::File::create(dir.path().join("slapd.log")).unwrap();
            // -d 0: stays in the foreground (a child this process can stop), logs nothing but errors.
            let mut child = Command::new(SLAPD)
                .arg("-f")
                .arg(&conf)
                .args(["-h", &urls, "-d", "0"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            if wait_listening(&mut child, &[Some(port), tls_port].into_iter().flatten().collect::<Vec<_>>()) {
                let ldaps = tls_port.map(|p| (format!("ldaps://localhost:{p}"), dir.path().join("ca.pem")));
                return Self { child, dir, port, url: format!("ldap://127.0.0.1:{port}"), ldaps, people };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("slapd.log")).unwrap_or_default();
        panic!("slapd did not start: {log}");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A password file holding `password` and a newline, as an admin writes it.
    pub fn password_file(&self, name: &str, password: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("{password}\n")).unwrap();
        p
    }

    /// The service's `[directory]`: inetOrgPerson, plain ldap://, bound as [`READER_DN`].
    pub fn config(&self) -> LdapConfig {
        LdapConfig {
            url: self.url.clone(),
            starttls: Some(false),
            bind_dn: READER_DN.into(),
            bind_password_file: self.password_file("reader.pw", READER_PW),
            base_dn: PEOPLE.into(),
            filter: None,
            flavour: Flavour::Inetorgperson,
            attributes: Default::default(),
            interval_minutes: 60,
            on_vanish: Default::default(),
            delete_after_days: None,
            page_size: 500,
            timeout_seconds: 10,
            ca_file: None,
            org_units: Default::default(),
        }
    }

    /// Bound as the rootdn (no size limit, may write).
    pub fn admin(&self) -> LdapConn {
        let mut c = LdapConn::new(&self.url).unwrap();
        c.simple_bind(ROOT_DN, ROOT_PW).unwrap().success().unwrap();
        c
    }

    /// Replaces `attr` of person `i` with `value`.
    pub fn modify(&self, i: usize, attr: &str, value: &str) {
        let mut c = self.admin();
        c.modify(&person_dn(i), vec![Mod::Replace(attr, HashSet::from([value]))]).unwrap().success().unwrap();
        let _ = c.unbind();
    }

    /// Sets `attr` of each person in `who` to `value(i)`, on one connection.
    pub fn modify_many(&self, who: impl IntoIterator<Item = usize>, attr: &str, value: impl Fn(usize) -> String) {
        let mut c = self.admin();
        for i in who {
            let v = value(i);
            c.modify(&person_dn(i), vec![Mod::Replace(attr, HashSet::from([v.as_str()]))]).unwrap().success().unwrap();
        }
        let _ = c.unbind();
    }

    /// Removes person `i`.
    pub fn delete(&self, i: usize) {
        let mut c = self.admin();
        c.delete(&person_dn(i)).unwrap().success().unwrap();
        let _ = c.unbind();
    }

    /// Adds person `i` (through LDAP: a fresh `entryUUID`, `modifyTimestamp` now).
    pub fn add(&self, i: usize) {
        let p = Person::of(i);
        let cn = format!("{} {}", p.given, p.family);
        let attrs: Vec<(&str, HashSet<&str>)> = vec![
            ("objectClass", HashSet::from(["inetOrgPerson"])),
            ("uid", HashSet::from([p.uid.as_str()])),
            ("cn", HashSet::from([cn.as_str()])),
            ("givenName", HashSet::from([p.given.as_str()])),
            ("sn", HashSet::from([p.family.as_str()])),
            ("mail", HashSet::from([p.mail.as_str()])),
            ("employeeNumber", HashSet::from([p.employee_no.as_str()])),
            ("departmentNumber", HashSet::from([p.department.as_str()])),
        ];
        let mut c = self.admin();
        c.add(&person_dn(i), attrs).unwrap().success().unwrap();
        let _ = c.unbind();
    }

    /// Person `i`'s `entryUUID` (their external ID), or `None` when absent.
    pub fn entry_uuid(&self, i: usize) -> Option<String> {
        let mut c = self.admin();
        let (entries, _) =
            c.search(&person_dn(i), Scope::Base, "(objectClass=*)", vec!["entryUUID"]).unwrap().non_error().unwrap();
        let _ = c.unbind();
        entries.into_iter().next().and_then(|e| SearchEntry::construct(e).attrs.remove("entryUUID")?.pop())
    }

    /// How many entries a plain (non-paged) search as `dn` returns, and its result code.
    pub fn unpaged_count(&self, dn: &str, pw: &str) -> (usize, u32) {
        let mut c = LdapConn::new(&self.url).unwrap();
        c.simple_bind(dn, pw).unwrap().success().unwrap();
        let r = c.search(PEOPLE, Scope::Subtree, "(objectClass=inetOrgPerson)", vec!["uid"]).unwrap();
        let _ = c.unbind();
        (r.0.len(), r.1.rc)
    }

    /// Whether slapd is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Waits until every port accepts (or the child exited: a port taken).
fn wait_listening(child: &mut Child, ports: &[u16]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if ports.iter().all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok()) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // SIGTERM lets slapd close the database; SIGKILL if it does not stop within 5 s.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
