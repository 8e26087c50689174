//! Badge encoders over HTTP: write an issued credential's number onto the
//! card in an OSDP encoder's field, then read it back to verify
//! (the `MFG` extension in `firmware-protocol/PROTOCOL.md`).

use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use firmware_protocol::codes::{Command, Reply};
use firmware_protocol::mfg::{EncoderCommand, EncoderReply, Outcome};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Staff;
use super::dto::Encoded;
use super::error::{ApiError, ApiJson, ApiPath, Problem};
use super::{AppState, op};
use crate::domain::{Technology, Uid};
use crate::ops::credentials as cards;
use crate::readers::osdp::{Outgoing, RequestError};
use crate::store::Role;

/// How long an encoder has to answer one request.
const WAIT: Duration = Duration::from_secs(5);

/// What to encode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodeBody {
    /// The UID of the card in the encoder's field (hex): an issued credential.
    pub uid: String,
    /// Its technology (default `iso14443a`).
    pub technology: Option<String>,
    /// The credential number to write (as printed on the badge).
    pub number: u32,
}

fn request_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn device_error(encoder: &str, e: RequestError) -> ApiError {
    match e {
        RequestError::Unknown => {
            ApiError::new(StatusCode::NOT_FOUND, "encoder_not_found", format!("no encoder {encoder}"))
        }
        RequestError::Offline => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "encoder_offline", format!("encoder {encoder} is offline"))
        }
        RequestError::Timeout => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "encoder_timeout",
            format!("encoder {encoder} did not answer within {} s", WAIT.as_secs()),
        ),
    }
}

fn outcome_error(outcome: Outcome) -> ApiError {
    let (status, code, detail) = match outcome {
        Outcome::Ok => return ApiError::internal(),
        Outcome::Busy => (StatusCode::CONFLICT, "encoder_busy", "the encoder is still working on a card; retry"),
        Outcome::NoCard => (StatusCode::CONFLICT, "no_card", "no card in the encoder's field"),
        Outcome::WrongCard => (StatusCode::CONFLICT, "wrong_card", "another card than the one named is in the field"),
        Outcome::WriteFailed => (StatusCode::BAD_GATEWAY, "encode_failed", "the encoder could not write the card"),
        Outcome::VerifyFailed => {
            (StatusCode::BAD_GATEWAY, "verify_failed", "the card holds something else than was written")
        }
    };
    ApiError::new(status, code, detail)
}

/// One encoder request; the `MFGREP` data back.
async fn ask(s: &AppState, encoder: &str, cmd: EncoderCommand<'_>) -> Result<Vec<u8>, ApiError> {
    let mut data = [0u8; 64];
    let n = cmd.emit(&mut data).ok_or_else(ApiError::internal)?;
    let osdp = s.osdp.get().ok_or_else(|| device_error(encoder, RequestError::Unknown))?;
    let out = Outgoing { code: Command::Mfg.into(), data: data[..n].to_vec(), tag: None };
    let (code, data) = osdp.request(encoder, out, WAIT).await.map_err(|e| device_error(encoder, e))?;
    if code != u8::from(Reply::MfgRep) {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "encoder_refused",
            format!("encoder {encoder} refused the request (reply {code:#04x})"),
        ));
    }
    Ok(data)
}

fn bad_reply(encoder: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "encoder_refused",
        format!("encoder {encoder} sent an answer IDMS cannot read"),
    )
}

/// Write an issued credential's number onto the card in an encoder's
/// field, and read it back. The card must be issued: bound to someone and
/// not retired (409 `credential_not_issued` otherwise); another card in the field is 409
/// `wrong_card`, none is 409 `no_card`.
#[utoipa::path(post, path = "/api/v1/encoders/{id}/encode", tag = "readers", request_body = EncodeBody,
    params(("id" = String, Path, description = "The encoder's reader ID")),
    responses((status = 200, body = Encoded), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem), (status = 503, body = Problem), (status = 504, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn encode(
    State(s): State<AppState>,
    auth: Staff<{ Role::Enroller as u8 }>,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<EncodeBody>,
) -> Result<Json<Encoded>, ApiError> {
    let acting = auth.acting();
    let technology = b.technology.as_deref().map_or(Ok(Technology::Iso14443a), Technology::from_name)?;
    let uid = Uid::parse_for(technology, &b.uid)?;
    let encoder = id.clone();
    op(&s, &acting, move |st, a| cards::may_encode(st, a, technology, &uid, &encoder)).await?;
    let outcome = write_and_verify(&s, &id, &uid, b.number).await;
    // Audited either way: who, which card, which encoder, how it ended.
    let (encoder, code) = (id.clone(), outcome.as_ref().err().map(|e| e.code));
    op(&s, &acting, move |st, a| cards::record_encode(st, a, technology, &uid, &encoder, code.map_or(Ok(()), Err)))
        .await?;
    outcome?;
    tracing::info!(encoder = %id, "credential encoded and verified");
    Ok(Json(Encoded { encoder: id, uid: uid.to_string(), number: b.number, verified: true }))
}

/// Encodes `number` for `uid` on encoder `id` and reads it back.
async fn write_and_verify(s: &AppState, id: &str, uid: &Uid, number: u32) -> Result<(), ApiError> {
    let reply = ask(s, id, EncoderCommand::Encode { request: request_id(), uid: uid.as_bytes(), number }).await?;
    match EncoderReply::parse(&reply).map_err(|_| bad_reply(id))? {
        EncoderReply::Encoded { outcome: Outcome::Ok, .. } => {}
        EncoderReply::Encoded { outcome, .. } => return Err(outcome_error(outcome)),
        _ => return Err(bad_reply(id)),
    }
    let reply = ask(s, id, EncoderCommand::ReadBack { request: request_id() }).await?;
    match EncoderReply::parse(&reply).map_err(|_| bad_reply(id))? {
        EncoderReply::Card { outcome: Outcome::Ok, uid: got, number: read, .. }
            if got == uid.as_bytes() && read == number =>
        {
            Ok(())
        }
        EncoderReply::Card { outcome: Outcome::Ok | Outcome::VerifyFailed, .. } => {
            Err(outcome_error(Outcome::VerifyFailed))
        }
        EncoderReply::Card { outcome, .. } => Err(outcome_error(outcome)),
        _ => Err(bad_reply(id)),
    }
}
