//! The API's JSON contract (`idms::api::dto`): what clients already parse
//! stays the same byte for byte, and store and reader types stay out of it.

use ::time::Date;
use idms::api::dto;
use idms::domain::purge::Criteria;
use idms::domain::{CredentialState, Holds, Technology, Timestamp, Uid, UserId, UserState};
use idms::readers::osdp::RawRead;
use idms::readers::{CardType, ReaderEvent, ReaderEventKind, ReaderInfo, ReaderKind, ReaderStatus};
use idms::store::audit::AuditHead;
use idms::store::auth::{ControllerRecord, OperatorRecord, TokenRecord, TokenState};
use idms::store::records::{DirectoryLink, DirectorySource};
use idms::store::{
    AuditEntry, AuditReport, BadEntry, BindingRecord, CredentialRecord, CredentialSummary, EraseReport, Feed,
    FeedEntry, FeedKey, FeedKind, HeldBinding, HeldCredential, JobState, NotErased, Operator, PurgeJob, PurgeOutcome,
    PurgePlan, Role, Skipped, Stats, Twin, UserRecord, UserSummary,
};

fn uid(hex: &str) -> Uid {
    Uid::parse_any(hex).unwrap()
}

fn uid_of(s: &str) -> UserId {
    s.parse().unwrap()
}

fn user() -> UserRecord {
    UserRecord {
        id: uid_of("00000000001Z"),
        state: UserState::Active,
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        email: Some("ada@example.org".into()),
        phone: None,
        employee_no: Some("E-1".into()),
        notes: None,
        org_unit: Some("lab".into()),
        directory_linked: true,
        legal_hold: false,
        valid_from: Some(Timestamp(1_700_000_000)),
        valid_to: None,
        purge_date: Some(Date::from_calendar_date(2027, time::Month::June, 30).unwrap()),
        record_type: Some("staff".into()),
        group: None,
        balance: 1250,
        unreturned_items: 2,
        created_at: Timestamp(1_700_000_000),
        updated_at: Timestamp(1_700_000_100),
        deleted_at: None,
        expunged_at: None,
        expunged_by: None,
        credentials: vec![HeldCredential {
            technology: Technology::Iso14443a,
            uid: uid("04A1B2C3"),
            state: CredentialState::Issued,
        }],
        history: vec![HeldBinding {
            technology: Technology::Em4100,
            uid: uid("0102030405"),
            opened_at: Timestamp(1_600_000_000),
            closed_at: Some(Timestamp(1_650_000_000)),
            close_reason: Some("lost".into()),
        }],
        holds: Holds::default(),
        directory: Some(DirectoryLink {
            external_id: Some("8d1f0c5e-entra".into()),
            source: DirectorySource::Scim,
            gone_at: None,
            vanished_at: None,
        }),
        user_name: Some("ada@example.org".into()),
        revision: 3,
        directory_groups: vec!["Engineering".into()],
    }
}

fn tombstone() -> UserRecord {
    UserRecord {
        state: UserState::Expunged,
        given_name: None,
        family_name: None,
        email: None,
        employee_no: None,
        directory_linked: false,
        valid_from: None,
        purge_date: None,
        record_type: None,
        balance: 0,
        unreturned_items: 0,
        deleted_at: Some(Timestamp(1_700_000_200)),
        expunged_at: Some(Timestamp(1_700_000_300)),
        expunged_by: Some("operator:1".into()),
        credentials: vec![],
        directory: None,
        user_name: None,
        directory_groups: vec![],
        ..user()
    }
}

fn summary() -> UserSummary {
    UserSummary {
        id: uid_of("00000000001Z"),
        state: UserState::Deleted,
        family_name: Some("Lovelace".into()),
        given_name: None,
        email: None,
        employee_no: Some("E-1".into()),
        org_unit: None,
        deleted_at: Some(Timestamp(1_700_000_200)),
    }
}

fn credential() -> CredentialRecord {
    CredentialRecord {
        technology: Technology::Iso14443a,
        uid: uid("04A1B2C3"),
        state: CredentialState::Issued,
        holder: Some(uid_of("00000000001Z")),
        holder_state: Some(UserState::Suspended),
        created_at: Timestamp(1_600_000_000),
        updated_at: Timestamp(1_600_000_500),
        bindings: vec![BindingRecord {
            user_id: uid_of("00000000001Z"),
            opened_at: Timestamp(1_600_000_000),
            opened_by: "cli".into(),
            closed_at: None,
            close_reason: None,
        }],
    }
}

fn card_summary() -> CredentialSummary {
    CredentialSummary {
        technology: Technology::Other,
        uid: uid("0A0B"),
        state: CredentialState::InStock,
        holder: None,
        updated_at: Timestamp(1_600_000_000),
    }
}

fn twin() -> Twin {
    Twin {
        technology: Technology::Em4100,
        uid: uid("0102030405"),
        state: CredentialState::Issued,
        holder: uid_of("00000000001Z"),
        holder_state: UserState::Active,
    }
}

fn audit_entry() -> AuditEntry {
    AuditEntry {
        seq: 7,
        at: Timestamp(1_700_000_000),
        actor: "operator:1".into(),
        action: "user.create".into(),
        target_user: Some(uid_of("00000000001Z")),
        target_credential: None,
        outcome: "ok".into(),
        detail: "org_unit=lab".into(),
    }
}

fn audit_report() -> AuditReport {
    AuditReport {
        entries: 9,
        first_bad: Some(BadEntry { seq: 4, problem: "hash_mismatch" }),
        head: Some(AuditHead { seq: 3, hash: "ab".repeat(32) }),
    }
}

fn stats() -> Stats {
    let mut s = Stats::default();
    s.users.insert("active", 3);
    s.users.insert("expunged", 1);
    s.credentials.insert("issued", 2);
    s
}

fn job() -> PurgeJob {
    PurgeJob {
        id: 5,
        state: JobState::Running,
        criteria: Criteria {
            grace_days: 30,
            record_type: Some("visitor".into()),
            group: None,
            org_unit: Some("lab".into()),
            waive_threshold: 250,
            only_deleted: true,
        },
        today: Date::from_calendar_date(2026, time::Month::January, 2).unwrap(),
        selected: 4,
        skipped: 1,
        done: 2,
        expunged: 1,
        created_by: "operator:2".into(),
        created_at: Timestamp(1_700_000_000),
        started_at: Some(Timestamp(1_700_000_010)),
        completed_at: None,
    }
}

fn outcome() -> PurgeOutcome {
    PurgeOutcome {
        user_id: uid_of("00000000001Z"),
        selected: true,
        outcome: "skipped",
        reasons: vec!["legal_hold".into()],
        at: Some(Timestamp(1_700_000_020)),
    }
}

fn plan() -> PurgePlan {
    PurgePlan {
        today: Date::from_calendar_date(2026, time::Month::January, 2).unwrap(),
        selected: vec![uid_of("00000000001Z")],
        skipped: vec![Skipped { user_id: uid_of("000000000020"), reasons: vec!["legal_hold", "unreturned_items"] }],
    }
}

fn erase_report() -> EraseReport {
    EraseReport {
        erased: vec![uid_of("00000000001Z")],
        not_erased: vec![NotErased {
            user_id: uid_of("000000000020"),
            code: "legal_hold",
            message: "user 000000000020 is under legal hold".into(),
        }],
    }
}

fn operator() -> Operator {
    Operator { id: 2, name: "alice".into(), role: Role::Eraser, org_unit: None }
}

fn operator_record() -> OperatorRecord {
    OperatorRecord {
        id: 2,
        name: "alice".into(),
        role: Role::Manager,
        org_unit: Some("lab".into()),
        password: true,
        created_at: Timestamp(1_700_000_000),
        disabled_at: None,
    }
}

fn controller_record() -> ControllerRecord {
    ControllerRecord {
        id: 3,
        name: "front".into(),
        doors: vec!["main".into(), "side".into()],
        created_at: Timestamp(1_700_000_000),
        disabled_at: Some(Timestamp(1_700_000_500)),
    }
}

fn token_record() -> TokenRecord {
    TokenRecord {
        id: 11,
        operator_id: None,
        controller_id: Some(3),
        owner: "front".into(),
        label: "controller".into(),
        created_at: Timestamp(1_700_000_000),
        expires_at: None,
        revoked_at: Some(Timestamp(1_700_000_100)),
        state: TokenState::OwnerDisabled,
    }
}

fn feed() -> Feed {
    Feed {
        kind: FeedKind::Delta,
        page: 1,
        more: false,
        cursor: "12-abcdef".into(),
        entries: vec![FeedEntry {
            technology: Technology::Iso14443a,
            uid: uid("04A1B2C3"),
            state: CredentialState::Issued,
            user_id: Some(uid_of("00000000001Z")),
            holder_state: Some(UserState::Active),
            valid_from: None,
            valid_to: Some(Timestamp(1_800_000_000)),
            ambiguous: false,
            levels: vec![idms::store::FeedLevel { id: 3, from: None, to: Some(Timestamp(1_800_000_000)) }],
        }],
        removed: vec![FeedKey { technology: Technology::Em4100, uid: uid("0102030405") }],
        rules: None,
    }
}

fn reader_info() -> ReaderInfo {
    ReaderInfo {
        id: "osdp:ttyUSB0:1".into(),
        name: "front door".into(),
        kind: ReaderKind::Osdp,
        status: ReaderStatus::CardPresent,
    }
}

fn tap() -> ReaderEvent {
    let raw = RawRead { format: "wiegand", bits: 26, data: "0A1B2C3".into(), facility: Some(12), card: None };
    let kind = ReaderEventKind::Tap { uid: uid("04A1B2C3"), card_type: CardType::Iso14443_4, raw: Some(Box::new(raw)) };
    ReaderEvent::new("R1", Timestamp(1_700_000_000), kind, None)
}

fn unreadable() -> ReaderEvent {
    let kind = ReaderEventKind::Unreadable { code: "random_uid", card_type: Some(CardType::MifareClassic1k) };
    ReaderEvent::new("R1", Timestamp(1_700_000_000), kind, None)
}

fn j<T: serde::Serialize>(v: T) -> String {
    serde_json::to_string(&v).unwrap()
}

/// The JSON each record had when the store types were serialised
/// directly; the DTOs must give the same bytes (field order, `null`s,
/// amounts, dates, enum spellings).
const EXPECTED: &[(&str, &str)] = &[
    (
        "user",
        "{\"id\":\"00000000001Z\",\"state\":\"active\",\"given_name\":\"Ada\",\"family_name\":\"Lovelace\",\"email\":\"ada@example.org\",\"phone\":null,\"employee_no\":\"E-1\",\"notes\":null,\"org_unit\":\"lab\",\"directory_linked\":true,\"legal_hold\":false,\"valid_from\":\"2023-11-14T22:13:20Z\",\"valid_to\":null,\"purge_date\":\"2027-06-30\",\"record_type\":\"staff\",\"group\":null,\"balance\":12.5,\"unreturned_items\":2,\"created_at\":\"2023-11-14T22:13:20Z\",\"updated_at\":\"2023-11-14T22:15:00Z\",\"deleted_at\":null,\"expunged_at\":null,\"expunged_by\":null,\"credentials\":[{\"technology\":\"iso14443a\",\"uid\":\"04A1B2C3\",\"state\":\"issued\"}],\"history\":[{\"technology\":\"em4100\",\"uid\":\"0102030405\",\"opened_at\":\"2020-09-13T12:26:40Z\",\"closed_at\":\"2022-04-15T05:20:00Z\",\"close_reason\":\"lost\"}],\"suspended_by\":[],\"directory\":{\"external_id\":\"8d1f0c5e-entra\",\"source\":\"scim\",\"gone_at\":null,\"vanished_at\":null},\"user_name\":\"ada@example.org\",\"directory_groups\":[\"Engineering\"]}",
    ),
    (
        "tombstone",
        "{\"id\":\"00000000001Z\",\"state\":\"expunged\",\"given_name\":null,\"family_name\":null,\"email\":null,\"phone\":null,\"employee_no\":null,\"notes\":null,\"org_unit\":\"lab\",\"directory_linked\":false,\"legal_hold\":false,\"valid_from\":null,\"valid_to\":null,\"purge_date\":null,\"record_type\":null,\"group\":null,\"balance\":0.0,\"unreturned_items\":0,\"created_at\":\"2023-11-14T22:13:20Z\",\"updated_at\":\"2023-11-14T22:15:00Z\",\"deleted_at\":\"2023-11-14T22:16:40Z\",\"expunged_at\":\"2023-11-14T22:18:20Z\",\"expunged_by\":\"operator:1\",\"credentials\":[],\"history\":[{\"technology\":\"em4100\",\"uid\":\"0102030405\",\"opened_at\":\"2020-09-13T12:26:40Z\",\"closed_at\":\"2022-04-15T05:20:00Z\",\"close_reason\":\"lost\"}],\"suspended_by\":[],\"directory\":null,\"user_name\":null,\"directory_groups\":[]}",
    ),
    (
        "summary",
        "{\"id\":\"00000000001Z\",\"state\":\"deleted\",\"family_name\":\"Lovelace\",\"given_name\":null,\"email\":null,\"employee_no\":\"E-1\",\"org_unit\":null,\"deleted_at\":\"2023-11-14T22:16:40Z\"}",
    ),
    (
        "credential",
        "{\"technology\":\"iso14443a\",\"uid\":\"04A1B2C3\",\"state\":\"issued\",\"holder\":\"00000000001Z\",\"holder_state\":\"suspended\",\"created_at\":\"2020-09-13T12:26:40Z\",\"updated_at\":\"2020-09-13T12:35:00Z\",\"bindings\":[{\"user_id\":\"00000000001Z\",\"opened_at\":\"2020-09-13T12:26:40Z\",\"opened_by\":\"cli\",\"closed_at\":null,\"close_reason\":null}]}",
    ),
    (
        "card_summary",
        "{\"technology\":\"other\",\"uid\":\"0A0B\",\"state\":\"in_stock\",\"holder\":null,\"updated_at\":\"2020-09-13T12:26:40Z\"}",
    ),
    (
        "twin",
        "{\"technology\":\"em4100\",\"uid\":\"0102030405\",\"state\":\"issued\",\"holder\":\"00000000001Z\",\"holder_state\":\"active\"}",
    ),
    (
        "audit_entry",
        "{\"seq\":7,\"at\":\"2023-11-14T22:13:20Z\",\"actor\":\"operator:1\",\"action\":\"user.create\",\"target_user\":\"00000000001Z\",\"target_credential\":null,\"outcome\":\"ok\",\"detail\":\"org_unit=lab\"}",
    ),
    (
        "audit_report",
        "{\"entries\":9,\"first_bad\":{\"seq\":4,\"problem\":\"hash_mismatch\"},\"head\":{\"seq\":3,\"hash\":\"abababababababababababababababababababababababababababababababab\"}}",
    ),
    ("stats", "{\"users\":{\"active\":3,\"expunged\":1},\"credentials\":{\"issued\":2}}"),
    (
        "job",
        "{\"id\":5,\"state\":\"running\",\"criteria\":{\"grace_days\":30,\"record_type\":\"visitor\",\"group\":null,\"org_unit\":\"lab\",\"waive_threshold\":2.5,\"only_deleted\":true},\"today\":\"2026-01-02\",\"selected\":4,\"skipped\":1,\"done\":2,\"expunged\":1,\"created_by\":\"operator:2\",\"created_at\":\"2023-11-14T22:13:20Z\",\"started_at\":\"2023-11-14T22:13:30Z\",\"completed_at\":null}",
    ),
    (
        "outcome",
        "{\"user_id\":\"00000000001Z\",\"selected\":true,\"outcome\":\"skipped\",\"reasons\":[\"legal_hold\"],\"at\":\"2023-11-14T22:13:40Z\"}",
    ),
    (
        "plan",
        "{\"today\":\"2026-01-02\",\"selected\":[\"00000000001Z\"],\"skipped\":[{\"user_id\":\"000000000020\",\"reasons\":[\"legal_hold\",\"unreturned_items\"]}]}",
    ),
    (
        "erase_report",
        "{\"erased\":[\"00000000001Z\"],\"not_erased\":[{\"user_id\":\"000000000020\",\"code\":\"legal_hold\",\"message\":\"user 000000000020 is under legal hold\"}]}",
    ),
    ("operator", "{\"id\":2,\"name\":\"alice\",\"role\":\"eraser\",\"org_unit\":null}"),
    (
        "operator_record",
        "{\"id\":2,\"name\":\"alice\",\"role\":\"manager\",\"org_unit\":\"lab\",\"password\":true,\"created_at\":\"2023-11-14T22:13:20Z\",\"disabled_at\":null}",
    ),
    (
        "controller_record",
        "{\"id\":3,\"name\":\"front\",\"doors\":[\"main\",\"side\"],\"created_at\":\"2023-11-14T22:13:20Z\",\"disabled_at\":\"2023-11-14T22:21:40Z\",\"last_contact\":null,\"last_upload\":null,\"skew_secs\":null,\"skew_measured_at\":null}",
    ),
    (
        "token_record",
        "{\"id\":11,\"operator_id\":null,\"controller_id\":3,\"owner\":\"front\",\"label\":\"controller\",\"created_at\":\"2023-11-14T22:13:20Z\",\"expires_at\":null,\"revoked_at\":\"2023-11-14T22:15:00Z\",\"state\":\"owner_disabled\"}",
    ),
    (
        "feed",
        "{\"kind\":\"delta\",\"page\":1,\"more\":false,\"cursor\":\"12-abcdef\",\"entries\":[{\"technology\":\"iso14443a\",\"uid\":\"04A1B2C3\",\"state\":\"issued\",\"user_id\":\"00000000001Z\",\"holder_state\":\"active\",\"valid_to\":\"2027-01-15T08:00:00Z\",\"levels\":[{\"id\":3,\"to\":\"2027-01-15T08:00:00Z\"}]}],\"removed\":[{\"technology\":\"em4100\",\"uid\":\"0102030405\"}]}",
    ),
    (
        "reader_info",
        "{\"id\":\"osdp:ttyUSB0:1\",\"name\":\"front door\",\"kind\":\"osdp\",\"status\":\"card_present\"}",
    ),
    (
        "tap",
        "{\"reader\":\"R1\",\"at\":\"2023-11-14T22:13:20Z\",\"kind\":\"tap\",\"uid\":\"04A1B2C3\",\"card_type\":\"iso14443_4\",\"raw\":{\"format\":\"wiegand\",\"bits\":26,\"data\":\"0A1B2C3\",\"facility\":12}}",
    ),
    (
        "unreadable",
        "{\"reader\":\"R1\",\"at\":\"2023-11-14T22:13:20Z\",\"kind\":\"unreadable\",\"code\":\"random_uid\",\"card_type\":\"mifare_classic1k\"}",
    ),
];

#[test]
fn dtos_serialise_as_the_records_did() {
    let got = [
        ("user", j(dto::UserRecord::from(user()))),
        ("tombstone", j(dto::UserRecord::from(tombstone()))),
        ("summary", j(dto::UserSummary::from(summary()))),
        ("credential", j(dto::CredentialRecord::from(credential()))),
        ("card_summary", j(dto::CredentialSummary::from(card_summary()))),
        ("twin", j(dto::Twin::from(twin()))),
        ("audit_entry", j(dto::AuditEntry::from(audit_entry()))),
        ("audit_report", j(dto::AuditReport::from(audit_report()))),
        ("stats", j(dto::Stats::from(stats()))),
        ("job", j(dto::PurgeJob::from(job()))),
        ("outcome", j(dto::PurgeOutcome::from(outcome()))),
        ("plan", j(dto::PurgePlan::from(plan()))),
        ("erase_report", j(dto::EraseReport::from(erase_report()))),
        ("operator", j(dto::Operator::from(operator()))),
        ("operator_record", j(dto::OperatorView::from(operator_record()))),
        ("controller_record", j(dto::ControllerView::from(controller_record()))),
        ("token_record", j(dto::TokenView::from(token_record()))),
        ("feed", j(dto::Feed::from(feed()))),
        ("reader_info", j(dto::ReaderInfo::from(reader_info()))),
        ("tap", j(dto::ReaderEvent::from(tap()))),
        ("unreadable", j(dto::ReaderEvent::from(unreadable()))),
    ];
    assert_eq!(got.len(), EXPECTED.len());
    for ((name, got), (want_name, want)) in got.iter().zip(EXPECTED) {
        assert_eq!(name, want_name);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn a_dry_run_and_a_job_page_keep_their_shape() {
    let dry = serde_json::to_value(dto::DryRun::from(plan())).unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!((dry["selected_count"].as_u64(), dry["skipped_count"].as_u64()), (Some(1), Some(1)));
    let page = dto::JobDetail { job: job().into(), outcomes: vec![outcome().into()], next_after: None };
    let v = serde_json::to_value(page).unwrap();
    // The job's fields sit at the top level, next to the outcomes.
    assert_eq!((v["id"].as_i64(), v["state"].as_str()), (Some(5), Some("running")));
    assert_eq!(v["criteria"]["waive_threshold"], 2.5);
    assert_eq!(v["outcomes"][0]["outcome"], "skipped");
    assert!(v["next_after"].is_null());
}

#[test]
fn records_with_personal_data_print_no_fields_with_debug() {
    for shown in [format!("{:?}", dto::UserRecord::from(user())), format!("{:?}", dto::UserSummary::from(summary()))] {
        for secret in ["Ada", "Lovelace", "ada@example.org", "E-1", "00000000001Z"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

/// Every `.rs` file under `src/<dir>`.
fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir)];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under src/{dir}");
    out
}

#[test]
fn store_and_reader_types_are_not_the_json_contract() {
    // The API's JSON shapes live in `api::dto`: store records and reader
    // types carry no schema and no `Serialize` for output. (Domain value
    // types such as `Criteria`, which is persisted as JSON, may.)
    let mut offenders = Vec::new();
    for dir in ["store", "readers"] {
        for (path, text) in sources(dir) {
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_start();
                let derive_ser = line.starts_with("#[derive(") && line.contains("Serialize");
                if line.contains("ToSchema") || line.contains("utoipa") || line.contains("#[schema(") || derive_ser {
                    offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "JSON contract outside api::dto:\n{}", offenders.join("\n"));
}
