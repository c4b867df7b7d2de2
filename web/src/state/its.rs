//! The ITS view: KVM's emulated ITS of the session's VM (registers, mappings,
//! tables in guest memory, the command queue) and three forms that add steps
//! to the session — an ITS command (`its_command`, every field), a guest-memory
//! write (`mem_write`) and a GITS_* register write (`guest_write` in the `its`
//! frame) — plus two buttons: give the VM an ITS and guest RAM (`vm.its`,
//! `vm.memory`), and program the redistributors' LPI tables and the ITS as
//! Linux does (`its_cpu_init_lpis`, `its_init`), each a step of the Log.

use gicx_core::guest_memory::{MemoryLayout, Region};
use gicx_core::scenario::{ItsCmd, ItsCommandStep, MemStep, Num, RegStep, Step};
use serde::{Deserialize, Serialize};

use super::clip;
use super::work::Work;

/// Where "Give the VM an ITS" puts guest RAM when the VM has none: 16 MiB at
/// 0x50000000, the lesson's and `kvm-its-msi-end-to-end`'s layout (below the
/// 32-bit IPA space `gicx-kvm` creates, clear of its code slot).
pub const RAM_BASE: u64 = 0x5000_0000;
pub const RAM_SIZE: u64 = 0x100_0000;

/// What a person does in the ITS view.
#[derive(Clone, Debug)]
pub enum ItsMsg {
    SetCmd(ItsCmd),
    /// A command field by its scenario name (`device`, `event`, `intid`, …).
    SetField(&'static str, String),
    SetValid(bool),
    /// Queue the command (`its_command`).
    Queue,
    SetMemAddr(String),
    SetMemWidth(u8),
    SetMemValue(String),
    WriteMem,
    SetReg(String),
    SetRegValue(String),
    WriteReg,
    /// Give the VM an ITS device (and guest RAM if it has none).
    AddIts,
    /// The steps a Linux guest takes before its first MSI.
    ProgramAsLinux,
    /// `KVM_DEV_ARM_ITS_SAVE_TABLES` (`its_ctrl` `save_tables`): KVM writes
    /// its mappings into the guest's tables, which the view then decodes.
    SaveTables,
}

/// The ITS view's forms, as a link carries them (`views.its`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItsForm {
    pub cmd: ItsCmd,
    pub device: String,
    pub event: String,
    pub intid: String,
    pub collection: String,
    pub target: String,
    pub eventid_bits: String,
    pub itt_addr: String,
    pub valid: bool,
    pub from: String,
    pub to: String,
    pub mem_addr: String,
    pub mem_width: u8,
    pub mem_value: String,
    pub reg: String,
    pub reg_value: String,
}

impl Default for ItsForm {
    fn default() -> Self {
        ItsForm {
            cmd: ItsCmd::Mapd,
            device: "3".into(),
            event: "2".into(),
            intid: "8200".into(),
            collection: "0".into(),
            target: "1".into(),
            eventid_bits: "4".into(),
            itt_addr: "0x50300000".into(),
            valid: true,
            from: "0".into(),
            to: "1".into(),
            mem_addr: "0x50800008".into(),
            mem_width: 8,
            mem_value: "0xa1".into(),
            reg: "GITS_CTLR".into(),
            reg_value: "1".into(),
        }
    }
}

/// The GITS_* registers the register form writes (the guest's stores; the
/// read-only ones are shown, not offered).
pub const WRITABLE: [&str; 6] = [
    "GITS_CTLR",
    "GITS_CBASER",
    "GITS_CWRITER",
    "GITS_BASER0",
    "GITS_BASER1",
    "GITS_BASER2",
];

/// Every command the form offers, in the architecture's order.
pub const COMMANDS: [ItsCmd; 12] = [
    ItsCmd::Mapd,
    ItsCmd::Mapc,
    ItsCmd::Mapti,
    ItsCmd::Mapi,
    ItsCmd::Movi,
    ItsCmd::Discard,
    ItsCmd::Clear,
    ItsCmd::Int,
    ItsCmd::Inv,
    ItsCmd::Invall,
    ItsCmd::Sync,
    ItsCmd::Movall,
];

/// What each field is, for labels.
pub fn field_label(name: &str) -> &'static str {
    match name {
        "device" => "Device ID",
        "event" => "Event ID",
        "intid" => "LPI (INTID ≥ 8192)",
        "collection" => "Collection",
        "target" => "Target vCPU",
        "eventid_bits" => "Event ID bits (1–32)",
        "itt_addr" => "ITT address",
        "valid" => "Valid",
        "from" => "From vCPU",
        "to" => "To vCPU",
        _ => "?",
    }
}

fn number(what: &str, text: &str) -> Result<u64, String> {
    gicx_core::number::parse(text.trim())
        .map_err(|_| format!("{what}: {:?} is not a number", text.trim()))
}

impl ItsForm {
    /// The text of a command field.
    pub fn field(&self, name: &str) -> &str {
        match name {
            "device" => &self.device,
            "event" => &self.event,
            "intid" => &self.intid,
            "collection" => &self.collection,
            "target" => &self.target,
            "eventid_bits" => &self.eventid_bits,
            "itt_addr" => &self.itt_addr,
            "from" => &self.from,
            "to" => &self.to,
            _ => "",
        }
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "device" => &mut self.device,
            "event" => &mut self.event,
            "intid" => &mut self.intid,
            "collection" => &mut self.collection,
            "target" => &mut self.target,
            "eventid_bits" => &mut self.eventid_bits,
            "itt_addr" => &mut self.itt_addr,
            "from" => &mut self.from,
            "to" => &mut self.to,
            _ => return None,
        })
    }

    /// The `its_command` step, or every problem of the form at once.
    pub fn command(&self) -> Result<Step, String> {
        let mut step = ItsCommandStep {
            cmd: self.cmd,
            device: None,
            event: None,
            intid: None,
            collection: None,
            target: None,
            eventid_bits: None,
            itt_addr: None,
            valid: None,
            from: None,
            to: None,
            expect_creadr: None,
            expect_rule: None,
            note: None,
        };
        let mut errors = Vec::new();
        for (name, _) in self.cmd.fields() {
            if *name == "valid" {
                step.valid = (!self.valid).then_some(false);
                continue;
            }
            if self.cmd == ItsCmd::Mapd
                && !self.valid
                && matches!(*name, "eventid_bits" | "itt_addr")
            {
                continue;
            }
            match number(field_label(name), self.field(name)) {
                Ok(v) => {
                    let slot = match *name {
                        "device" => &mut step.device,
                        "event" => &mut step.event,
                        "intid" => &mut step.intid,
                        "collection" => &mut step.collection,
                        "target" => &mut step.target,
                        "eventid_bits" => &mut step.eventid_bits,
                        "itt_addr" => &mut step.itt_addr,
                        "from" => &mut step.from,
                        _ => &mut step.to,
                    };
                    *slot = Some(Num(v));
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Step::ItsCommand(step))
        } else {
            Err(errors.join("; "))
        }
    }

    /// The `mem_write` step.
    pub fn mem_write(&self) -> Result<Step, String> {
        let addr = number("address", &self.mem_addr);
        let value = number("value", &self.mem_value);
        match (addr, value) {
            (Ok(a), Ok(v)) => Ok(Step::MemWrite(MemStep {
                addr: Num(a),
                width: Some(self.mem_width),
                value: Some(Num(v)),
                ..MemStep::default()
            })),
            (a, v) => Err([a.err(), v.err()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }

    /// The guest's store to a GITS_* register (`guest_write`, frame `its`).
    pub fn reg_write(&self) -> Result<Step, String> {
        let name = self.reg.trim().to_ascii_uppercase();
        match gicx_core::scenario::its::its_register(&name) {
            None => return Err(format!("{:?} is not a GITS_* register", self.reg.trim())),
            Some(Err(e)) => return Err(e),
            Some(Ok(_)) => {}
        }
        let value = number("value", &self.reg_value)?;
        let width = if name == "GITS_CTLR" { 32 } else { 64 };
        if width == 32 && value >> 32 != 0 {
            return Err(format!("value {value:#x} does not fit GITS_CTLR's 32 bits"));
        }
        Ok(Step::GuestWrite(RegStep {
            reg: Some(name),
            offset: None,
            frame: None,
            vcpu: None,
            width: Some(width),
            value: Some(Num(value)),
            expect: None,
            mask: None,
            expect_error: None,
            expect_rule: None,
            note: None,
        }))
    }
}

/// The ITS view's own state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItsViewState {
    pub form: ItsForm,
    /// Why the last form could not add its step.
    pub error: Option<String>,
}

impl ItsViewState {
    pub fn apply(&mut self, msg: ItsMsg, work: &mut Work) {
        let form = &mut self.form;
        match msg {
            ItsMsg::SetCmd(c) => form.cmd = c,
            ItsMsg::SetField(name, t) => {
                if let Some(f) = form.field_mut(name) {
                    *f = clip(t);
                }
            }
            ItsMsg::SetValid(v) => form.valid = v,
            ItsMsg::Queue => self.error = work.push_form(form.command(), "its_command"),
            ItsMsg::SetMemAddr(t) => form.mem_addr = clip(t),
            ItsMsg::SetMemWidth(w) => {
                if [8, 16, 32, 64].contains(&w) {
                    form.mem_width = w;
                }
            }
            ItsMsg::SetMemValue(t) => form.mem_value = clip(t),
            ItsMsg::WriteMem => self.error = work.push_form(form.mem_write(), "mem_write"),
            ItsMsg::SetReg(t) => form.reg = clip(t),
            ItsMsg::SetRegValue(t) => form.reg_value = clip(t),
            ItsMsg::WriteReg => self.error = work.push_form(form.reg_write(), "guest_write"),
            ItsMsg::AddIts => self.error = add_its(work).err(),
            ItsMsg::ProgramAsLinux => self.error = program_as_linux(work).err(),
            ItsMsg::SaveTables => {
                let step = serde_json::from_value(
                    serde_json::json!({"op": "its_ctrl", "attr": "save_tables"}),
                )
                .map_err(|e| e.to_string());
                self.error = work.push_form(step, "its_ctrl");
            }
        }
    }

    /// The form as a link carries it, if it is not the default.
    pub fn link(&self) -> Option<serde_json::Value> {
        (self.form != ItsForm::default()).then(|| crate::view_link::write(&self.form))
    }

    /// The form from a link, checked.
    pub fn from_link(v: &serde_json::Value) -> Result<ItsForm, String> {
        crate::view_link::read(
            v,
            |f: ItsForm| {
                if ![8, 16, 32, 64].contains(&f.mem_width) {
                    return Err(format!("mem_width: {} is not 8, 16, 32 or 64", f.mem_width));
                }
                let texts = [
                    &f.device,
                    &f.event,
                    &f.intid,
                    &f.collection,
                    &f.target,
                    &f.eventid_bits,
                    &f.itt_addr,
                    &f.from,
                    &f.to,
                    &f.mem_addr,
                    &f.mem_value,
                    &f.reg,
                    &f.reg_value,
                ];
                if texts
                    .iter()
                    .any(|t| t.chars().count() > gicx_core::permalink::MAX_TEXT_CHARS)
                {
                    return Err("a field is longer than a form keeps".into());
                }
                Ok(f)
            },
            |_| Err("the ITS form is an object".into()),
        )
    }
}

/// `vm.its` on, and guest RAM if the VM has none (the ITS's tables and queue
/// live there): a VM change, refused like any other that a logged step does
/// not fit.
fn add_its(work: &mut Work) -> Result<(), String> {
    let mut vm = work.session.vm();
    vm.its = true;
    if vm.memory.is_empty() {
        vm.memory = MemoryLayout::new(&[Region {
            base: RAM_BASE,
            size: RAM_SIZE,
        }])
        .map_err(|(_, e)| e)?;
    }
    work.set_vm(vm)
}

/// What a Linux guest does before its first MSI, as steps: init and the first
/// run (if the Log has none), then `its_cpu_init_lpis` on every vCPU
/// (GICR_PROPBASER with 16 ID bits, a pending table each, EnableLPIs), then
/// `its_init` (device table, collection table, command queue, GITS_CTLR.Enabled),
/// the distributor's Group 1 and every vCPU's PMR and IGRPEN1
/// (`gic_cpu_sys_reg_init`). The tables are in the RAM "Give the VM an ITS"
/// adds: property table 0x50800000, pending tables from 0x50900000 (64 KiB
/// each), device table 0x50000000, collection table 0x50100000, queue 0x50200000.
fn program_as_linux(work: &mut Work) -> Result<(), String> {
    let vm = work.session.vm();
    if !vm.its {
        return Err("this VM has no ITS: give it one first".into());
    }
    if !vm.memory.contains(RAM_BASE, RAM_SIZE) {
        return Err(format!(
            "the tables go in guest RAM at {RAM_BASE:#x}–{:#x}, which this VM does not have (vm.memory)",
            RAM_BASE + RAM_SIZE - 1
        ));
    }
    let applied = &work.session.steps()[..work.session.cursor()];
    let mut steps: Vec<serde_json::Value> = Vec::new();
    for op in ["init", "run"] {
        if !applied.iter().any(|s| s.op() == op) {
            steps.push(serde_json::json!({"op": op}));
        }
    }
    steps.push(serde_json::json!({"op": "guest_write", "reg": "GICR_PROPBASER", "width": 64, "value": "0x5080000f"}));
    for v in 0..vm.vcpus {
        let pend = format!("{:#x}", 0x5090_0000u64 + 0x1_0000 * v as u64);
        steps.push(serde_json::json!({"op": "guest_write", "reg": "GICR_PENDBASER", "vcpu": v, "width": 64, "value": pend}));
        steps.push(
            serde_json::json!({"op": "guest_write", "reg": "GICR_CTLR", "vcpu": v, "value": 1}),
        );
    }
    steps.extend([
        serde_json::json!({"op": "guest_write", "reg": "GITS_BASER0", "width": 64, "value": "0x8000000050000000"}),
        serde_json::json!({"op": "guest_write", "reg": "GITS_BASER1", "width": 64, "value": "0x8000000050100000"}),
        serde_json::json!({"op": "guest_write", "reg": "GITS_CBASER", "width": 64, "value": "0x8000000050200000"}),
        serde_json::json!({"op": "guest_write", "reg": "GITS_CTLR", "value": 1}),
        serde_json::json!({"op": "guest_write", "reg": "GICD_CTLR", "value": "0x2"}),
    ]);
    for v in 0..vm.vcpus {
        steps.push(serde_json::json!({"op": "sysreg_write", "vcpu": v, "reg": "ICC_PMR_EL1", "value": "0xff"}));
        steps.push(serde_json::json!({"op": "sysreg_write", "vcpu": v, "reg": "ICC_IGRPEN1_EL1", "value": 1}));
    }
    for s in steps {
        let step: Step = serde_json::from_value(s).map_err(|e| e.to_string())?;
        if let Some(e) = work.push_form(Ok(step), "program the ITS") {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_its() -> (ItsViewState, Work) {
        let (mut s, mut work) = (ItsViewState::default(), Work::default());
        s.apply(ItsMsg::AddIts, &mut work);
        assert_eq!(s.error, None);
        (s, work)
    }

    #[test]
    fn adding_an_its_gives_the_vm_ram_and_programming_it_logs_linux_steps() {
        let (mut s, mut work) = with_its();
        let vm = work.session.vm();
        assert!(vm.its && vm.memory.contains(RAM_BASE, RAM_SIZE));
        s.apply(ItsMsg::ProgramAsLinux, &mut work);
        assert_eq!(s.error, None);
        let ops: Vec<&str> = work.session.steps().iter().map(|s| s.op()).collect();
        assert_eq!(&ops[..3], ["init", "run", "guest_write"]);
        let its = work.session.vgic().its_inspection().unwrap();
        assert_eq!(its.registers[0].value & 1, 1, "GITS_CTLR.Enabled");
        let n = ops.len();
        // Again: no second init or run.
        s.apply(ItsMsg::ProgramAsLinux, &mut work);
        assert_eq!(work.session.steps().len(), 2 * n - 2);
    }

    #[test]
    fn commands_map_a_route_and_every_bad_field_is_named() {
        let (mut s, mut work) = with_its();
        s.apply(ItsMsg::ProgramAsLinux, &mut work);
        for (cmd, fields) in [
            (
                ItsCmd::Mapd,
                vec![
                    ("device", "3"),
                    ("eventid_bits", "4"),
                    ("itt_addr", "0x50300000"),
                ],
            ),
            (ItsCmd::Mapc, vec![("collection", "0"), ("target", "1")]),
            (
                ItsCmd::Mapti,
                vec![
                    ("device", "3"),
                    ("event", "2"),
                    ("intid", "8200"),
                    ("collection", "0"),
                ],
            ),
        ] {
            s.apply(ItsMsg::SetCmd(cmd), &mut work);
            for (f, v) in fields {
                s.apply(ItsMsg::SetField(f, v.into()), &mut work);
            }
            s.apply(ItsMsg::Queue, &mut work);
            assert_eq!(s.error, None, "{cmd:?}");
        }
        let its = work.session.vgic().its_inspection().unwrap();
        assert_eq!(its.routes.len(), 1);
        assert_eq!((its.routes[0].intid, its.routes[0].vcpu), (8200, Some(1)));
        assert_eq!(its.queue.len(), 3);
        assert!(
            its.device_table.entries.is_empty(),
            "KVM writes its tables only when saving"
        );
        s.apply(ItsMsg::SaveTables, &mut work);
        assert_eq!(s.error, None);
        let its = work.session.vgic().its_inspection().unwrap();
        let d = &its.device_table.entries[0];
        assert_eq!(
            (d.dte.id, d.ites.len(), d.ites[0].decoded.intid),
            (3, 1, 8200)
        );
        assert_eq!(its.collection_table.entries[0].decoded.target, Some(1));
        let steps = work.session.steps().len();
        s.apply(ItsMsg::SetField("event", "two".into()), &mut work);
        s.apply(ItsMsg::SetField("intid", "".into()), &mut work);
        s.apply(ItsMsg::Queue, &mut work);
        assert_eq!(
            s.error.as_deref(),
            Some("Event ID: \"two\" is not a number; LPI (INTID ≥ 8192): \"\" is not a number")
        );
        s.apply(ItsMsg::SetField("event", "0x100000000".into()), &mut work);
        s.apply(ItsMsg::SetField("intid", "8201".into()), &mut work);
        s.apply(ItsMsg::Queue, &mut work);
        let e = s.error.clone().unwrap();
        assert!(e.contains("does not fit the command's 32-bit field"), "{e}");
        assert_eq!(work.session.steps().len(), steps, "nothing logged");
    }

    #[test]
    fn memory_and_register_forms_refuse_what_the_format_refuses() {
        let (mut s, mut work) = with_its();
        s.apply(ItsMsg::WriteMem, &mut work);
        assert_eq!(s.error, None);
        assert_eq!(work.session.steps()[0].op(), "mem_write");
        s.apply(ItsMsg::SetMemAddr("0x10".into()), &mut work);
        s.apply(ItsMsg::WriteMem, &mut work);
        assert!(
            s.error
                .clone()
                .unwrap()
                .contains("outside the VM's guest memory"),
            "{:?}",
            s.error
        );
        s.apply(ItsMsg::SetReg("GITS_BASER9".into()), &mut work);
        s.apply(ItsMsg::WriteReg, &mut work);
        assert!(
            s.error
                .clone()
                .unwrap()
                .contains("GITS_BASER0 to GITS_BASER7"),
            "{:?}",
            s.error
        );
        s.apply(ItsMsg::SetReg("gicd_ctlr".into()), &mut work);
        s.apply(ItsMsg::WriteReg, &mut work);
        assert_eq!(
            s.error.as_deref(),
            Some("\"gicd_ctlr\" is not a GITS_* register")
        );
        assert_eq!(work.session.steps().len(), 1);
    }

    #[test]
    fn a_vm_without_an_its_is_told_what_to_do() {
        let (mut s, mut work) = (ItsViewState::default(), Work::default());
        s.apply(ItsMsg::ProgramAsLinux, &mut work);
        assert_eq!(
            s.error.as_deref(),
            Some("this VM has no ITS: give it one first")
        );
        s.apply(ItsMsg::Queue, &mut work);
        assert!(
            s.error.clone().unwrap().contains("needs an ITS device"),
            "{:?}",
            s.error
        );
        assert!(work.session.steps().is_empty());
    }

    #[test]
    fn the_form_travels_in_links_and_bad_links_are_named() {
        let mut s = ItsViewState::default();
        assert_eq!(s.link(), None);
        s.form.cmd = ItsCmd::Movall;
        s.form.mem_width = 32;
        let v = s.link().unwrap();
        assert_eq!(ItsViewState::from_link(&v), Ok(s.form.clone()));
        let mut bad = v.clone();
        bad["mem_width"] = 12.into();
        assert!(ItsViewState::from_link(&bad)
            .unwrap_err()
            .contains("mem_width"));
        bad["cmd"] = "vmapp".into();
        assert!(ItsViewState::from_link(&bad)
            .unwrap_err()
            .contains("unknown variant"));
    }
}
