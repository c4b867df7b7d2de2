use gicx_core::rules;
use yew::prelude::*;

use super::{glossed, source_linked};

/// Every behaviour rule gicx models (the vGIC's, then the ITS's: `rules::every`): id (each one's link is `#rule/ID`), the
/// kernels it holds for, its sentence, its kernel source at the session's
/// kernel, and whether real KVM confirmed it. `marked` is the rule a link or a
/// rule id elsewhere in the app pointed at.
pub fn rules_view(marked: Option<&str>, kernel: &str) -> Html {
    html! {
        <section class="rules-view" aria-labelledby="rules-heading">
            <h2 id="rules-heading">{ "Rules" }</h2>
            <p class="where">{ format!("Every behaviour of KVM's vGIC and its emulated ITS that gicx models, {} rules; sources link to Linux {kernel}, the session's kernel. Every result in the app names the rules that decided it.", rules::every().count()) }</p>
            <ul class="rules">
                { for rules::every().map(|r| {
                    let is_marked = marked == Some(r.id);
                    html! {
                        <li key={r.id} id={format!("rule-{}", r.id)} class={classes!("rule", is_marked.then_some("marked"))} aria-current={is_marked.then_some("true")}>
                            <a class="rule-id" href={format!("#rule/{}", r.id)}>{ r.id }</a>
                            <span class="eras">{ " (kernels " }{ glossed(&r.eras.to_string()) }{ ")" }</span>
                            <p class="rule-text">{ glossed(r.text) }</p>
                            <p class="rule-source">{ "Source: " }{ source_linked(r.source, kernel) }</p>
                            <p class="rule-checked">{
                                gicx_core::confirmed::summary(r.id)
                                    .unwrap_or_else(|| "Not yet checked on real KVM (from the kernel source only).".into())
                            }</p>
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}
