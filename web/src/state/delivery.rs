//! The Delivery path view: send an SGI (`ICC_SGI1R_EL1` from a vCPU) or raise
//! an SPI (`KVM_IRQ_LINE`) as steps, the form's problems all at once.

use gicx_core::scenario::{AckStep, IntidStep, Step};

use super::clip;
use super::work::Work;
use crate::explore::DeliveryForm;

/// The INTID `vcpu`'s last applied `ack` returned, if it was not spurious
/// (1023) and no `eoi` of that vCPU came after it.
pub fn acknowledged(work: &Work, vcpu: u32) -> Option<u32> {
    let s = &work.session;
    let replay = s.replay();
    for (step, r) in s.steps()[..s.cursor()]
        .iter()
        .zip(replay.reports.iter())
        .rev()
    {
        match step {
            Step::Eoi(e) if e.vcpu == vcpu => return None,
            Step::Ack(a) if a.vcpu == vcpu => {
                let v = r.outcome.as_ref().filter(|o| o.ok())?.value as u32;
                return (!(1020..=1023).contains(&v)).then_some(v);
            }
            _ => {}
        }
    }
    None
}

/// What a person does in the Delivery path view.
#[derive(Clone, Debug)]
pub enum DeliveryMsg {
    /// The sending vCPU.
    SetFrom(u32),
    SetIntid(String),
    /// Target vCPUs, separated by commas or spaces.
    SetTargets(String),
    SendSgi,
    SetSpi(String),
    SetLevel(bool),
    RaiseSpi,
    SetMsiDevice(String),
    SetMsiEvent(String),
    /// `KVM_SIGNAL_MSI` at the VM's GITS_TRANSLATER.
    SendMsi,
    SetAckVcpu(u32),
    /// The vCPU reads ICC_IAR1_EL1 (`ack`).
    Ack,
    /// The vCPU writes the INTID its last `ack` returned to ICC_EOIR1_EL1 (`eoi`).
    Eoi,
}

/// The Delivery path view's own state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryState {
    pub form: DeliveryForm,
    /// Why the last SGI or SPI could not be sent.
    pub error: Option<String>,
}

impl DeliveryState {
    pub fn apply(&mut self, msg: DeliveryMsg, work: &mut Work) {
        let form = &mut self.form;
        match msg {
            DeliveryMsg::SetFrom(v) => form.from = v.min(work.session.vm().vcpus - 1),
            DeliveryMsg::SetIntid(t) => form.intid = clip(t),
            DeliveryMsg::SetTargets(t) => form.targets = clip(t),
            DeliveryMsg::SendSgi => {
                let step = form.sgi(work.session.vm().vcpus);
                self.error = work.push_form(step, "sgi");
            }
            DeliveryMsg::SetSpi(t) => form.spi = clip(t),
            DeliveryMsg::SetLevel(l) => form.level = l,
            DeliveryMsg::RaiseSpi => {
                let step = form.spi();
                self.error = work.push_form(step, "irq_line");
            }
            DeliveryMsg::SetMsiDevice(t) => form.msi_device = clip(t),
            DeliveryMsg::SetMsiEvent(t) => form.msi_event = clip(t),
            DeliveryMsg::SendMsi => {
                let vm = work.session.vgic();
                let at = vm.has_its_device().then(|| vm.its_translater()).flatten();
                let step = form.msi(at);
                self.error = work.push_form(step, "msi");
            }
            DeliveryMsg::SetAckVcpu(v) => form.ack_vcpu = v.min(work.session.vm().vcpus - 1),
            DeliveryMsg::Ack => {
                let step = Step::Ack(AckStep {
                    vcpu: form.ack_vcpu.min(work.session.vm().vcpus - 1),
                    expect: None,
                    expect_rule: None,
                    note: None,
                });
                self.error = work.push_form(Ok(step), "ack");
            }
            DeliveryMsg::Eoi => {
                let vcpu = form.ack_vcpu.min(work.session.vm().vcpus - 1);
                let step = acknowledged(work, vcpu)
                    .map(|intid| {
                        Step::Eoi(IntidStep {
                            vcpu,
                            intid,
                            expect_rule: None,
                            note: None,
                        })
                    })
                    .ok_or_else(|| format!("vCPU {vcpu} has acknowledged nothing to end: acknowledge first (its ICC_IAR1_EL1 read returns the INTID to EOI)"));
                self.error = work.push_form(step, "eoi");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_of_the_form_is_shown_and_nothing_logged() {
        let (mut d, mut work) = (DeliveryState::default(), Work::default());
        d.apply(DeliveryMsg::SetIntid("16".into()), &mut work);
        d.apply(DeliveryMsg::SetTargets("x, 9".into()), &mut work);
        d.apply(DeliveryMsg::SendSgi, &mut work);
        assert_eq!(
            d.error.as_deref(),
            Some("INTID 16: SGIs are INTIDs 0–15; target: \"x\" is not a number; target vCPU 9: the VM has 4 vCPUs (0–3)")
        );
        assert!(work.session.steps().is_empty());
        d.apply(DeliveryMsg::SetFrom(99), &mut work);
        assert_eq!(d.form.from, 3, "clamped to the VM's vCPUs");
    }

    #[test]
    fn the_spi_form_says_why_an_sgi_or_ppi_is_not_an_spi() {
        let (mut d, mut work) = (DeliveryState::default(), Work::default());
        d.apply(DeliveryMsg::SetSpi("3".into()), &mut work);
        d.apply(DeliveryMsg::RaiseSpi, &mut work);
        let e = d.error.clone().unwrap();
        assert!(
            e.starts_with("INTID 3 is an SGI: KVM_IRQ_LINE cannot raise SGIs"),
            "{e}"
        );
        d.apply(DeliveryMsg::SetSpi("27".into()), &mut work);
        d.apply(DeliveryMsg::RaiseSpi, &mut work);
        let e = d.error.clone().unwrap();
        assert!(e.starts_with("INTID 27 is a PPI"), "{e}");
        assert!(!e.contains('`'), "{e}");
        assert!(work.session.steps().is_empty(), "nothing logged");
        d.apply(DeliveryMsg::SetSpi("40".into()), &mut work);
        d.apply(DeliveryMsg::RaiseSpi, &mut work);
        assert_eq!(work.session.steps().len(), 1);
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn sgi_and_spi_append_steps_with_hops() {
        let s = lesson_at(0, 8)
            .apply(Msg::Delivery(DeliveryMsg::SetFrom(0)))
            .apply(Msg::Delivery(DeliveryMsg::SetIntid("3".into())))
            .apply(Msg::Delivery(DeliveryMsg::SetTargets("1".into())))
            .apply(Msg::Delivery(DeliveryMsg::SendSgi));
        assert_eq!(s.delivery.error, None);
        let r = s.work.session.replay().reports.last().unwrap().clone();
        assert_eq!(r.op, "sgi");
        assert!(!r.trace().is_empty());
        let s = s
            .apply(Msg::Delivery(DeliveryMsg::SetSpi("40".into())))
            .apply(Msg::Delivery(DeliveryMsg::SetLevel(true)))
            .apply(Msg::Delivery(DeliveryMsg::RaiseSpi));
        assert_eq!(
            s.work.session.replay().reports.last().unwrap().op,
            "irq_line"
        );
        let bad = s
            .apply(Msg::Delivery(DeliveryMsg::SetTargets("one".into())))
            .apply(Msg::Delivery(DeliveryMsg::SendSgi));
        assert!(bad.delivery.error.unwrap().contains("target"));
    }

    fn mapped() -> AppState {
        let mut s = AppState::default()
            .apply(Msg::Its(ItsMsg::AddIts))
            .apply(Msg::Its(ItsMsg::ProgramAsLinux))
            .apply(Msg::Its(ItsMsg::WriteMem));
        for (cmd, fields) in [
            (
                gicx_core::scenario::ItsCmd::Mapd,
                vec![
                    ("device", "3"),
                    ("eventid_bits", "4"),
                    ("itt_addr", "0x50300000"),
                ],
            ),
            (
                gicx_core::scenario::ItsCmd::Mapc,
                vec![("collection", "0"), ("target", "1")],
            ),
            (
                gicx_core::scenario::ItsCmd::Mapti,
                vec![
                    ("device", "3"),
                    ("event", "2"),
                    ("intid", "8200"),
                    ("collection", "0"),
                ],
            ),
        ] {
            s = s.apply(Msg::Its(ItsMsg::SetCmd(cmd)));
            for (f, v) in fields {
                s = s.apply(Msg::Its(ItsMsg::SetField(f, v.into())));
            }
            s = s.apply(Msg::Its(ItsMsg::Queue));
            assert_eq!(s.its.error, None);
        }
        s
    }

    fn outcome(s: &AppState) -> Vec<String> {
        let i = s.work.session.cursor() - 1;
        crate::explain::msi_outcome(&s.work.session, i)
    }

    #[test]
    fn an_msi_reaches_the_cpu_interface_with_its_hops_and_is_acknowledged() {
        let s = mapped()
            .apply(Msg::Delivery(DeliveryMsg::SetMsiDevice("3".into())))
            .apply(Msg::Delivery(DeliveryMsg::SetMsiEvent("2".into())))
            .apply(Msg::Delivery(DeliveryMsg::SendMsi));
        assert_eq!(s.delivery.error, None);
        let r = s.work.session.replay().reports.last().unwrap().clone();
        assert_eq!((r.op, r.outcome.as_ref().unwrap().value), ("msi", 1));
        use gicx_core::trace::Layer;
        for layer in [
            Layer::Kvm,
            Layer::Its,
            Layer::Redistributor,
            Layer::CpuInterface,
        ] {
            assert!(
                r.trace().iter().any(|h| h.layer == layer),
                "{layer:?}: {:?}",
                r.trace()
            );
        }
        let lines = outcome(&s);
        assert!(
            lines[0].starts_with("Translated: device 0x3 event 2 → LPI 8200"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("delivered") && lines[1].contains("8200"),
            "{lines:?}"
        );
        let s = s
            .apply(Msg::Delivery(DeliveryMsg::SetAckVcpu(1)))
            .apply(Msg::Delivery(DeliveryMsg::Ack));
        let r = s.work.session.replay().reports.last().unwrap().clone();
        assert_eq!((r.op, r.outcome.as_ref().unwrap().value), ("ack", 8200));
        let s = s.apply(Msg::Delivery(DeliveryMsg::Eoi));
        assert_eq!(s.delivery.error, None);
        assert_eq!(s.work.session.steps().last().unwrap().op(), "eoi");
        let again = s.apply(Msg::Delivery(DeliveryMsg::Eoi));
        assert!(again
            .delivery
            .error
            .unwrap()
            .contains("acknowledged nothing"));
    }

    #[test]
    fn a_dropped_msi_says_why_in_words() {
        let s = mapped();
        let send = |s: &AppState, d: &str, e: &str| {
            s.clone()
                .apply(Msg::Delivery(DeliveryMsg::SetMsiDevice(d.into())))
                .apply(Msg::Delivery(DeliveryMsg::SetMsiEvent(e.into())))
                .apply(Msg::Delivery(DeliveryMsg::SendMsi))
        };
        let unknown = outcome(&send(&s, "9", "2"));
        assert!(
            unknown[0].contains("device 0x9 is not mapped"),
            "{unknown:?}"
        );
        let beyond = outcome(&send(&s, "3", "40"));
        assert!(
            beyond[0].contains("event 40 is beyond device 0x3's 4 event ID bits (events 0–15)"),
            "{beyond:?}"
        );
        let unmapped = outcome(&send(&s, "3", "5"));
        assert!(
            unmapped[0].contains("no mapping for event 5"),
            "{unmapped:?}"
        );
        for l in unknown.iter().chain(&beyond).chain(&unmapped) {
            assert!(!l.contains('`'), "{l}");
        }
        let bad = send(&s, "x", "0x100000000");
        assert_eq!(
            bad.delivery.error.as_deref(),
            Some("device ID: \"x\" is not a number; event ID 0x100000000: KVM_SIGNAL_MSI carries 32 bits")
        );
        let no_its = send(&AppState::default(), "3", "2");
        assert!(no_its
            .delivery
            .error
            .unwrap()
            .contains("this VM has no ITS"));
    }

    #[test]
    fn an_msi_to_a_disabled_its_is_refused_with_ebusy_and_explained() {
        let s = AppState::default()
            .apply(Msg::Its(ItsMsg::AddIts))
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Delivery(DeliveryMsg::SendMsi));
        let lines = outcome(&s);
        assert!(
            lines[0].starts_with("Refused (-EBUSY): the ITS is disabled"),
            "{lines:?}"
        );
    }
}
