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
                    .and_then(|n| VmConfig::new(n, vm.nr_irqs, vm.its).map_err(|e| e.to_string()));
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
                    Ok(vm) => {
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
