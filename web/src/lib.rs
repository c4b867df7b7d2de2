//! gicx-web: the browser explorer. It holds no domain logic: the register
//! catalogue and the decoder live in `gicx-core`; this crate is a plain state
//! machine ([`state`]) and thin Yew views over it ([`components`]).

pub mod components;
pub mod state;
pub mod value;

pub use components::App;
