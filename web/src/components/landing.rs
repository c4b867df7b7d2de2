use yew::prelude::*;

use crate::state::{Journey, Msg, LANDING_REGISTER};

/// The first screen of a fresh start: three ways in, one per kind of reader
/// (someone learning how KVM virtualises the GIC, someone looking up a
/// register, someone reviewing a migration), each one click from its answer.
pub fn landing(on_msg: &Callback<Msg>) -> Html {
    let begin = |j: Journey| on_msg.reform(move |_: MouseEvent| Msg::Begin(j));
    html! {
        <section class="landing" aria-labelledby="landing-heading">
            <h2 id="landing-heading">{ "Start here" }</h2>
            <p>{ "gicx shows what Linux KVM does when a guest or a VMM touches the virtual GICv3 interrupt controller, bit for bit, for each kernel era. Three ways in:" }</p>
            <ul class="journeys">
                <li>
                    <h3>{ "Learn" }</h3>
                    <p>{ "Follow one interrupt from the guest's SGI write to the vCPU that takes it, step by step, with each rule KVM applies." }</p>
                    <button type="button" onclick={begin(Journey::Learn)}>{ "Start the lesson: Your first SGI" }</button>
                </li>
                <li>
                    <h3>{ "Look up a register" }</h3>
                    <p>{ "Search the list by name, offset (0x104) or word; each register shows its fields, its value now as the guest and the VMM read it, and a value decoder." }</p>
                    <button type="button" onclick={begin(Journey::LookUp)}>{ format!("Look up {LANDING_REGISTER}") }</button>
                </li>
                <li>
                    <h3>{ "Check a migration" }</h3>
                    <p>{ "Save a VM with a VMM's recipe, restore it on another host and see whether the guest notices: compatible, rejected, or silently broken, with the reasons." }</p>
                    <button type="button" onclick={begin(Journey::CheckMigration)}>{ "Migrate a Linux guest with firecracker" }</button>
                </li>
            </ul>
        </section>
    }
}
