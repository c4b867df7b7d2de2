use std::rc::Rc;

use gloo::storage::{LocalStorage, Storage};
use yew::prelude::*;

use super::{FieldTable, Header, RegisterDetail, RegisterList, SearchBox, ValueTester};
use crate::state::{AppState, Msg};

/// Where the view state is kept between visits.
const STORAGE_KEY: &str = "gicx.registers.v1";

impl Reducible for AppState {
    type Action = Msg;

    fn reduce(self: Rc<Self>, msg: Msg) -> Rc<Self> {
        Rc::new((*self).clone().apply(msg))
    }
}

/// The whole page: the catalogue on the left, the selected register on the right.
#[function_component]
pub fn App() -> Html {
    let state = use_reducer(|| LocalStorage::get::<AppState>(STORAGE_KEY).unwrap_or_default());
    use_effect_with((*state).clone(), |state| {
        // Storage can be full or disabled (private mode): the page works without it.
        let _ = LocalStorage::set(STORAGE_KEY, state);
    });
    let on_msg = {
        let state = state.clone();
        Callback::from(move |msg: Msg| state.dispatch(msg))
    };
    let matches = state.matches();

    html! {
        <>
            <Header />
            <main class="registers">
                <section class="catalogue" aria-labelledby="catalogue-heading">
                    <h2 id="catalogue-heading">{ "Registers" }</h2>
                    <SearchBox
                        query={state.query.clone()}
                        results={matches.len()}
                        on_search={on_msg.reform(Msg::Search)}
                    />
                    <RegisterList
                        matches={matches}
                        selected={state.selected_position()}
                        on_msg={on_msg.clone()}
                    />
                </section>
                <section class="detail" aria-label="Selected register">
                    if let (Some(position), Some(reg)) = (state.selected_position(), state.selected_instance()) {
                        <RegisterDetail {position} />
                        <ValueTester
                            value={state.value.clone()}
                            error={state.tested_value().and_then(Result::err).map(|e| e.to_string())}
                            instance={reg.index}
                            instance_name={reg.name()}
                            instance_offset={reg.offset()}
                            instances={reg.desc.indexed.then(|| reg.desc.count())}
                            on_msg={on_msg.clone()}
                        />
                        <FieldTable register={reg.name()} rows={state.field_rows()} />
                    } else {
                        <p class="hint">{ "Select a register to see its fields and test a value." }</p>
                    }
                </section>
            </main>
        </>
    }
}
