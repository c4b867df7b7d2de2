//! gicx-web: the browser explorer. It holds no domain logic: the register
//! catalogue, the model, scenarios, read-back and permalinks live in
//! `gicx-core`; this crate is a plain state machine ([`state`], over a
//! [`session::Session`]) and thin Yew views over it ([`components`]).

pub mod browser;
pub mod components;
pub mod explain;
pub mod explore;
pub mod glossary;
pub mod host_form;
pub mod links;
pub mod poke;
pub mod session;
pub mod state;
pub mod value;
pub mod view;
pub mod view_link;

pub use components::{App, AppProps, Start};
