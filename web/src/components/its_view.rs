//! The ITS view: KVM's emulated ITS of the session's VM, read back by
//! `gicx_core::vits::inspect` (registers by field, mappings, tables in guest
//! memory, the command queue), the ITS commands of the Log with KVM's answer
//! and rules, and the forms that add steps ([`crate::state::its`]).

use gicx_core::scenario::Step;
use gicx_core::vits::inspect::{describe, Inspection};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::inputs::{checkbox, selected_index, text_input};
use super::poke_panel::step_outcome;
use crate::session::Session;
use crate::state::its::{field_label, ItsForm, COMMANDS, RAM_BASE, RAM_SIZE, WRITABLE};
use crate::state::{ItsMsg, Msg, PokeResult};

/// The arguments of [`its_view`].
pub struct ItsViewProps<'a> {
    pub read_only: bool,
    pub session: &'a Session,
    pub form: &'a ItsForm,
    pub error: Option<&'a str>,
    /// What the last step did (shown when it is one of this view's).
    pub last: Option<&'a PokeResult>,
    pub on_msg: &'a Callback<Msg>,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn button(on_msg: &Callback<Msg>, msg: ItsMsg, label: &str, disabled: bool) -> Html {
    html! {
        <button type="button" {disabled} onclick={on_msg.reform(move |_: MouseEvent| Msg::Its(msg.clone()))}>{ label }</button>
    }
}

/// The ITS view.
pub fn its_view(p: &ItsViewProps) -> Html {
    let s = p.session;
    let vm = s.vm();
    let disabled = p.read_only;
    let head = html! {
        <>
            <h2 id="its-heading">{ "ITS" }</h2>
            <p class="where">{ format!("KVM's emulated ITS (KVM_DEV_TYPE_ARM_VGIC_ITS, vgic-its.c) of the session's VM ({}, {} vCPUs). It translates a device's MSI (device ID, event ID) into an LPI for a vCPU, through tables the guest gives it in guest RAM and commands the guest queues. Every form here adds a step to the Log.", s.host().compact(), vm.vcpus) }</p>
        </>
    };
    let error = p
        .error
        .map(|e| html! { <p class="error" role="alert">{ e }</p> })
        .unwrap_or_default();
    let Some(its) = s.vgic().its_inspection() else {
        return html! {
            <section class="its" aria-labelledby="its-heading">
                { head }
                <div class="empty" role="status">
                    <p><strong>{ "This VM has no ITS" }</strong>{ ": vm.its is false, so the VMM created no KVM_DEV_TYPE_ARM_VGIC_ITS device and every MSI fails (KVM_SIGNAL_MSI: -ENODEV)." }</p>
                    <p>{ format!("Add one: vm.its = true, with {} MiB of guest RAM at {RAM_BASE:#x} (vm.memory) for its tables and command queue if the VM has none. The Log's steps are kept.", RAM_SIZE >> 20) }</p>
                    { button(p.on_msg, ItsMsg::AddIts, "Give the VM an ITS", disabled) }
                </div>
                { error }
            </section>
        };
    };
    let no_ram = vm.memory.is_empty();
    let enabled = its.registers.first().is_some_and(|r| r.value & 1 == 1);
    html! {
        <section class="its" aria-labelledby="its-heading">
            { head }
            if no_ram {
                <div class="empty" role="status">
                    <p><strong>{ "This VM has no guest RAM" }</strong>{ " (vm.memory is empty): the ITS's tables and command queue live in guest RAM, so every table access fails (-EFAULT)." }</p>
                    { button(p.on_msg, ItsMsg::AddIts, "Give the VM guest RAM", disabled) }
                </div>
            }
            if !enabled {
                <div class="hint" role="status">
                    <p>{ "The ITS is disabled (GITS_CTLR.Enabled = 0): it reads no command and translates no MSI until the guest gives it a device table (GITS_BASER0), a collection table (GITS_BASER1) and a command queue (GITS_CBASER) and sets GITS_CTLR. A Linux guest also gives each redistributor its LPI tables (GICR_PROPBASER, GICR_PENDBASER) and sets GICR_CTLR.EnableLPIs." }</p>
                    { button(p.on_msg, ItsMsg::ProgramAsLinux, "Program as Linux does", disabled || no_ram) }
                    <span class="hint">{ " init and first run if needed, the redistributors' LPI tables and EnableLPIs, the ITS's tables and queue, GITS_CTLR, GICD_CTLR, ICC_PMR_EL1 and ICC_IGRPEN1_EL1: each a step of the Log." }</span>
                </div>
            }
            { error }
            { last_step(p) }
            { forms(p) }
            { routes(&its) }
            { command_log(s) }
            { registers(&its) }
            { tables(&its, p.on_msg, disabled) }
        </section>
    }
}

/// The last step, if one of this view's forms made it.
fn last_step(p: &ItsViewProps) -> Html {
    let Some(PokeResult::Done(d)) = p.last else {
        return Html::default();
    };
    if !matches!(
        d.report.op,
        "its_command" | "mem_write" | "guest_write" | "its_ctrl" | "sysreg_write"
    ) {
        return Html::default();
    }
    html! {
        <details class="its-last">
            <summary>{ format!("Last step, {}: {}", d.report.index + 1, d.report.summary) }</summary>
            { step_outcome(&d.report, &p.session.host().kernel.to_string()) }
        </details>
    }
}

fn forms(p: &ItsViewProps) -> Html {
    let (f, on_msg, disabled) = (p.form, p.on_msg, p.read_only);
    let cmd_index = COMMANDS.iter().position(|c| *c == f.cmd).unwrap_or(0);
    let fields: Vec<&'static str> = f
        .cmd
        .fields()
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| *n != "valid")
        .collect();
    let has_valid = f.cmd.fields().iter().any(|(n, _)| *n == "valid");
    let on_valid = checkbox(on_msg, |v| Msg::Its(ItsMsg::SetValid(v)));
    let reg_index = WRITABLE.iter().position(|r| *r == f.reg).unwrap_or(0);
    html! {
        <>
            <fieldset class="its-command">
                <legend>{ "ITS command (queued at GITS_CWRITER)" }</legend>
                <div class="poke-fields">
                    <div>
                        <label for="its-cmd">{ "Command" }</label>
                        <select id="its-cmd" disabled={disabled} onchange={on_msg.reform(|e: Event| Msg::Its(ItsMsg::SetCmd(COMMANDS[selected_index(&e).min(COMMANDS.len() - 1)])))}>
                            { for COMMANDS.iter().enumerate().map(|(i, c)| html! { <option value={i.to_string()} selected={i == cmd_index}>{ c.as_str().to_uppercase() }</option> }) }
                        </select>
                    </div>
                    { for fields.iter().map(|&name| {
                        let id = format!("its-{name}");
                        html! {
                            <div>
                                <label for={id.clone()}>{ field_label(name) }</label>
                                <input id={id} type="text" value={f.field(name).to_string()} readonly={disabled}
                                    oninput={on_msg.reform(move |e: InputEvent| Msg::Its(ItsMsg::SetField(name, e.target_unchecked_into::<HtmlInputElement>().value())))} />
                            </div>
                        }
                    }) }
                    if has_valid {
                        <label class="inline"><input id="its-valid" type="checkbox" checked={f.valid} onchange={on_valid} {disabled} />{ "Valid (V=1: map; V=0: unmap)" }</label>
                    }
                </div>
                { button(on_msg, ItsMsg::Queue, "Queue command", disabled) }
            </fieldset>
            <fieldset class="its-memory">
                <legend>{ "Guest memory write (the VMM's mem_write)" }</legend>
                <div class="poke-fields">
                    <div><label for="its-mem-addr">{ "Address" }</label>
                        <input id="its-mem-addr" type="text" value={f.mem_addr.clone()} readonly={disabled} oninput={text_input(on_msg, |v| Msg::Its(ItsMsg::SetMemAddr(v)))} /></div>
                    <div><label for="its-mem-width">{ "Width" }</label>
                        <select id="its-mem-width" disabled={disabled} onchange={on_msg.reform(|e: Event| Msg::Its(ItsMsg::SetMemWidth([8u8, 16, 32, 64][selected_index(&e).min(3)])))}>
                            { for [8u8, 16, 32, 64].iter().enumerate().map(|(i, w)| html! { <option value={i.to_string()} selected={*w == f.mem_width}>{ format!("{w} bits") }</option> }) }
                        </select></div>
                    <div><label for="its-mem-value">{ "Value" }</label>
                        <input id="its-mem-value" type="text" value={f.mem_value.clone()} readonly={disabled} oninput={text_input(on_msg, |v| Msg::Its(ItsMsg::SetMemValue(v)))} /></div>
                </div>
                <p class="hint">{ "An LPI's property byte is at GICR_PROPBASER + (INTID − 8192): priority in bits [7:2], Enable in bit 0 (0xa1: priority 0xa0, enabled)." }</p>
                { button(on_msg, ItsMsg::WriteMem, "Write guest memory", disabled) }
            </fieldset>
            <fieldset class="its-register">
                <legend>{ "GITS register write (a guest store)" }</legend>
                <div class="poke-fields">
                    <div><label for="its-reg">{ "Register" }</label>
                        <select id="its-reg" disabled={disabled} onchange={on_msg.reform(|e: Event| Msg::Its(ItsMsg::SetReg(WRITABLE[selected_index(&e).min(WRITABLE.len() - 1)].to_string())))}>
                            { for WRITABLE.iter().enumerate().map(|(i, r)| html! { <option value={i.to_string()} selected={i == reg_index}>{ *r }</option> }) }
                        </select></div>
                    <div><label for="its-reg-value">{ "Value" }</label>
                        <input id="its-reg-value" type="text" value={f.reg_value.clone()} readonly={disabled} oninput={text_input(on_msg, |v| Msg::Its(ItsMsg::SetRegValue(v)))} /></div>
                </div>
                { button(on_msg, ItsMsg::WriteReg, "Write register", disabled) }
            </fieldset>
        </>
    }
}

fn routes(its: &Inspection) -> Html {
    html! {
        <section class="its-routes" aria-labelledby="its-routes-heading">
            <h3 id="its-routes-heading">{ "Mappings KVM holds" }</h3>
            if its.routes.is_empty() {
                <p class="hint">{ "No event is mapped yet. With the ITS enabled, queue MAPD (the device and its ITT), MAPC (a collection to a vCPU) and MAPTI (an event to an LPI in that collection)." }</p>
            } else {
                <table class="its-routes-table">
                    <thead><tr>
                        <th scope="col">{ "Device" }</th><th scope="col">{ "Event" }</th><th scope="col">{ "LPI" }</th>
                        <th scope="col">{ "Collection" }</th><th scope="col">{ "Redistributor" }</th><th scope="col">{ "LPI state (KVM's copy)" }</th>
                        <th scope="col">{ "Property byte (guest RAM)" }</th>
                    </tr></thead>
                    <tbody>
                        { for its.routes.iter().map(|r| html! {
                            <tr>
                                <td>{ format!("{:#x} ({} event bits, ITT {:#x})", r.device, r.eventid_bits, r.itt_addr) }</td>
                                <td>{ r.event }</td>
                                <td>{ r.intid }</td>
                                <td>{ r.collection.map_or("(unmapped)".into(), |c| c.to_string()) }</td>
                                <td>{ match (r.vcpu, r.enable_lpis) {
                                    (Some(v), Some(true)) => format!("vCPU {v}, LPIs enabled"),
                                    (Some(v), _) => format!("vCPU {v}, LPIs disabled (GICR_CTLR.EnableLPIs = 0)"),
                                    (None, _) => "none: the collection is not mapped".into(),
                                } }</td>
                                <td>{ r.lpi.map_or("unknown".into(), |l| format!("priority {:#x}, {}, {}", l.priority, if l.enabled { "enabled" } else { "disabled" }, if l.pending { "pending" } else { "not pending" })) }</td>
                                <td>{ r.property.map_or("outside the table or RAM".into(), |b| format!("{b:#04x}: priority {:#x}, {}", b & 0xfc, if b & 1 == 1 { "enabled" } else { "disabled" })) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            }
            if !its.collections.is_empty() {
                <p class="mono">{ "Collections: " }{ its.collections.iter().map(|c| format!("{} → {}", c.id, c.target.map_or("unmapped".into(), |t| format!("vCPU {t}")))).collect::<Vec<_>>().join(", ") }</p>
            }
        </section>
    }
}

/// The ITS commands of the Log, in order, with KVM's answer and its rules.
fn command_log(s: &Session) -> Html {
    let replay = s.replay();
    let rows: Vec<Html> = s
        .steps()
        .iter()
        .zip(replay.reports.iter())
        .filter_map(|(step, r)| match step {
            Step::ItsCommand(c) => Some(html! {
                <li class="its-cmd-entry">
                    <strong>{ format!("Step {}: {}", r.index + 1, describe(&c.command())) }</strong>
                    <div class="hint">{ r.outcome.as_ref().and_then(|o| o.notes.first().cloned()).unwrap_or_else(|| r.summary.clone()) }</div>
                    if let Some(o) = &r.outcome {
                        <div class="mono">{ format!("GITS_CREADR = {:#x}; rules: {}", o.value, o.rules.iter().map(|x| x.id).collect::<Vec<_>>().join(", ")) }</div>
                    }
                </li>
            }),
            _ => None,
        })
        .collect();
    html! {
        <section class="its-log" aria-labelledby="its-log-heading">
            <h3 id="its-log-heading">{ "Command queue" }</h3>
            if rows.is_empty() {
                <p class="hint">{ "No command queued yet (the form above queues one: the guest writes 32 bytes at GITS_CWRITER, then advances it; KVM handles the command inside that store)." }</p>
            } else {
                <ol class="its-commands">{ for rows }</ol>
            }
        </section>
    }
}

fn registers(its: &Inspection) -> Html {
    html! {
        <section class="its-registers" aria-labelledby="its-regs-heading">
            <h3 id="its-regs-heading">{ "Registers (as the guest reads them)" }</h3>
            if !its.touched {
                <p class="hint">{ "No step has used the ITS yet: these are its values after KVM_CREATE_DEVICE (vgic_its_create)." }</p>
            }
            <table class="its-regs">
                <thead><tr><th scope="col">{ "Register" }</th><th scope="col">{ "Value" }</th><th scope="col">{ "Fields" }</th></tr></thead>
                <tbody>
                    { for its.registers.iter().map(|r| html! {
                        <tr>
                            <th scope="row" class="mono">{ &r.name }</th>
                            <td class="mono">{ hex(r.value) }</td>
                            <td><ul class="fields">{ for r.fields.iter().map(|f| html! { <li>{ format!("{} [{}] = {:#x}: {}", f.name, f.bits, f.value, f.meaning) }</li> }) }</ul></td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </section>
    }
}

fn tables(its: &Inspection, on_msg: &Callback<Msg>, disabled: bool) -> Html {
    let dt = &its.device_table;
    let ct = &its.collection_table;
    html! {
        <section class="its-tables" aria-labelledby="its-tables-heading">
            <h3 id="its-tables-heading">{ "Tables in guest memory (ABI revision 0)" }</h3>
            <p class="hint">{ "KVM keeps its mappings in kernel memory: the guest's device table, ITTs and collection table hold entries only after KVM_DEV_ARM_ITS_SAVE_TABLES wrote them, or before KVM_DEV_ARM_ITS_RESTORE_TABLES reads them (a migration). Each entry is 8 bytes (vgic_its_save_dte, _ite, _cte)." }</p>
            { button(on_msg, ItsMsg::SaveTables, "Save the tables (KVM_DEV_ARM_ITS_SAVE_TABLES)", disabled) }
            <h4>{ "Device table (GITS_BASER0)" }</h4>
            if !dt.valid {
                <p class="hint">{ "Not set (GITS_BASER0.Valid = 0)." }</p>
            } else {
                <p class="mono">{ format!("{} at {:#x}, {} KiB{}", if dt.indirect { "two-level" } else { "flat" }, dt.base, dt.bytes >> 10, if dt.more > 0 { format!("; {} more entries not listed", dt.more) } else { String::new() }) }</p>
                if let Some(e) = &dt.problem { <p class="error">{ e }</p> }
                if dt.entries.is_empty() {
                    <p class="hint">{ "No entry written." }</p>
                } else {
                    <ul class="its-dtes">
                        { for dt.entries.iter().map(|d| html! {
                            <li>
                                { format!("device {:#x} @ {:#x} = {:#018x}: ITT {:#x}, {} event bits, next +{}", d.dte.id, d.dte.gpa, d.dte.raw, d.dte.decoded.itt_addr, d.dte.decoded.eventid_bits, d.dte.decoded.next) }
                                if let Some(e) = &d.itt_problem { <p class="error">{ format!("ITT: {e}") }</p> }
                                <ul>{ for d.ites.iter().map(|i| html! { <li class="mono">{ format!("event {} @ {:#x} = {:#018x}: LPI {}, collection {}, next +{}", i.id, i.gpa, i.raw, i.decoded.intid, i.decoded.icid, i.decoded.next) }</li> }) }</ul>
                            </li>
                        }) }
                    </ul>
                }
            }
            <h4>{ "Collection table (GITS_BASER1)" }</h4>
            if !ct.valid {
                <p class="hint">{ "Not set (GITS_BASER1.Valid = 0)." }</p>
            } else {
                <p class="mono">{ format!("at {:#x}, {} KiB", ct.base, ct.bytes >> 10) }</p>
                if let Some(e) = &ct.problem { <p class="error">{ e }</p> }
                if ct.entries.is_empty() {
                    <p class="hint">{ "No entry written." }</p>
                } else {
                    <ul>{ for ct.entries.iter().map(|c| html! { <li class="mono">{ format!("collection {} @ {:#x} = {:#018x}: {}", c.decoded.icid, c.gpa, c.raw, c.decoded.target.map_or("not mapped".into(), |t| format!("vCPU {t}"))) }</li> }) }</ul>
                }
            }
            <h4>{ "Command queue in guest memory (GITS_CBASER)" }</h4>
            if let Some(e) = &its.queue_problem { <p class="error">{ e }</p> }
            if its.queue.is_empty() {
                <p class="hint">{ "Empty." }</p>
            } else {
                <ol class="its-queue" start="0">{ for its.queue.iter().map(|q| html! {
                    <li class="mono">{ format!("{:#x} @ {:#x}: {} [{}]", q.offset, q.gpa, describe(&q.command), if q.processed { "read by KVM" } else { "waiting" }) }</li>
                }) }</ol>
            }
        </section>
    }
}
