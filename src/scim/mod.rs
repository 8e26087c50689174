//! SCIM 2.0 (RFC 7643/7644), the protocol only: no store, no HTTP routes.
//!
//! - [`filter`]: the `filter` grammar of RFC 7644 §3.4.2.2 parsed to an AST
//!   (bounded in length and nesting), evaluated against a resource's JSON,
//!   and [`filter::Filter::simple_eq`] for the `userName eq "…"` look-ups
//!   that provisioning clients send before every create.
//! - [`patch`]: a PatchOp (§3.5.2) applied to a resource's JSON, including
//!   the forms Entra ID and Okta are known to send.
//! - [`schema`]: the discovery documents (`/ServiceProviderConfig`,
//!   `/Schemas`, `/ResourceTypes`) for what IDMS stores, the attribute
//!   characteristics the filter and the patch read (case exactness,
//!   mutability, multi-valuedness), and the `attributes` /
//!   `excludedAttributes` projection.
//! - [`error`]: the SCIM error body, `application/scim+json`.
//! - [`list`]: `ListResponse` and the paging parameters.
//! - [`resource`]: a User's and a Group's JSON read into the fields IDMS
//!   keeps and written back from them, `meta`, ETags and `If-Match`.
//!
//! Rules this module keeps: parsing never panics and never recurses deeper
//! than [`filter::MAX_DEPTH`]; error details name attribute paths and
//! positions, never a value the client sent (a filter value is usually a
//! person's name or email).

pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};
pub use filter::Filter;
pub use list::{ListParams, ListResponse};
pub use patch::PatchRequest;
pub use resource::{GroupFields, Meta, UserFields};
pub use schema::ResourceKind;

/// The media type of every SCIM request and response body.
pub const CONTENT_TYPE: &str = "application/scim+json";

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// ListResponse message URN.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PatchOp message URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error message URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// SearchRequest message URN (`POST /.search`).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// ServiceProviderConfig schema URN.
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema schema URN.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
