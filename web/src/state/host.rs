//! The Host and VM view: GIC hardware, CPU-interface vSGIs, `vgic_v4_enable`,
//! the kernel as typed, vCPUs, nr_irqs, ITS and presets. A change replays the
//! log on the new host or VM; a VM change an applied step does not fit is
//! refused, naming the step.

use gicx_core::host::{GicHw, Host};
use gicx_core::vgic::VmConfig;

use super::work::Work;
use crate::host_form::{resolve_kernel, HostForm, PRESETS};

/// What a person does in the Host and VM view.
#[derive(Clone, Debug)]
pub enum HostMsg {
    SetGic(GicHw),
    SetCpuifVsgi(bool),
    SetV4Enable(bool),
    /// The kernel as typed ("5.15"), resolved as it is typed.
    SetKernel(String),
    /// The vCPU count as typed.
    SetVcpus(String),
    SetNrIrqs(u32),
    SetIts(bool),
    /// One of [`PRESETS`].
    Preset(usize),
}

impl HostForm {
    /// Apply one message to the form and, when it holds, to the session.
    pub fn apply(&mut self, msg: HostMsg, work: &mut Work) {
        let h = work.session.host();
        match msg {
            HostMsg::SetGic(gic) => self.set_host(
                Host::new(gic, gic == GicHw::V4_1, h.vgic_v4_enable, h.kernel),
                work,
            ),
            HostMsg::SetCpuifVsgi(on) => {
                self.set_host(Host::new(h.gic, on, h.vgic_v4_enable, h.kernel), work)
            }
            HostMsg::SetV4Enable(on) => {
                self.set_host(Host::new(h.gic, h.cpuif_vsgi, on, h.kernel), work)
            }
            HostMsg::SetKernel(text) => {
                self.kernel = text;
                match resolve_kernel(&self.kernel) {
                    Ok((kernel, _)) => {
                        self.kernel_error = None;
                        self.set_host(
                            Host::new(h.gic, h.cpuif_vsgi, h.vgic_v4_enable, kernel),
                            work,
                        );
                    }
                    Err(e) => self.kernel_error = Some(e),
                }
            }
            HostMsg::SetVcpus(text) => {
                let vm = work.session.vm();
                let parsed = gicx_core::number::parse_u32(&text)
                    .map_err(|_| format!("{:?} is not a whole number of vCPUs", text.trim()))
                    .and_then(|n| VmConfig::new(n, vm.nr_irqs, vm.its).map_err(|e| e.to_string()))
                    // VmConfig::new makes no guest RAM: keep the VM's (vm.memory).
                    .map(|new| VmConfig {
                        memory: vm.memory,
                        ..new
                    });
                self.vcpus = text;
                match parsed {
                    Ok(vm) => {
                        self.vcpus_error = None;
                        let _ = self.set_vm(vm, work);
                    }
                    Err(e) => self.vcpus_error = Some(e),
                }
            }
            HostMsg::SetNrIrqs(n) => {
                let vm = work.session.vm();
                match VmConfig::new(vm.vcpus, n, vm.its) {
                    Ok(new) => {
                        let vm = VmConfig {
                            memory: vm.memory,
                            ..new
                        };
                        let _ = self.set_vm(vm, work);
                    }
                    Err(e) => self.vm_error = Some(e.to_string()),
                }
            }
            HostMsg::SetIts(on) => {
                let vm = work.session.vm();
                let _ = self.set_vm(VmConfig { its: on, ..vm }, work);
            }
            HostMsg::Preset(i) => {
                if let Some(p) = PRESETS.get(i) {
                    self.set_host(Ok(p.host()), work);
                    *self = HostForm::showing(work.session.host(), work.session.vm());
                }
            }
        }
    }

    fn set_host(&mut self, host: Result<Host, gicx_core::host::HostError>, work: &mut Work) {
        match host {
            Ok(h) => work.set_host(h),
            Err(e) => self.kernel_error = Some(e.to_string()),
        }
    }

    /// Change the VM ([`Work::set_vm`]); a refusal is shown next to the field
    /// that changed (vCPUs, or nr_irqs and ITS) and returned.
    pub fn set_vm(&mut self, vm: VmConfig, work: &mut Work) -> Result<(), String> {
        self.vm_error = None;
        let vcpus_changed = vm.vcpus != work.session.vm().vcpus;
        match work.set_vm(vm) {
            Ok(()) => {
                self.vcpus = vm.vcpus.to_string();
                Ok(())
            }
            Err(why) => {
                if vcpus_changed {
                    self.vcpus_error = Some(why.clone());
                } else {
                    self.vm_error = Some(why.clone());
                }
                Err(why)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(work: &Work) -> HostForm {
        HostForm::showing(work.session.host(), work.session.vm())
    }

    #[test]
    fn a_typed_kernel_resolves_live_and_bad_text_keeps_the_host() {
        let mut work = Work::default();
        let mut f = form(&work);
        f.apply(HostMsg::SetKernel("5.15".into()), &mut work);
        assert_eq!(work.session.host().era().as_str(), "5.13");
        f.apply(HostMsg::SetKernel("4.14".into()), &mut work);
        assert!(f
            .kernel_error
            .as_deref()
            .unwrap()
            .contains("older than 4.19"));
        assert_eq!(work.session.host().kernel.to_string(), "5.15");
        assert_eq!(f.kernel, "4.14", "the text stays as typed");
    }

    #[test]
    fn vcpus_are_read_with_the_shared_number_parser() {
        let mut work = Work::default();
        let mut f = form(&work);
        f.apply(HostMsg::SetVcpus("0x2".into()), &mut work);
        assert_eq!(work.session.vm().vcpus, 2);
        f.apply(HostMsg::SetVcpus("+3".into()), &mut work);
        assert_eq!(
            f.vcpus_error.as_deref(),
            Some("\"+3\" is not a whole number of vCPUs")
        );
        assert_eq!(work.session.vm().vcpus, 2);
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn kernel_text_resolves_live_and_bad_text_keeps_the_host() {
        let s = AppState::default().apply(Msg::Host(HostMsg::SetKernel("5.15".into())));
        assert_eq!(s.work.session.host().era().as_str(), "5.13");
        assert_eq!(s.host.kernel_error, None);
        let s = s.apply(Msg::Host(HostMsg::SetKernel("4.14".into())));
        assert!(s
            .host
            .kernel_error
            .as_deref()
            .unwrap()
            .contains("older than 4.19"));
        assert_eq!(
            s.work.session.host().kernel.to_string(),
            "5.15",
            "last good kernel kept"
        );
        assert_eq!(s.host.kernel, "4.14", "the text stays as typed");
        let s = s.apply(Msg::Host(HostMsg::SetKernel("six".into())));
        assert!(s.host.kernel_error.as_deref().unwrap().contains("X.Y"));
    }

    #[test]
    fn host_changes_replay_the_log() {
        let s = selected("GICD_TYPER2")
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Poke(PokeMsg::SetActor(Actor::Vmm)))
            .apply(Msg::Poke(PokeMsg::Do(Access::Read)));
        let read = |s: &AppState| {
            s.work.session.replay().reports[1]
                .outcome
                .as_ref()
                .unwrap()
                .value
        };
        assert_eq!(read(&s), 0x100);
        let s = s.apply(Msg::Host(HostMsg::Preset(0)));
        assert_eq!(s.work.session.host().compact(), "v3@6.8");
        assert_eq!(s.host.kernel, "6.8");
        assert_eq!(read(&s), 0);
        let s = s.apply(Msg::Host(HostMsg::SetGic(GicHw::V4_1)));
        assert!(
            s.work.session.host().cpuif_vsgi,
            "a v4.1 CPU interface by default"
        );
        let s = s.apply(Msg::Host(HostMsg::SetCpuifVsgi(false)));
        assert_eq!(s.work.session.host().compact(), "v4.1+novsgi@6.8");
        assert_eq!(read(&s), 0, "no vSGIs without a v4.1 CPU interface (5.13+)");
        let s = s.apply(Msg::Host(HostMsg::SetV4Enable(false)));
        assert_eq!(s.work.session.host().compact(), "v4.1+novsgi+nov4@6.8");
    }

    #[test]
    fn vm_changes_are_checked() {
        let s = AppState::default()
            .apply(Msg::SetVcpu(3))
            .apply(Msg::Host(HostMsg::SetVcpus("2".into())));
        assert_eq!((s.work.session.vm().vcpus, s.work.vcpu), (2, 1));
        let s = s.apply(Msg::Host(HostMsg::SetVcpus("0".into())));
        assert!(s.host.vcpus_error.as_deref().unwrap().contains("1..=512"));
        assert_eq!(s.work.session.vm().vcpus, 2);
        let s = s.apply(Msg::Host(HostMsg::SetVcpus("lots".into())));
        assert!(s.host.vcpus_error.is_some());
        let s = s
            .apply(Msg::Host(HostMsg::SetNrIrqs(992)))
            .apply(Msg::Host(HostMsg::SetNrIrqs(1024)));
        assert_eq!(s.work.session.vm().nr_irqs, 992, "1024 is refused");
        let s = s.apply(Msg::Host(HostMsg::SetIts(true)));
        assert!(s.work.session.vm().its);
    }

    #[test]
    fn vcpus_and_nr_irqs_keep_the_vms_guest_ram() {
        let s = AppState::default()
            .apply(Msg::Its(ItsMsg::AddIts))
            .apply(Msg::Its(ItsMsg::WriteMem));
        let memory = s.work.session.vm().memory;
        assert!(!memory.is_empty());
        let s = s
            .apply(Msg::Host(HostMsg::SetVcpus("2".into())))
            .apply(Msg::Host(HostMsg::SetNrIrqs(512)));
        let vm = s.work.session.vm();
        assert_eq!((vm.vcpus, vm.nr_irqs, vm.memory), (2, 512, memory));
        assert_eq!(s.work.session.steps().len(), 1, "the mem_write still fits");
    }

    #[test]
    fn vm_changes_that_a_logged_step_does_not_fit_are_refused() {
        let s = AppState::default()
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Run)))
            .apply(Msg::Delivery(DeliveryMsg::SetTargets("3".into())))
            .apply(Msg::Delivery(DeliveryMsg::SendSgi));
        assert_eq!(s.work.session.cursor(), 3);
        let kept = s.clone().apply(Msg::Host(HostMsg::SetVcpus("2".into())));
        assert_eq!(kept.work.session.vm().vcpus, 4);
        let why = kept.host.vcpus_error.clone().unwrap();
        assert!(why.starts_with("step 3 (sgi)"), "{why}");
        // Undone, the step is forgotten instead.
        let s = s
            .apply(Msg::Log(LogMsg::Undo))
            .apply(Msg::Host(HostMsg::SetVcpus("2".into())));
        assert_eq!(s.work.session.vm().vcpus, 2);
        assert_eq!(s.work.session.steps().len(), 2);
        // And a step that names a missing vCPU is not logged at all.
        let s = s.apply(Msg::Delivery(DeliveryMsg::SendSgi));
        assert_eq!(s.work.session.steps().len(), 2);
        let why = s.delivery.error.clone().unwrap();
        assert!(why.contains("target vCPU 3: the VM has 2 vCPUs"), "{why}");
        round_trips(&s);
    }
}
