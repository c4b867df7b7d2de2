//! The views, named after what the user sees. Function components where
//! memoisation pays (the register list and its entries, the current value,
//! the log and its entries); plain functions returning `Html` for the rest:
//! each component costs bundle size, and these gain nothing from skipping a
//! re-render.
//! They render [`crate::state::AppState`] and send [`crate::state::Msg`];
//! none of them decides anything itself.

mod app;
mod banners;
mod catalogue;
mod current_value;
mod delivery_view;
mod embed_footer;
mod field_table;
mod glossed;
mod host_view;
mod inputs;
mod its_view;
mod landing;
mod lessons_view;
mod log_view;
mod matrix_view;
mod migrate_view;
mod page_header;
mod poke_panel;
mod register_detail;
mod register_list;
mod register_panel;
mod rules_view;
mod search_box;
mod tab_bar;
mod value_tester;

pub use app::{App, AppProps, Start};
pub use banners::banners;
pub use catalogue::{catalogue, CatalogueProps};
pub use current_value::CurrentValue;
pub use delivery_view::{delivery_view, sgi_outcome_lines, DeliveryViewProps};
pub use embed_footer::embed_footer;
pub use field_table::field_table;
pub use glossed::{glossed, source_linked};
pub use host_view::{host_view, HostViewProps};
pub use its_view::{its_view, ItsViewProps};
pub use landing::landing;
pub use lessons_view::{lessons_view, LessonsViewProps};
pub use log_view::{log_view, LogEntry, LogViewProps};
pub use matrix_view::{matrix_cell_embed, matrix_view};
pub use migrate_view::{migrate_view, verdict_detail, MigrateViewProps};
pub use page_header::{page_header, PageHeaderProps};
pub use poke_panel::{changed_registers, explanation, poke_panel, step_outcome, PokePanelProps};
pub use register_detail::register_detail;
pub use register_list::{RegisterList, RegisterOption};
pub use register_panel::{register_panel, RegisterPanelProps};
pub use rules_view::rules_view;
pub use search_box::search_box;
pub use tab_bar::{focus_selected_tab, tab_bar};
pub use value_tester::{bit_toggles, value_tester, ValueTesterProps};
