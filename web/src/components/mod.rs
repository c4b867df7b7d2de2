//! The Registers view, as small function components named after what the
//! user sees. They render [`crate::state::AppState`] and send
//! [`crate::state::Msg`]; none of them decides anything itself.

mod app;
mod field_table;
mod header;
mod register_detail;
mod register_list;
mod search_box;
mod value_tester;

pub use app::App;
pub use field_table::FieldTable;
pub use header::Header;
pub use register_detail::RegisterDetail;
pub use register_list::RegisterList;
pub use search_box::SearchBox;
pub use value_tester::ValueTester;
