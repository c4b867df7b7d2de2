//! The Delivery path view: send an SGI (`ICC_SGI1R_EL1` from a vCPU) or raise
//! an SPI (`KVM_IRQ_LINE`) as steps, the form's problems all at once.

use super::clip;
use super::work::Work;
use crate::explore::DeliveryForm;

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
}
