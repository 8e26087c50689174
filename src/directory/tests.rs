use super::*;

const MINIMAL: &str = r#"
url = "ldaps://dc1.corp.example"
bind_dn = "CN=idms,OU=Service,DC=corp,DC=example"
bind_password_file = "/etc/idms/ldap-password"
base_dn = "OU=Staff,DC=corp,DC=example"
flavour = "ad"
"#;

fn cfg(extra: &str) -> Result<LdapConfig, DirectoryError> {
    LdapConfig::from_toml(&format!("{MINIMAL}{extra}"))
}

fn config_error(extra: &str) -> String {
    match cfg(extra) {
        Err(DirectoryError::Config(m)) => m,
        other => panic!("expected a directory_config error, got {other:?}"),
    }
}

#[test]
fn guid_bytes_print_as_the_canonical_guid_and_back() {
    // Bytes as AD stores {12345678-1234-5678-1234-56789abcdef0}: the first three fields little-endian.
    let b = [0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
    assert_eq!(guid_string(&b).as_deref(), Some("12345678-1234-5678-1234-56789abcdef0"));
    assert_eq!(guid_bytes("12345678-1234-5678-1234-56789ABCDEF0"), Some(b), "either case");
    assert_eq!(guid_bytes("{12345678-1234-5678-1234-56789abcdef0}"), Some(b), "braces as .NET prints them");
    assert_eq!(guid_string(&b[..15]), None, "15 bytes are not a GUID");
    assert_eq!(guid_bytes("12345678-1234-5678-1234-56789abcdef"), None);
    assert_eq!(guid_bytes("1234567g-1234-5678-1234-56789abcdef0"), None);
    assert_eq!(guid_bytes(")(uid=*"), None);
}

#[test]
fn a_guid_filter_escapes_every_byte() {
    let b = guid_bytes("12345678-1234-5678-1234-56789abcdef0").unwrap();
    assert_eq!(
        binary_filter("objectGUID", &b),
        "(objectGUID=\\78\\56\\34\\12\\34\\12\\78\\56\\12\\34\\56\\78\\9a\\bc\\de\\f0)"
    );
    assert!(::ldap3::parse_filter(binary_filter("objectGUID", &b)).is_ok());
}

#[test]
fn user_account_control_bit_2_is_disabled() {
    assert!(uac_disabled("514"), "NORMAL_ACCOUNT | ACCOUNTDISABLE");
    assert!(uac_disabled("2"));
    assert!(uac_disabled("66050"), "DONT_EXPIRE_PASSWORD | NORMAL_ACCOUNT | ACCOUNTDISABLE");
    assert!(!uac_disabled("512"));
    assert!(!uac_disabled("66048"));
    assert!(!uac_disabled("enabled"), "not a number: not taken as disabled");
    assert!(uac_disabled("-2147483134"), "AD writes it signed: 0x80000202");
    assert!(truthy("TRUE") && truthy("yes") && truthy("1") && !truthy("FALSE") && !truthy(""));
}

#[test]
fn member_of_gives_the_group_cn() {
    assert_eq!(first_rdn_value("CN=Badge Office,OU=Groups,DC=corp,DC=example").as_deref(), Some("Badge Office"));
    assert_eq!(first_rdn_value("cn=staff,ou=groups,dc=example,dc=org").as_deref(), Some("staff"));
    assert_eq!(first_rdn_value("CN=Smith\\, John,OU=G").as_deref(), Some("Smith, John"), "escaped comma");
    assert_eq!(first_rdn_value("CN=a\\2Cb,OU=G").as_deref(), Some("a,b"), "hex escape");
    assert_eq!(first_rdn_value("CN=M\\C3\\BCller,OU=G").as_deref(), Some("Müller"), "UTF-8 in hex escapes");
    assert_eq!(first_rdn_value("cn=a+uid=b,dc=x").as_deref(), Some("a"), "multi-valued RDN");
    assert_eq!(first_rdn_value("no equals sign"), None);
    assert_eq!(first_rdn_value("CN=,OU=G"), None, "empty value");
}

#[test]
fn ad_defaults() {
    let c = cfg("").unwrap();
    assert_eq!(c.interval_minutes, 60);
    assert_eq!(c.page_size, 500);
    assert_eq!(c.timeout_seconds, 30);
    assert_eq!(c.on_vanish, VanishAction::Suspend);
    assert_eq!(c.delete_after_days(), None);
    assert_eq!(c.transport(), Transport::Ldaps);
    assert_eq!(c.effective_filter(), "(&(objectCategory=person)(objectClass=user))");
    assert_eq!(c.host_port().unwrap(), ("dc1.corp.example".to_owned(), 636));
    let m = c.mapping();
    assert_eq!(m.id, "objectGUID");
    assert_eq!(m.employee_no, ["employeeID", "employeeNumber"]);
    assert_eq!(m.department, ["department"]);
    assert_eq!(m.organization, ["company"]);
    assert_eq!(m.disabled, ["userAccountControl"]);
    assert_eq!(m.marker, "uSNChanged");
    assert!(m.id_is_guid() && m.marker_is_usn());
}

#[test]
fn inetorgperson_defaults_and_overrides() {
    let c = LdapConfig::from_toml(
        r#"
url = "ldap://ldap.example.org:3389"
bind_dn = "cn=sync,dc=example,dc=org"
bind_password_file = "pw"
base_dn = "dc=example,dc=org"
flavour = "inetorgperson"
on_vanish = "delete"
[attributes]
email = ["mail", "mailAlternateAddress"]
disabled = "nsAccountLock"
[org_units]
"D1" = "Facilities"
"#,
    )
    .unwrap();
    assert_eq!(c.transport(), Transport::StartTls, "ldap:// is StartTLS unless starttls = false");
    assert_eq!(c.host_port().unwrap(), ("ldap.example.org".to_owned(), 3389));
    assert_eq!(c.effective_filter(), "(objectClass=inetOrgPerson)");
    assert_eq!(c.delete_after_days(), Some(DEFAULT_DELETE_AFTER_DAYS));
    assert_eq!(c.org_unit("D1"), Some("Facilities"));
    assert_eq!(c.org_unit("D2"), None);
    let m = c.mapping();
    assert_eq!(m.id, "entryUUID");
    assert_eq!(m.department, ["departmentNumber", "ou"]);
    assert_eq!(m.employee_no, ["employeeNumber"]);
    assert_eq!(m.organization, ["o"]);
    assert_eq!(m.email, ["mail", "mailAlternateAddress"], "an override replaces the default");
    assert_eq!(m.disabled, ["nsAccountLock"]);
    assert_eq!(m.marker, "modifyTimestamp");
    assert!(!m.id_is_guid() && !m.marker_is_usn());
    let req = m.requested();
    assert!(
        req.contains(&"entryUUID".to_owned()) && req.contains(&"modifyTimestamp".to_owned()),
        "operational attributes named"
    );
    assert_eq!(
        req.len(),
        req.iter().map(|a| a.to_ascii_lowercase()).collect::<std::collections::BTreeSet<_>>().len(),
        "each once"
    );
}

#[test]
fn plain_ldap_only_when_asked_and_a_filter_gets_its_parentheses() {
    let c = cfg("starttls = false\nfilter = \"objectClass=person\"").map(|mut c| {
        c.url = "ldap://127.0.0.1:3890/".into();
        c
    });
    let c = c.unwrap();
    assert_eq!(c.transport(), Transport::Plain);
    assert_eq!(c.host_port().unwrap(), ("127.0.0.1".to_owned(), 3890));
    assert_eq!(c.effective_filter(), "(objectClass=person)");
}

#[test]
fn parse_errors_name_the_key() {
    assert!(config_error("colour = \"blue\"").contains("colour"), "unknown key");
    assert!(config_error("[attributes]\nnickname = \"x\"").contains("nickname"), "unknown attribute field");
    assert!(config_error("flavour2 = 1").contains("flavour2"));
    assert!(config_error("on_vanish = \"explode\"").contains("explode"));
    assert!(config_error("filter = \"(&(a=b)\"").starts_with("filter"));
    assert!(config_error("starttls = true").starts_with("starttls"), "StartTLS on ldaps://");
    assert!(config_error("page_size = 0").starts_with("page_size"));
    assert!(config_error("interval_minutes = 0").starts_with("interval_minutes"));
    assert!(config_error("timeout_seconds = 0").starts_with("timeout_seconds"));
    assert!(config_error("delete_after_days = 7").starts_with("delete_after_days"), "only with on_vanish = delete");
    assert!(config_error("[attributes]\nemail = \"ma il\"").contains("ma il"));
    let bad_flavour = LdapConfig::from_toml(&MINIMAL.replace("\"ad\"", "\"novell\"")).unwrap_err();
    assert!(bad_flavour.to_string().contains("novell"), "{bad_flavour}");
    for url in ["http://dc1", "ldap://", "ldaps://:636", "ldap://dc1:x", "ldap://dc1/dc=x", "ldap://u@dc1"] {
        let e = LdapConfig::from_toml(&MINIMAL.replace("ldaps://dc1.corp.example", url)).unwrap_err();
        assert_eq!(e.code(), "directory_config", "{url}");
        assert!(e.to_string().contains("url"), "{url}: {e}");
    }
    let v6 = LdapConfig::from_toml(&MINIMAL.replace("ldaps://dc1.corp.example", "ldaps://[::1]:1636")).unwrap();
    assert_eq!(v6.host_port().unwrap(), ("::1".to_owned(), 1636));
    let missing = LdapConfig::from_toml("url = \"ldaps://x\"").unwrap_err();
    assert!(missing.to_string().contains("missing field"), "{missing}");
}

#[test]
fn the_password_file_loses_one_trailing_newline_and_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pw");
    for (content, want) in
        [("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"), ("s3cret\n\n", "s3cret\n"), (" s p ", " s p ")]
    {
        std::fs::write(&p, content).unwrap();
        let pw = read_password(&p).unwrap();
        assert_eq!(pw.expose(), want, "{content:?}");
        assert_eq!(format!("{pw:?}"), "***");
    }
    std::fs::write(&p, "\n").unwrap();
    let e = read_password(&p).unwrap_err();
    assert_eq!(e.code(), "directory_config", "an empty password would be an anonymous bind");
    let e = read_password(&dir.path().join("absent")).unwrap_err();
    assert_eq!(e.code(), "directory_config");
    std::fs::write(&p, "hunter2-secret\n").unwrap();
    let pw = read_password(&p).unwrap();
    assert_eq!(pw.scrub("bind as x with hunter2-secret failed"), "bind as x with *** failed");
}

#[test]
fn a_dir_entry_debug_shows_the_id_only() {
    let e = DirEntry {
        external_id: "id-1".into(),
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        email: Some("ada@example.org".into()),
        groups: vec!["Staff".into()],
        ..DirEntry::default()
    };
    let d = format!("{e:?}");
    assert!(d.contains("id-1"));
    for personal in ["Ada", "Lovelace", "ada@example.org", "Staff"] {
        assert!(!d.contains(personal), "{d}");
    }
}

#[test]
fn markers_round_trip_as_text_and_order() {
    for text in ["usn:12345", "ts:20261202045349Z"] {
        assert_eq!(text.parse::<Marker>().unwrap().to_string(), text);
    }
    assert_eq!(Marker::from_generalized_time("20261202045349.0Z"), Some(Marker::Timestamp("20261202045349Z".into())));
    assert_eq!(Marker::from_generalized_time("20261202045349+0100"), None, "UTC only");
    assert_eq!(Marker::from_generalized_time("2026"), None);
    assert!("ts:garbage".parse::<Marker>().is_err());
    assert!("usn:-1".parse::<Marker>().is_err());
    assert!(Marker::Timestamp("20261202045349Z".into()) < Marker::Timestamp("20261202045350Z".into()));
    assert_eq!(Marker::Usn(41).filter_term("uSNChanged"), "(uSNChanged>=42)");
    assert_eq!(
        Marker::Timestamp("20261202045349Z".into()).filter_term("modifyTimestamp"),
        "(modifyTimestamp>=20261202045349Z)"
    );
}

#[test]
fn error_codes_are_stable() {
    let all = [
        DirectoryError::Unreachable(String::new()),
        DirectoryError::BindFailed(String::new()),
        DirectoryError::Tls(String::new()),
        DirectoryError::SearchFailed(String::new()),
        DirectoryError::Config(String::new()),
    ];
    let codes: Vec<_> = all.iter().map(DirectoryError::code).collect();
    assert_eq!(
        codes,
        [
            "directory_unreachable",
            "directory_bind_failed",
            "directory_tls",
            "directory_search_failed",
            "directory_config"
        ]
    );
    for e in &all {
        assert!(e.to_string().starts_with(e.code()));
    }
}
