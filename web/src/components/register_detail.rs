use gicx_core::catalogue::{Reset, CATALOGUE};
use yew::prelude::*;

/// What the catalogue says about one register family (at `position`).
pub fn register_detail(position: usize) -> Html {
    let reg = &CATALOGUE[position];
    let range = if reg.count() > 1 {
        format!(
            "{:#06x}–{:#06x}, {} × {} bytes",
            reg.offset,
            reg.end() - 1,
            reg.count(),
            reg.reg_bytes
        )
    } else {
        format!("{:#06x}, {} bytes", reg.offset, reg.reg_bytes)
    };
    let kvm = if reg.handler.is_emulated() {
        format!("{} (since {})", reg.handler.kvm_summary(), reg.kvm_since)
    } else {
        reg.handler.kvm_summary().to_string()
    };
    let reset = match reg.reset {
        Reset::Value(v) => format!("{v:#x}"),
        Reset::Computed(how) => how.to_string(),
    };
    html! {
        <article class="register-detail" aria-labelledby="register-name">
            <h2 id="register-name">{ reg.pattern() }</h2>
            <p class="summary">{ super::glossed(reg.summary) }</p>
            <dl class="facts">
                <dt>{ "Frame" }</dt><dd>{ reg.frame.as_str() }</dd>
                <dt>{ "Offset" }</dt><dd>{ range }</dd>
                <dt>{ "Access" }</dt><dd>{ format!("{}, {}-bit", reg.arch_access.as_str(), reg.widths) }</dd>
                <dt>{ "KVM" }</dt><dd>{ super::glossed(&kvm) }</dd>
                <dt>{ "Reset" }</dt><dd>{ reset }</dd>
                <dt>{ "Source" }</dt><dd><code>{ reg.source }</code></dd>
            </dl>
            if !reg.handler.is_emulated() {
                <p class="not-emulated-why">{ super::glossed(super::register_list::NOT_EMULATED) }</p>
            }
        </article>
    }
}
