//! Integration tests of the service: one binary, a module per area
//! (every file directly in `tests/` would be a separate link).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod api;
mod api_authz;
mod api_flows;
mod api_purge;
mod audit;
mod audit_head;
mod cli;
mod cli_purge;
mod common;
mod decide;
mod door_defects;
mod dto;
mod enrol;
mod erasure;
mod events_api;
mod feed;
mod flood;
mod interop;
mod layers;
mod lifecycle;
mod net;
mod openapi;
mod osdp;
mod props;
mod purge;
mod purge_crash;
mod race;
mod readers;
mod recycle;
mod schema_v5;
mod schema_v6;
mod schema_v7;
mod scope;
mod server;
mod twins;
mod ui_admin;
mod ui_attack;
mod ui_browser;
mod ui_cards;
mod ui_http;
mod ui_matrix;
mod ui_person;
mod ui_purge;
