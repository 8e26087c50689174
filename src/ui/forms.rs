//! **Add person** and **Edit**: the profile as a form, with each refused
//! field's error next to it (stable codes in plain words).
//!
//! `GET /ui/people/new` and `GET /ui/people/{id}/edit` show the form;
//! their posts (through [`Posted`]) check every field at once
//! (`ops::users::form_errors`), then call `ops::users::create` or
//! `ops::users::update` with the acting operator. A refused form answers
//! `422` (`403` when the role does not allow it) with the form again, the
//! typed values kept — the whole page, or for htmx only the form; a saved
//! one answers `303` to the record (PRG), or `HX-Redirect`.
//!
//! What the caller may set is asked of `ops::users::rights`: a field their
//! role cannot set is shown disabled with why (and is not posted); the
//! operations refuse it anyway if it is. An edit sends only the fields that
//! changed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::api::error::{ApiError, Refused};
use crate::api::{AppState, op};
use crate::domain::time::format_date;
use crate::domain::{DomainError, Timestamp, UserId};
use crate::ops;
use crate::ops::users::{NewUserForm, Rights};
use crate::store::{UserPatch, UserRecord};
use crate::ui::csrf::Posted;
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::{Hx, Nav, html, manage};

/// Where the Add person form is.
pub const ADD: &str = "/ui/people/new";

/// The form's text fields: key (the API's field name), label, input type, hint.
const FIELDS: &[(&str, &str, &str, &str)] = &[
    ("given_name", "Given name", "text", "Required."),
    ("family_name", "Family name", "text", "Required."),
    ("email", "Email", "email", ""),
    ("phone", "Phone", "tel", ""),
    ("employee_no", "Employee number", "text", ""),
    ("org_unit", "Org unit", "text", ""),
    ("record_type", "Record type", "text", "For example staff, contractor or visitor."),
    ("group", "Group", "text", ""),
    (
        "valid_from",
        "Valid from",
        "text",
        "A date (2026-11-22) or a UTC time (2026-11-22T09:30:00Z); empty: from now on.",
    ),
    (
        "valid_to",
        "Valid to",
        "text",
        "The first moment no longer valid, as Valid from; empty: until further notice. A past Valid to deactivates the person: their cards open no door.",
    ),
    ("purge_date", "Purge date", "text", "A date (2027-06-30): when purge jobs may select the person; empty: never."),
    ("balance", "Balance", "text", "Amount owed, for example 12.50."),
    ("unreturned_items", "Unreturned items", "text", "Keys, equipment or cards not handed back."),
    ("notes", "Notes", "textarea", ""),
];

/// One input of the form.
pub struct Input {
    /// Its name and ID.
    pub key: &'static str,
    /// Its label.
    pub label: &'static str,
    /// `text`, `email`, `tel` or `textarea`.
    pub kind: &'static str,
    /// What is typed (or the record's value).
    pub value: String,
    /// A hint under it.
    pub hint: &'static str,
    /// Why it was refused (plain words) and the code.
    pub error: Option<(String, &'static str)>,
    /// Why the caller cannot set it, when they cannot.
    pub locked: Option<&'static str>,
    /// Gets the focus (the first refused field).
    pub focus: bool,
}

redacted_debug!(Input);

impl Input {
    /// The IDs that describe it (hint, error, lock note).
    #[must_use]
    pub fn described_by(&self) -> String {
        let mut v = Vec::new();
        if !self.hint.is_empty() {
            v.push(format!("{}-hint", self.key));
        }
        if self.locked.is_some() {
            v.push(format!("{}-locked", self.key));
        }
        if self.error.is_some() {
            v.push(format!("{}-error", self.key));
        }
        v.join(" ")
    }
}

/// The person form: the page (no htmx) or only the form (htmx).
#[derive(askama::Template)]
#[template(path = "person_form.html", blocks = ["form"])]
pub struct PersonForm {
    /// The header.
    pub nav: Nav,
    /// "Add person" or "Edit person …".
    pub heading: String,
    /// Where it posts.
    pub action: String,
    /// Where Cancel goes.
    pub back: String,
    /// The submit button.
    pub submit: &'static str,
    /// The inputs.
    pub inputs: Vec<Input>,
    /// Legal hold ticked.
    pub legal_hold: bool,
    /// Why the caller cannot change the legal hold, when they cannot.
    pub hold_locked: Option<&'static str>,
    /// A refusal that is not one field's (plain words, code).
    pub problem: Option<(String, &'static str)>,
    /// How many fields were refused.
    pub refused: usize,
}

redacted_debug!(PersonForm);

/// The typed values, by key (a disabled input is not posted: absent).
#[derive(Default, Clone)]
pub struct Values {
    fields: Vec<(&'static str, String)>,
    legal_hold: Option<bool>,
}

redacted_debug!(Values);

impl Values {
    /// Of a posted form: the known fields only.
    fn posted(form: &[(String, String)]) -> Self {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let fields = FIELDS.iter().filter_map(|(k, ..)| get(k).map(|v| (*k, v))).collect();
        // The checkbox is posted only when ticked; `legal_hold_shown` says it was offered.
        let legal_hold = get("legal_hold_shown").map(|_| get("legal_hold").is_some());
        Self { fields, legal_hold }
    }

    /// Of a record, as the form shows it.
    fn of(u: &UserRecord) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let fields = vec![
            ("given_name", s(&u.given_name)),
            ("family_name", s(&u.family_name)),
            ("email", s(&u.email)),
            ("phone", s(&u.phone)),
            ("employee_no", s(&u.employee_no)),
            ("org_unit", s(&u.org_unit)),
            ("record_type", s(&u.record_type)),
            ("group", s(&u.group)),
            ("valid_from", u.valid_from.map(typed_time).unwrap_or_default()),
            ("valid_to", u.valid_to.map(typed_time).unwrap_or_default()),
            ("purge_date", u.purge_date.map(format_date).unwrap_or_default()),
            ("balance", money(u.balance)),
            ("unreturned_items", u.unreturned_items.to_string()),
            ("notes", s(&u.notes)),
        ];
        Self { fields, legal_hold: Some(u.legal_hold) }
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str())
    }

    /// `self` over `base`: what was posted, else the record's.
    fn over(self, base: &Self) -> Self {
        let mut out = base.clone();
        for (k, v) in self.fields {
            match out.fields.iter_mut().find(|(n, _)| *n == k) {
                Some(slot) => slot.1 = v,
                None => out.fields.push((k, v)),
            }
        }
        if self.legal_hold.is_some() {
            out.legal_hold = self.legal_hold;
        }
        out
    }

    /// The form as the rule layer reads it, and what could not be read
    /// as a number.
    fn form(&self) -> (NewUserForm, Vec<DomainError>) {
        let opt = |k: &str| self.get(k).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let mut unreadable = Vec::new();
        let balance = opt("balance").and_then(|v| {
            v.parse::<f64>().map_err(|_| unreadable.push(invalid("balance", "must be an amount such as 12.50"))).ok()
        });
        let unreturned_items = opt("unreturned_items").and_then(|v| {
            v.parse::<u32>().map_err(|_| unreadable.push(invalid("unreturned_items", "must be a whole number"))).ok()
        });
        let form = NewUserForm {
            given_name: self.get("given_name").unwrap_or_default().to_owned(),
            family_name: self.get("family_name").unwrap_or_default().to_owned(),
            email: opt("email"),
            phone: opt("phone"),
            employee_no: opt("employee_no"),
            notes: opt("notes"),
            org_unit: opt("org_unit"),
            valid_from: opt("valid_from"),
            valid_to: opt("valid_to"),
            purge_date: opt("purge_date"),
            legal_hold: self.legal_hold.unwrap_or(false),
            record_type: opt("record_type"),
            group: opt("group"),
            balance,
            unreturned_items,
        };
        (form, unreadable)
    }
}

fn invalid(field: &'static str, message: &str) -> DomainError {
    DomainError::InvalidInput { field, message: message.into() }
}

/// A time as the form shows it: the date alone at midnight UTC.
fn typed_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    s.strip_suffix("T00:00:00Z").map_or(s.clone(), str::to_owned)
}

/// Minor units as an amount (`1250` → `12.50`), as forms and the record show it.
pub fn money(m: i64) -> String {
    format!("{}{}.{:02}", if m < 0 { "-" } else { "" }, m.unsigned_abs() / 100, m.unsigned_abs() % 100)
}

/// Plain words for a refused field (the code is shown beside them).
fn field_words(field: &str, message: &str) -> String {
    let label = FIELDS.iter().find(|(k, ..)| *k == field).map_or(field, |(_, l, ..)| l);
    match message {
        "is required" => format!("Enter the {}.", label.to_lowercase()),
        "is not an email address" => "Enter an email address such as name@example.org.".into(),
        m if m.starts_with("valid_to must be later") => "Valid to must be later than Valid from.".into(),
        m if m.starts_with("expected an RFC 3339") => {
            "Enter a date such as 2026-11-22, or a UTC time such as 2026-11-22T09:30:00Z.".into()
        }
        m if m.starts_with("expected a date") => "Enter a date such as 2027-06-30.".into(),
        m => format!("{label} {m}."),
    }
}

/// A refusal as the form shows it: on its field, or above the form.
enum Refusal {
    Field(&'static str, String),
    Form(String, &'static str),
}

fn refusal_of_domain(e: &DomainError) -> Refusal {
    match e {
        DomainError::InvalidInput { field, message } => Refusal::Field(field, field_words(field, message)),
        other => Refusal::Form(manage::words(other.code()).into(), other.code()),
    }
}

/// An operation's refusal: a field's when the code and detail name one.
fn refusal_of_api(e: &ApiError) -> Refusal {
    if e.code == "invalid_input"
        && let Some((field, message)) = e.detail.split_once(": ")
        && let Some((key, ..)) = FIELDS.iter().find(|(k, ..)| *k == field)
    {
        return Refusal::Field(key, field_words(key, message));
    }
    let words = match e.code {
        "forbidden" => format!("{} {}", manage::words("forbidden"), capital(&e.detail)),
        code => manage::words(code).to_owned(),
    };
    Refusal::Form(words, e.code)
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect::<String>() + ".").unwrap_or_default()
}

/// The form for `values`, with what `rights` locks and the refusals.
fn build(session: &Session, target: Target, values: &Values, rights: Rights, refusals: Vec<Refusal>) -> PersonForm {
    let editing = matches!(target, Target::Edit(..));
    let mut problem = None;
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    for r in refusals {
        match r {
            Refusal::Field(k, w) if !errors.iter().any(|(e, _)| *e == k) => errors.push((k, w)),
            Refusal::Field(..) => {}
            Refusal::Form(w, c) => problem = problem.or(Some((w, c))),
        }
    }
    let refused = errors.len();
    let mut focus_given = false;
    let inputs = FIELDS
        .iter()
        .map(|&(key, label, kind, hint)| {
            let locked = match key {
                "org_unit" if !rights.choose_unit => Some(if editing {
                    "You cannot move people between units."
                } else {
                    "People you add join your unit."
                }),
                "purge_date" if !rights.hold_and_purge_date => Some("Setting a purge date needs the manager role."),
                _ => None,
            };
            let error = errors.iter().find(|(k, _)| *k == key).map(|(_, w)| (w.clone(), "invalid_input"));
            let focus = error.is_some() && !focus_given;
            focus_given |= focus;
            Input {
                key,
                label,
                kind,
                value: values.get(key).unwrap_or_default().to_owned(),
                hint,
                error,
                locked,
                focus,
            }
        })
        .collect();
    let legal_hold = values.legal_hold.unwrap_or(false);
    let hold_locked = if legal_hold && editing && !rights.lift_hold {
        Some("Only an eraser can lift a legal hold.")
    } else if !rights.hold_and_purge_date {
        Some("Placing a legal hold needs the manager role.")
    } else {
        None
    };
    let (heading, action, back, submit) = match target {
        Target::Add => ("Add person".to_owned(), ADD.to_owned(), "/ui/people".to_owned(), "Add person"),
        Target::Edit(id) => {
            (format!("Edit person {id}"), format!("/ui/people/{id}/edit"), format!("/ui/people/{id}"), "Save")
        }
    };
    PersonForm {
        nav: Nav::new(session, if editing { "" } else { "/ui/people" }),
        heading,
        action,
        back,
        submit,
        inputs,
        legal_hold,
        hold_locked,
        problem,
        refused,
    }
}

#[derive(Clone, Copy)]
enum Target {
    Add,
    Edit(UserId),
}

fn answer(hx: Hx, status: StatusCode, form: &PersonForm, refused: Option<Refused>) -> Result<Response, UiError> {
    let mut res = if hx.partial { html(&form.as_form())? } else { html(form)? }.into_response();
    *res.status_mut() = status;
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    if let Some(r) = refused {
        res.extensions_mut().insert(r);
    }
    Ok(res)
}

/// The refused form: `422`, or the operation's status when it is not a
/// field's (`403` for a role, `409` for a state).
fn refused_answer(
    hx: Hx,
    session: &Session,
    target: Target,
    values: &Values,
    rights: Rights,
    e: ApiError,
) -> Result<Response, UiError> {
    if e.status.is_server_error() || e.status == StatusCode::NOT_FOUND {
        return Err(e.into());
    }
    let r = refusal_of_api(&e);
    let status = if matches!(r, Refusal::Field(..)) { StatusCode::UNPROCESSABLE_ENTITY } else { e.status };
    let refused = e.refused_actor.clone().map(|actor| Refused { actor, code: e.code });
    answer(hx, status, &build(session, target, values, rights, vec![r]), refused)
}

/// Every refused field of `values` (nothing is stored).
fn check(values: &Values) -> Vec<Refusal> {
    let (form, unreadable) = values.form();
    unreadable.iter().chain(ops::users::form_errors(&form).iter()).map(refusal_of_domain).collect()
}

/// `GET /ui/people/new`: the Add person form.
pub async fn add_page(State(s): State<AppState>, session: Session, hx: Hx) -> Result<Response, UiError> {
    // Asks `ops` whether the caller may add people at all (a 403 page if not).
    op(&s, &session.acting, |_, a| ops::users::may_add(a)).await?;
    let rights = ops::users::rights(&session.acting);
    answer(hx, StatusCode::OK, &build(&session, Target::Add, &Values::default(), rights, Vec::new()), None)
}

/// `POST /ui/people/new`: adds the person through `ops`, then to their record.
pub async fn add(State(s): State<AppState>, hx: Hx, p: Posted) -> Result<Response, UiError> {
    let session = p.session;
    let rights = ops::users::rights(&session.acting);
    let values = Values::posted(&p.form);
    let refusals = check(&values);
    if !refusals.is_empty() {
        return answer(
            hx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &build(&session, Target::Add, &values, rights, refusals),
            None,
        );
    }
    let (form, _) = values.form();
    let made = op(&s, &session.acting, move |st, a| {
        let new = form.parse().map_err(ops::OpsError::Refused)?;
        ops::users::create(st, a, new)
    })
    .await;
    match made {
        Ok(u) => Ok(manage::redirect(hx, &manage::after(&session, u.id, "added", ""))),
        Err(e) => refused_answer(hx, &session, Target::Add, &values, rights, e),
    }
}

fn user_id(id: &str) -> Result<UserId, UiError> {
    id.parse::<UserId>().map_err(|_| UiError::not_found())
}

/// `GET /ui/people/{id}/edit`: the Edit form with the record's values.
pub async fn edit_page(
    State(s): State<AppState>,
    session: Session,
    hx: Hx,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = user_id(&id)?;
    let u = op(&s, &session.acting, move |st, a| {
        ops::users::may_edit(a)?;
        ops::users::get(st, a, id)
    })
    .await?;
    let rights = ops::users::rights(&session.acting);
    answer(hx, StatusCode::OK, &build(&session, Target::Edit(id), &Values::of(&u), rights, Vec::new()), None)
}

/// The changes from `cur` to `new` (both as the form shows them): only
/// the fields that differ, so an unchanged field is never "set".
fn patch(cur: &Values, new: &Values) -> Result<UserPatch, DomainError> {
    let changed = |k: &str| new.get(k).map(str::trim) != cur.get(k).map(str::trim);
    let text = |k: &str| changed(k).then(|| new.get(k).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned));
    let time = |k: &'static str| -> Result<Option<Option<Timestamp>>, DomainError> {
        if !changed(k) {
            return Ok(None);
        }
        Ok(Some(Timestamp::parse_opt(k, new.get(k).map(str::trim).filter(|v| !v.is_empty()))?))
    };
    let (form, _) = new.form();
    let parsed = form.parse()?;
    Ok(UserPatch {
        given_name: changed("given_name").then_some(parsed.given_name),
        family_name: changed("family_name").then_some(parsed.family_name),
        email: text("email"),
        phone: text("phone"),
        employee_no: text("employee_no"),
        notes: text("notes"),
        org_unit: text("org_unit"),
        directory_id: None,
        valid_from: time("valid_from")?,
        valid_to: time("valid_to")?,
        purge_date: changed("purge_date").then_some(parsed.purge_date),
        legal_hold: (new.legal_hold != cur.legal_hold).then_some(parsed.legal_hold),
        record_type: text("record_type"),
        group: text("group"),
        balance: changed("balance").then_some(parsed.balance),
        unreturned_items: changed("unreturned_items").then_some(parsed.unreturned_items),
    })
}

/// `POST /ui/people/{id}/edit`: saves the changed fields through `ops`.
pub async fn edit(State(s): State<AppState>, hx: Hx, Path(id): Path<String>, p: Posted) -> Result<Response, UiError> {
    let id = user_id(&id)?;
    let session = p.session;
    let rights = ops::users::rights(&session.acting);
    // The record as it is (the role check first: a viewer learns nothing).
    let u = op(&s, &session.acting, move |st, a| {
        ops::users::may_edit(a)?;
        ops::users::get(st, a, id)
    })
    .await?;
    let cur = Values::of(&u);
    let values = Values::posted(&p.form).over(&cur);
    let refusals = check(&values);
    if !refusals.is_empty() {
        let form = build(&session, Target::Edit(id), &values, rights, refusals);
        return answer(hx, StatusCode::UNPROCESSABLE_ENTITY, &form, None);
    }
    let change = match patch(&cur, &values) {
        Ok(c) => c,
        Err(e) => {
            let form = build(&session, Target::Edit(id), &values, rights, vec![refusal_of_domain(&e)]);
            return answer(hx, StatusCode::UNPROCESSABLE_ENTITY, &form, None);
        }
    };
    match op(&s, &session.acting, move |st, a| ops::users::update(st, a, id, change)).await {
        Ok(_) => Ok(manage::redirect(hx, &manage::after(&session, id, "saved", ""))),
        Err(e) => refused_answer(hx, &session, Target::Edit(id), &values, rights, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_show_as_typed() {
        assert_eq!(money(1250), "12.50");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(typed_time(Timestamp(0)), "1970-01-01");
        assert_eq!(typed_time(Timestamp(3600)), "1970-01-01T01:00:00Z");
    }

    #[test]
    fn an_unchanged_form_changes_nothing() {
        let cur = Values {
            fields: vec![("given_name", "Ada".into()), ("family_name", "Lovelace".into()), ("balance", "0.00".into())],
            legal_hold: Some(false),
        };
        let p = patch(&cur, &cur.clone()).unwrap();
        assert!(p.field_names().is_empty(), "{:?}", p.field_names());
        let mut new = cur.clone();
        new.fields[1].1 = "Byron".into();
        assert_eq!(patch(&cur, &new).unwrap().field_names(), vec!["family_name"]);
    }
}
