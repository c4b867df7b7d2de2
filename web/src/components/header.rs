use yew::prelude::*;

/// The page title.
#[function_component]
pub fn Header() -> Html {
    html! {
        <header class="page-header">
            <h1>{ "gicx — the GIC explorer" }</h1>
            <p class="tagline">{ "The Arm GICv3/v4.1 interrupt controller as Linux KVM virtualises it" }</p>
        </header>
    }
}
