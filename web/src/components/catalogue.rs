use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{search_box, RegisterList};
use crate::state::{Msg, RegistersMsg};

/// The arguments of [`catalogue`].
pub struct CatalogueProps {
    pub query: String,
    /// Positions in the catalogue the search matches.
    pub matches: Rc<Vec<usize>>,
    pub selected: Option<usize>,
    /// Positions the last poke changed.
    pub changed: Rc<Vec<usize>>,
    pub vcpu: u32,
    pub vcpus: u32,
    pub on_msg: Callback<Msg>,
}

/// The register catalogue: search, the vCPU whose redistributor is shown, and
/// the list.
pub fn catalogue(props: &CatalogueProps) -> Html {
    let on_vcpu = props.on_msg.reform(|e: InputEvent| {
        let text = e.target_unchecked_into::<HtmlInputElement>().value();
        Msg::SetVcpu(text.trim().parse().unwrap_or(0))
    });
    html! {
        <section class="catalogue" aria-labelledby="catalogue-heading">
            <h2 id="catalogue-heading">{ "Registers" }</h2>
            { search_box(&props.query, props.matches.len(), &props.on_msg.reform(|v| Msg::Registers(RegistersMsg::Search(v)))) }
            <div class="vcpu-picker">
                <label for="vcpu">{ "vCPU" }</label>
                <input
                    id="vcpu"
                    type="number"
                    min="0"
                    max={(props.vcpus - 1).to_string()}
                    value={props.vcpu.to_string()}
                    aria-describedby="vcpu-help"
                    oninput={on_vcpu}
                />
                <span id="vcpu-help" class="hint">
                    { format!("accesses the distributor; its redistributor is shown (0–{})", props.vcpus - 1) }
                </span>
            </div>
            <RegisterList
                matches={props.matches.clone()}
                selected={props.selected}
                changed={props.changed.clone()}
                on_msg={props.on_msg.clone()}
            />
            <p class="hint list-legend">{ super::glossed(super::register_list::NOT_EMULATED) }</p>
        </section>
    }
}
