use yew::prelude::*;

use crate::state::{Banner, Msg};

/// Problems the app met (a damaged link or saved state, a log that cannot be
/// replayed), each naming the part and the reason, until dismissed. The app
/// keeps working beneath them. (A plain function, like the other small
/// stateless views: a component per piece would cost bundle size for nothing.)
pub fn banners(banners: &[Banner], on_msg: &Callback<Msg>) -> Html {
    if banners.is_empty() {
        return html! {};
    }
    html! {
        <div class="banners">
            { for banners.iter().map(|b| {
                let id = b.id;
                let dismiss = on_msg.reform(move |_: MouseEvent| Msg::Dismiss(id));
                html! {
                    <div key={id} class="banner" role="alert">
                        <strong>{ &b.title }</strong>
                        <span class="detail">{ &b.detail }</span>
                        <button type="button" class="dismiss" aria-label={format!("Dismiss: {}", b.title)} onclick={dismiss}>{ "×" }</button>
                    </div>
                }
            }) }
        </div>
    }
}
