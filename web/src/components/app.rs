use std::cell::Cell;
use std::rc::Rc;

use gicx_core::permalink::{Embed, Fragment};
use gloo::events::EventListener;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::{
    banners, catalogue, embed_footer, focus_selected_tab, host_view, log_view, page_header,
    poke_panel, register_panel, tab_bar, CatalogueProps, HostViewProps, LogViewProps,
    PageHeaderProps, PokePanelProps, RegisterPanelProps,
};
use super::{
    delivery_view, lessons_view, matrix_cell_embed, matrix_view, migrate_view, DeliveryViewProps,
    LessonsViewProps, MigrateViewProps,
};
use crate::browser;
use crate::explore::{AuditRunner, AUDIT_SLICE_MS};
use crate::links;
use crate::state::{changed_positions, matches, AppState, LogMsg, MatrixMsg, Msg};
use crate::view::View;

impl Reducible for AppState {
    type Action = Msg;

    fn reduce(self: Rc<Self>, msg: Msg) -> Rc<Self> {
        Rc::new((*self).clone().apply(msg))
    }
}

/// What the page starts from, made before it mounts ([`Start::load`]): links are
/// inflated and deflated by the browser, asynchronously ([`crate::links`]).
pub struct Start {
    /// From the address bar, else the browser's storage, else fresh; with
    /// banners for a link or saved state that could not be read.
    pub state: AppState,
    /// The state's link text (`v1.…`).
    pub link: String,
}

impl Start {
    /// Read the address bar and the browser's storage, and encode the link.
    pub async fn load() -> Start {
        let state = browser::initial_state().await;
        let link = links::encode(&state.permalink()).await;
        Start { state, link }
    }
}

#[derive(Properties, Clone)]
pub struct AppProps {
    pub start: Rc<Start>,
}

impl PartialEq for AppProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.start, &other.start)
    }
}

/// The whole page: banners, the header, the tab bar and the selected view; or,
/// embedded in another page, the one view and an "Open in gicx" link.
#[function_component]
pub fn App(props: &AppProps) -> Html {
    let state = {
        let start = props.start.clone();
        use_reducer(move || start.state.clone())
    };
    let on_msg: Callback<Msg> = {
        let dispatcher = state.dispatcher();
        (*use_memo((), move |_| Callback::from(move |m| dispatcher.dispatch(m)))).clone()
    };

    // First (effects run in order, and keeping the state rewrites the fragment):
    // `#debug/panic`. Then, another link opened in this tab (edited address):
    // restore it, or say what is wrong with it. Ctrl+Z / Ctrl+Shift+Z undo and
    // redo, except in text fields, where they edit the text.
    {
        let on_msg = on_msg.clone();
        use_effect_with((), move |_| {
            if browser::location_hash() == browser::DEBUG_PANIC {
                on_msg.emit(Msg::DebugPanic);
            }
            let window = gloo::utils::window();
            let on_hash = {
                let on_msg = on_msg.clone();
                EventListener::new(&window, "hashchange", move |_| {
                    let (on_msg, hash) = (on_msg.clone(), browser::location_hash());
                    if crate::state::register_route(&hash).is_some() {
                        on_msg.emit(Msg::OpenRegisterLink(hash));
                        return;
                    }
                    if crate::state::rule_route(&hash).is_some() {
                        on_msg.emit(Msg::OpenRuleLink(hash));
                        return;
                    }
                    yew::platform::spawn_local(async move {
                        match links::parse_fragment(&hash).await {
                            Ok(Some(Fragment { link, embed })) => {
                                on_msg.emit(Msg::Restore(Box::new(link), embed))
                            }
                            Ok(None) => {}
                            Err(e) => on_msg.emit(Msg::Problem {
                                title: "This link could not be opened".into(),
                                detail: format!("{e}. You are still seeing your last work."),
                            }),
                        }
                    })
                })
            };
            // Not passive (gloo's default): it calls preventDefault.
            let options = gloo::events::EventListenerOptions::enable_prevent_default();
            let on_key = EventListener::new_with_options(
                &gloo::utils::document(),
                "keydown",
                options,
                move |e| {
                    let Some(e) = e.dyn_ref::<KeyboardEvent>() else {
                        return;
                    };
                    if !(e.ctrl_key() || e.meta_key()) || e.alt_key() {
                        return;
                    }
                    let editing = e
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                        .is_some_and(|el| {
                            matches!(el.tag_name().as_str(), "TEXTAREA")
                                || (el.tag_name() == "INPUT"
                                    && !matches!(
                                        el.get_attribute("type").as_deref(),
                                        Some("checkbox" | "radio" | "button" | "file")
                                    ))
                        });
                    if editing {
                        return;
                    }
                    let msg = match (e.key().to_ascii_lowercase().as_str(), e.shift_key()) {
                        ("z", false) => Msg::Log(LogMsg::Undo),
                        ("z", true) | ("y", false) => Msg::Log(LogMsg::Redo),
                        _ => return,
                    };
                    e.prevent_default();
                    on_msg.emit(msg);
                },
            );
            move || drop((on_hash, on_key))
        });
    }

    // The link text, made again whenever a linked part of the state changes, and
    // kept (address bar, storage). The browser compresses it asynchronously, so it
    // follows the state a moment later; an answer overtaken by a newer state is
    // dropped (the ticket).
    let link = {
        let start = props.start.clone();
        use_state(move || Rc::new(start.link.clone()))
    };
    let ticket = use_mut_ref(|| 0u64);
    {
        let (state, link, ticket) = (state.clone(), link.clone(), ticket.clone());
        use_effect_with(state.link_key(), move |_| {
            let mine = {
                let mut t = ticket.borrow_mut();
                *t += 1;
                *t
            };
            if mine == 1 {
                // Mounting: the start link is this state's.
                browser::keep(&state, &link);
                return;
            }
            let permalink = state.permalink();
            yew::platform::spawn_local(async move {
                let text = links::encode(&permalink).await;
                if *ticket.borrow() == mine {
                    browser::keep(&state, &text);
                    link.set(Rc::new(text));
                }
            });
        });
    }
    let link = (*link).clone();
    use_effect_with(state.theme, |theme| {
        browser::apply_theme(*theme);
        if *theme == crate::state::Theme::System {
            browser::storage_set(browser::THEME_KEY, "");
        } else {
            browser::storage_set(browser::THEME_KEY, theme.id());
        }
    });
    use_effect_with(state.view, |view| focus_selected_tab(*view));
    // The Rules view opened on a rule: bring that rule into view.
    use_effect_with((state.view, state.rule.clone()), |(view, rule)| {
        if let (View::Rules, Some(id)) = (view, rule) {
            if let Some(el) = gloo::utils::document().get_element_by_id(&format!("rule-{id}")) {
                el.scroll_into_view();
            }
        }
    });
    // Embedded: report the view's height to the page around the frame.
    use_effect_with(state.embed.is_some(), |embedded| {
        let reports = if *embedded {
            browser::report_embed_height()
        } else {
            None
        };
        move || drop(reports)
    });
    // The Matrix view shown without its tables: compute them (every
    // source × destination migration, twice) once this render is painted ("Computing both matrices…"), and
    // send them to the reducer, which keeps them if the form still asks for them.
    {
        let on_msg = on_msg.clone();
        use_effect_with(state.matrix_pending(), move |pending| {
            // Dropped before it runs (the form changed, the view left): not computed.
            let cancelled = Rc::new(Cell::new(false));
            if let Some(request) = *pending {
                let cancelled = cancelled.clone();
                browser::later(move || {
                    if cancelled.get() {
                        return;
                    }
                    let tables = crate::state::matrix::compute_tables(&request);
                    on_msg.emit(Msg::Matrix(MatrixMsg::Tables(request, tables)));
                });
            }
            move || cancelled.set(true)
        });
    }
    // A running audit: the job lives here, not in the state (the reducer copies
    // states). After each slice has been rendered, the next one, in a later task
    // (the key is the run and how far it is, so every slice schedules one more);
    // each slice runs for at most AUDIT_SLICE_MS by the page's clock. No run:
    // the job is dropped (Stop), and a slice scheduled before Stop does nothing.
    let runner = use_mut_ref(|| None::<AuditRunner>);
    {
        let on_msg = on_msg.clone();
        let options = state.matrix.audit_options.clone();
        use_effect_with(state.matrix.audit.running_at(), move |at| {
            let cancelled = Rc::new(Cell::new(false));
            match *at {
                Some((run, _)) => {
                    let cancelled = cancelled.clone();
                    browser::later(move || {
                        if cancelled.get() {
                            return;
                        }
                        let mut runner = runner.borrow_mut();
                        if runner.as_ref().is_none_or(|r| r.run != run) {
                            *runner = Some(AuditRunner::new(run, &options));
                        }
                        if let Some(r) = runner.as_mut() {
                            let msg = r.slice(AUDIT_SLICE_MS, &browser::now_ms);
                            if matches!(msg, MatrixMsg::AuditDone { .. }) {
                                *runner = None;
                            }
                            drop(runner);
                            on_msg.emit(Msg::Matrix(msg));
                        }
                    })
                }
                None => *runner.borrow_mut() = None,
            }
            move || cancelled.set(true)
        });
    }
    // The link field appears when the clipboard failed: select it to copy by hand.
    use_effect_with(state.share.share, |share| {
        if *share == crate::state::Share::Link {
            browser::select_field("share-link");
        }
    });
    let query = state.registers.query.clone();
    let found = use_memo(query, |q| matches(q));
    let changed = {
        let last = state.work.last.clone();
        use_memo(last.as_ref().map(|l| Rc::as_ptr(l) as usize), move |_| {
            changed_positions(last.as_deref())
        })
    };

    let read_only = state.read_only();
    let embedded = state.embed.is_some();
    let view = state.view;
    let register = state
        .selected_instance()
        .map(|r| (state.selected_position().unwrap_or(0), r.index));
    let catalogue_html = || {
        catalogue(&CatalogueProps {
            query: state.registers.query.clone(),
            matches: found.clone(),
            selected: state.selected_position(),
            changed: changed.clone(),
            vcpu: state.work.vcpu,
            vcpus: state.work.session.vm().vcpus,
            on_msg: on_msg.clone(),
        })
    };
    let register_html = || {
        register_panel(&RegisterPanelProps {
            read_only,
            register,
            vcpu: state.work.vcpu,
            replay: state.work.session.replay().clone(),
            value: state.registers.value.clone(),
            on_msg: on_msg.clone(),
        })
    };
    let poke_html = || {
        poke_panel(&PokePanelProps {
            read_only,
            register,
            vcpu: state.work.vcpu,
            form: state.poke.clone(),
            last: state.work.last.clone(),
            session: state.work.session.clone(),
            on_msg: on_msg.clone(),
        })
    };
    // One arm per view: adding a view is adding an arm.
    let body = match view {
        View::Registers if embedded && register.is_some() => register_html(),
        View::Registers if state.landing() => {
            html! { <div class="split">{ catalogue_html() }{ super::landing(&on_msg) }</div> }
        }
        View::Registers => {
            html! { <div class="split">{ catalogue_html() }{ register_html() }</div> }
        }
        View::Poke if embedded && register.is_some() => poke_html(),
        View::Poke => html! { <div class="split">{ catalogue_html() }{ poke_html() }</div> },
        View::Log => log_view(&LogViewProps {
            read_only,
            session: state.work.session.clone(),
            import_error: state.log.import_error.clone(),
            import_note: state.log.import_note.clone(),
            export_expectations: state.log.export_expectations,
            on_msg: on_msg.clone(),
        }),
        View::Host => host_view(&HostViewProps {
            read_only,
            session: state.work.session.clone(),
            form: state.host.clone(),
            on_msg: on_msg.clone(),
        }),
        View::Migrate => migrate_view(&MigrateViewProps {
            read_only,
            session: state.work.session.clone(),
            form: state.migrate.form.clone(),
            error: state.migrate.error.clone(),
            block: state.migrate.block.clone(),
            replaced_by: state.work.replaced.as_ref().map(|r| r.by.clone()),
            on_msg: on_msg.clone(),
        }),
        View::Matrix if embedded && state.matrix.cell.is_some() => matrix_cell_embed(&state.matrix),
        View::Matrix => matrix_view(&state.matrix, read_only, &on_msg),
        View::Delivery => delivery_view(&DeliveryViewProps {
            read_only,
            session: state.work.session.clone(),
            form: state.delivery.form.clone(),
            error: state.delivery.error.clone(),
            on_msg: on_msg.clone(),
        }),
        View::Its => super::its_view(&super::ItsViewProps {
            read_only,
            session: &state.work.session,
            form: &state.its.form,
            error: state.its.error.as_deref(),
            last: state.work.last.as_deref(),
            on_msg: &on_msg,
        }),
        View::Rules => super::rules_view(
            state.rule.as_deref(),
            &state.work.session.host().kernel.to_string(),
        ),
        View::Lessons => lessons_view(&LessonsViewProps {
            read_only,
            lesson: state.work.lesson.as_ref(),
            session: &state.work.session,
            replaced_by: state.work.replaced.as_ref().map(|r| r.by.as_str()),
            on_msg: &on_msg,
        }),
    };

    let banners = banners(state.work.banners.list(), &on_msg);
    if let Some(embed) = state.embed {
        // The view scrolls inside the frame and the footer stays in sight, whatever
        // the frame's height; the page around it is told the height that needs no
        // scrolling (the effect above).
        let href = format!("{}#{}", browser::page_address(), link);
        return html! {
            <main class={classes!("embed", format!("view-{}", view.id()))} aria-label={state.embed_title()}>
                <div class="embed-body">
                    <div class="embed-content">
                        { banners }
                        { body }
                    </div>
                </div>
                { embed_footer(href, embed == Embed::Interactive) }
            </main>
        };
    }
    html! {
        <>
            { banners }
            { page_header(&PageHeaderProps {
                link: link.clone(),
                view,
                theme: state.theme,
                share: state.share.share,
                status: state.share.status.clone(),
                embed_title: state.embed_title(),
                embed_height: state.embed_height(),
                on_msg: on_msg.clone(),
            }) }
            { tab_bar(view, &on_msg) }
            <main
                id={format!("panel-{}", view.id())}
                class={classes!("view", format!("view-{}", view.id()))}
                role="tabpanel"
                aria-labelledby={format!("tab-{}", view.id())}
            >
                { body }
            </main>
        </>
    }
}
