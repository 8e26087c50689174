//! Listing (RFC 7644 §3.4.2): the query parameters of `GET /Users` and the
//! body of `POST /.search`, and the `ListResponse` with its page.
//!
//! Rules: `startIndex` is 1-based and a value below 1 means 1; `count`
//! defaults to [`DEFAULT_COUNT`], is at most [`MAX_RESULTS`] (the
//! `filter.maxResults` the ServiceProviderConfig announces) and a negative
//! value means 0 (the total only); `sortBy` is refused as not supported
//! (`sort.supported` is false).

use std::ops::Range;

use serde_json::{Value, json};

use super::error::ScimError;
use super::filter::{AttrPath, Filter};
use super::schema::{DEFAULT_COUNT, MAX_RESULTS, ResourceKind, parse_attribute_list};
use super::{LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA};

/// What a list request asks for.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// The filter, checked against the kind's schema.
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results on this page.
    pub count: usize,
    /// `attributes`.
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes`.
    pub excluded: Vec<AttrPath>,
}

fn int_param(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim().parse::<i64>().map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
}

impl ListParams {
    fn new(
        kind: ResourceKind,
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        attributes: Vec<AttrPath>,
        excluded: Vec<AttrPath>,
    ) -> Result<Self, ScimError> {
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(Filter::parse_for(kind, f)?),
            None => None,
        };
        let start_index = usize::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = count.map_or(DEFAULT_COUNT, |c| usize::try_from(c.max(0)).unwrap_or(0).min(MAX_RESULTS));
        Ok(Self { filter, start_index, count, attributes, excluded })
    }

    /// From the query string's pairs (names matched ignoring case).
    pub fn from_query<'a>(
        kind: ResourceKind,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ScimError> {
        let (mut filter, mut start, mut count, mut attrs, mut excluded) = (None, None, None, Vec::new(), Vec::new());
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "filter" => filter = Some(v),
                "startindex" => start = Some(int_param("startIndex", v)?),
                "count" => count = Some(int_param("count", v)?),
                "attributes" => attrs = parse_attribute_list(v)?,
                "excludedattributes" => excluded = parse_attribute_list(v)?,
                "sortby" => return Err(ScimError::not_implemented("sorting is not supported")),
                _ => {}
            }
        }
        Self::new(kind, filter, start, count, attrs, excluded)
    }

    /// From a `POST /.search` body (RFC 7644 §3.4.3).
    pub fn from_search_request(kind: ResourceKind, body: &Value) -> Result<Self, ScimError> {
        let schemas_ok =
            body["schemas"].as_array().is_some_and(|s| s.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST_SCHEMA)));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax("schemas must name the SearchRequest message"));
        }
        let list = |key: &str| -> Result<Vec<AttrPath>, ScimError> {
            match &body[key] {
                Value::Null => Ok(Vec::new()),
                Value::Array(a) => {
                    let joined: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                    if joined.len() != a.len() {
                        return Err(ScimError::invalid_value(format!("{key} must be a list of strings")));
                    }
                    parse_attribute_list(&joined.join(","))
                }
                Value::String(s) => parse_attribute_list(s),
                _ => Err(ScimError::invalid_value(format!("{key} must be a list of strings"))),
            }
        };
        let int = |key: &str| -> Result<Option<i64>, ScimError> {
            match &body[key] {
                Value::Null => Ok(None),
                Value::Number(n) => {
                    n.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{key} must be an integer")))
                }
                Value::String(s) => int_param(key, s).map(Some),
                _ => Err(ScimError::invalid_value(format!("{key} must be an integer"))),
            }
        };
        if !body["sortBy"].is_null() {
            return Err(ScimError::not_implemented("sorting is not supported"));
        }
        let filter = match &body["filter"] {
            Value::Null => None,
            Value::String(s) => Some(s.as_str()),
            _ => return Err(ScimError::invalid_filter("filter must be a string")),
        };
        Self::new(kind, filter, int("startIndex")?, int("count")?, list("attributes")?, list("excludedAttributes")?)
    }

    /// The 0-based range of `total` matching resources this page holds.
    #[must_use]
    pub fn window(&self, total: usize) -> Range<usize> {
        let start = (self.start_index.max(1) - 1).min(total);
        start..start.saturating_add(self.count).min(total)
    }
}

/// A page of results.
#[derive(Debug, Clone)]
pub struct ListResponse {
    /// How many resources match in all.
    pub total_results: usize,
    /// 1-based index of the first one here.
    pub start_index: usize,
    /// The resources (already projected).
    pub resources: Vec<Value>,
}

impl ListResponse {
    /// The page of `matching` (every match, in order) `params` asks for.
    #[must_use]
    pub fn page(params: &ListParams, matching: Vec<Value>) -> Self {
        let total_results = matching.len();
        let range = params.window(total_results);
        let resources = matching.into_iter().skip(range.start).take(range.len()).collect();
        Self { total_results, start_index: params.start_index.max(1), resources }
    }

    /// The JSON body (RFC 7644 §3.4.2).
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": self.total_results,
            "startIndex": self.start_index,
            "itemsPerPage": self.resources.len(),
            "Resources": self.resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<ListParams, ScimError> {
        ListParams::from_query(ResourceKind::User, pairs.iter().copied())
    }

    fn items(n: usize) -> Vec<Value> {
        (1..=n).map(|i| json!({"id": i.to_string()})).collect()
    }

    #[test]
    fn defaults_and_bounds() {
        let p = q(&[]).unwrap();
        assert_eq!((p.start_index, p.count), (1, DEFAULT_COUNT));
        assert!(p.filter.is_none());
        let p = q(&[("startIndex", "0"), ("count", "5000")]).unwrap();
        assert_eq!((p.start_index, p.count), (1, MAX_RESULTS));
        let p = q(&[("STARTINDEX", "-7"), ("Count", "-1")]).unwrap();
        assert_eq!((p.start_index, p.count), (1, 0));
        assert_eq!(q(&[("count", "ten")]).unwrap_err().scim_type, Some(crate::scim::ScimType::InvalidValue));
        assert_eq!(q(&[("filter", "userName eq")]).unwrap_err().scim_type, Some(crate::scim::ScimType::InvalidFilter));
        assert_eq!(q(&[("filter", "shoeSize pr")]).unwrap_err().scim_type, Some(crate::scim::ScimType::InvalidFilter));
        assert_eq!(q(&[("sortBy", "userName")]).unwrap_err().status.as_u16(), 501);
        let p = q(&[("filter", " "), ("attributes", "userName,emails.value")]).unwrap();
        assert!(p.filter.is_none());
        assert_eq!(p.attributes.len(), 2);
    }

    #[test]
    fn pages() {
        let p = q(&[("startIndex", "3"), ("count", "2")]).unwrap();
        let r = ListResponse::page(&p, items(5));
        let body = r.to_json();
        assert_eq!(body["totalResults"], 5);
        assert_eq!(body["startIndex"], 3);
        assert_eq!(body["itemsPerPage"], 2);
        assert_eq!(body["Resources"], json!([{"id": "3"}, {"id": "4"}]));
        assert_eq!(body["schemas"], json!([LIST_RESPONSE_SCHEMA]));
        let p = q(&[("startIndex", "5"), ("count", "10")]).unwrap();
        assert_eq!(ListResponse::page(&p, items(5)).resources, vec![json!({"id": "5"})]);
        let p = q(&[("startIndex", "9")]).unwrap();
        let r = ListResponse::page(&p, items(5));
        assert_eq!((r.total_results, r.resources.len()), (5, 0));
        let p = q(&[("count", "0")]).unwrap();
        let body = ListResponse::page(&p, items(5)).to_json();
        assert_eq!((body["totalResults"].as_u64(), body["itemsPerPage"].as_u64()), (Some(5), Some(0)));
        assert_eq!(body["Resources"], json!([]));
    }

    #[test]
    fn search_request_body() {
        let body = json!({
            "schemas": [SEARCH_REQUEST_SCHEMA],
            "filter": "userName sw \"a\"",
            "startIndex": 2, "count": 10,
            "attributes": ["userName", "emails"]
        });
        let p = ListParams::from_search_request(ResourceKind::User, &body).unwrap();
        assert!(p.filter.is_some());
        assert_eq!((p.start_index, p.count, p.attributes.len()), (2, 10, 2));
        let bad = json!({"schemas": ["urn:x"], "filter": "userName pr"});
        assert_eq!(
            ListParams::from_search_request(ResourceKind::User, &bad).unwrap_err().scim_type,
            Some(crate::scim::ScimType::InvalidSyntax)
        );
        let bad = json!({"schemas": [SEARCH_REQUEST_SCHEMA], "count": "x"});
        assert!(ListParams::from_search_request(ResourceKind::User, &bad).is_err());
        let bad = json!({"schemas": [SEARCH_REQUEST_SCHEMA], "attributes": [1]});
        assert!(ListParams::from_search_request(ResourceKind::User, &bad).is_err());
    }
}
