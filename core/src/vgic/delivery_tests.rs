//! Delivery end to end (software and GICv4.1 paths, CPU interface).

use super::delivery::*;
use super::*;
use crate::catalogue::{Frame, GicdCtlr};
use crate::cpuif::{Sgi1r, SysReg, IDLE_PRIORITY};
use crate::trace::Layer;

fn vm(host: &str) -> Vgic {
    let mut vm = Vgic::new(Host::parse_compact(host).unwrap(), VmConfig::default());
    vm.init();
    vm.run();
    for v in 0..4 {
        vm.sysreg_write(v, SysReg::IccPmrEl1, 0xF0).unwrap();
        vm.sysreg_write(v, SysReg::IccIgrpen1El1, 1).unwrap();
    }
    vm.take_trace();
    vm
}

/// The Linux guest's GICD_CTLR sequence (irq-gic-v3.c gic_dist_init).
fn linux_dist_init(vm: &mut Vgic) {
    vm.guest_write(Frame::Dist, 0, 0, 32, 0).unwrap();
    let ctlr = (GicdCtlr::ARE_NS.mask()
        | GicdCtlr::ENABLE_GRP1.mask()
        | GicdCtlr::NASSGIREQ.mask()
        | GicdCtlr::ENABLE_GRP0.mask()) as u32;
    vm.guest_write(Frame::Dist, 0, 0, 32, ctlr as u64).unwrap();
}

fn sgi(vm: &mut Vgic, from: u32, intid: u8, to: &[u32]) {
    for w in Sgi1r::for_vcpus(intid, to) {
        vm.sysreg_write(from, SysReg::IccSgi1rEl1, w.encode())
            .unwrap();
    }
}

fn ack(vm: &mut Vgic, v: u32) -> u64 {
    vm.sysreg_read(v, SysReg::IccIar1El1).unwrap().value
}

#[test]
fn an_sgi_takes_the_hardware_path_on_gicv4_1() {
    let mut vm = vm("v4.1@6.8");
    linux_dist_init(&mut vm);
    assert!(vm.dist().nassgireq);
    sgi(&mut vm, 0, 2, &[1]);
    assert_eq!(vm.sgi_path(1, 2), DeliveryPath::Hardware);
    let hops = vm.take_trace();
    let layers: Vec<Layer> = hops.iter().map(|h| h.layer).collect();
    for l in Layer::ALL {
        assert!(layers.contains(&l), "{l:?} missing in {hops:#?}");
    }
    assert!(hops
        .iter()
        .any(|h| h.at == "GITS_SGIR" && h.what.contains("0x100000002")));
    assert_eq!(ack(&mut vm, 1), 2);
    assert!(!vm.is_pending_anywhere(1, 2));
    assert_eq!(vm.cpuif(1).unwrap().running_priority(), 0);
    vm.sysreg_write(1, SysReg::IccEoir1El1, 2).unwrap();
    assert!(vm
        .take_trace()
        .iter()
        .any(|h| h.rule.as_deref() == Some("cpuif.eoi.no_active_lr")));
    assert_eq!(vm.cpuif(1).unwrap().running_priority(), IDLE_PRIORITY);
}

#[test]
fn the_same_guest_stays_on_the_software_path_elsewhere() {
    for host in [
        "v3@6.8",
        "v4.0@6.8",
        "v4.1+nov4@6.8",
        "v4.1+novsgi@5.15",
        "v4.1@5.4",
    ] {
        let mut vm = vm(host);
        linux_dist_init(&mut vm);
        assert!(!vm.dist().nassgireq, "{host}");
        sgi(&mut vm, 0, 2, &[1, 3]);
        assert_eq!(vm.sgi_path(1, 2), DeliveryPath::Software, "{host}");
        assert_eq!(vm.list_registers(3)[0].intid, 2, "{host}");
        assert_eq!(ack(&mut vm, 1), 2, "{host}");
        assert!(vm.irq(1, 2).unwrap().active);
        vm.sysreg_write(1, SysReg::IccEoir1El1, 2).unwrap();
        assert!(!vm.irq(1, 2).unwrap().active, "{host}");
        assert!(vm.ap_list(1).is_empty(), "{host}");
    }
}

#[test]
fn pmr_and_running_priority_decide_what_is_taken() {
    let mut vm = vm("v3@6.8");
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
    // SGI 1 at 0x80, SGI 2 at 0x40 (GICR_IPRIORITYR0 of vCPU 1).
    vm.guest_write(Frame::Redist, 1, 0x10400, 32, 0x0040_8000)
        .unwrap();
    sgi(&mut vm, 0, 1, &[1]);
    assert_eq!(ack(&mut vm, 1), 1);
    sgi(&mut vm, 0, 2, &[1]);
    assert_eq!(ack(&mut vm, 1), 2, "0x40 preempts 0x80");
    sgi(&mut vm, 0, 1, &[1]);
    assert_eq!(ack(&mut vm, 1), 1023, "0x80 does not preempt 0x40");
    vm.sysreg_write(1, SysReg::IccEoir1El1, 2).unwrap();
    assert_eq!(
        ack(&mut vm, 1),
        1023,
        "SGI 1 is pending and active: not taken again"
    );
    vm.sysreg_write(1, SysReg::IccEoir1El1, 1).unwrap();
    assert_eq!(ack(&mut vm, 1), 1);
    vm.sysreg_write(1, SysReg::IccEoir1El1, 1).unwrap();
    vm.sysreg_write(1, SysReg::IccPmrEl1, 0x80).unwrap();
    sgi(&mut vm, 0, 1, &[1]);
    assert_eq!(ack(&mut vm, 1), 1023, "masked by PMR");
    vm.sysreg_write(1, SysReg::IccPmrEl1, 0x88).unwrap();
    assert_eq!(ack(&mut vm, 1), 1);
}

#[test]
fn sgis_pending_move_both_ways_and_come_back_unqueued() {
    let mut vm = vm("v4.1@6.8");
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
    vm.sysreg_write(1, SysReg::IccIgrpen1El1, 0).unwrap();
    sgi(&mut vm, 0, 3, &[1]);
    assert_eq!(vm.ap_list(1), &[3]);
    // Disable, set nASSGIreq, enable: the latch moves to hardware.
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x10).unwrap();
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x110).unwrap();
    assert!(vm.irq(1, 3).unwrap().hw && vm.irq(1, 3).unwrap().hw_pending);
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x112).unwrap();
    assert!(vm.its().vpe(1).unwrap().vgrp1en);
    let ispendr = vm.user_read(Frame::Redist, 1, 0x10200).unwrap();
    assert_eq!(ispendr.value, 1 << 3);
    assert!(vm
        .take_trace()
        .iter()
        .any(|h| h.at == "GICR_VSGIR/GICR_VSGIPENDR"));
    // And back: the hardware pending state returns to the latch, unqueued.
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x10).unwrap();
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
    let irq = vm.irq(1, 3).unwrap();
    assert!(!irq.hw && irq.pending_latch);
    assert!(vm.ap_list(1).is_empty());
    vm.sysreg_write(1, SysReg::IccIgrpen1El1, 1).unwrap();
    assert_eq!(ack(&mut vm, 1), 1023, "stranded: on no ap_list");
    sgi(&mut vm, 0, 3, &[1]);
    assert_eq!(ack(&mut vm, 1), 3, "another SGI requeues it");
}

#[test]
fn a_blocked_vcpu_is_woken_by_the_doorbell() {
    let mut vm = vm("v4.1@6.17");
    linux_dist_init(&mut vm);
    vm.schedule(1, false, true).unwrap();
    assert!(vm.its().vpe(1).unwrap().doorbell_armed);
    assert_eq!(
        vm.sysreg_read(1, SysReg::IccIar1El1).unwrap_err(),
        AccessError::VcpuNotRunning { vcpu: 1 }
    );
    sgi(&mut vm, 0, 5, &[1]);
    let p = vm.its().vpe(1).unwrap();
    assert!(p.doorbell_fired && p.pending_last && !p.doorbell_armed);
    let o = vm.schedule(1, true, false).unwrap();
    assert_eq!(o.value, 1);
    assert_eq!(ack(&mut vm, 1), 5);
    // Preempted: no doorbell, the vSGI waits.
    vm.schedule(2, false, false).unwrap();
    sgi(&mut vm, 0, 6, &[2]);
    assert!(!vm.its().vpe(2).unwrap().doorbell_fired);
    assert!(vm.is_pending_anywhere(2, 6));
    vm.schedule(2, true, false).unwrap();
    assert_eq!(ack(&mut vm, 2), 6);
}

#[test]
fn vsgi_priorities_have_four_bits() {
    let mut vm = vm("v4.1@6.8");
    linux_dist_init(&mut vm);
    // SGI 1 at 0xa8, SGI 2 at 0xa0: equal in hardware, so the lower INTID wins.
    vm.guest_write(Frame::Redist, 1, 0x10400, 32, 0x00a0_a800)
        .unwrap();
    sgi(&mut vm, 0, 2, &[1]);
    sgi(&mut vm, 0, 1, &[1]);
    assert_eq!(ack(&mut vm, 1), 1);
    assert_eq!(vm.cpuif(1).unwrap().running_priority(), 0xa0);
}

#[test]
fn old_snapshots_load_and_live_state_is_rebuilt() {
    let mut vm = vm("v4.1@6.8");
    linux_dist_init(&mut vm);
    sgi(&mut vm, 0, 3, &[1]);
    let host = *vm.host();
    let mut json = serde_json::to_value(vm.state()).unwrap();
    let again = Vgic::from_state(host, serde_json::from_value(json.clone()).unwrap()).unwrap();
    assert_eq!(again.state(), vm.state());
    assert!(again.its().vpe(1).unwrap().resident);
    json.as_object_mut().unwrap().remove("cpuifs");
    let mut old = Vgic::from_state(host, serde_json::from_value(json).unwrap()).unwrap();
    assert_eq!(old.cpuif(3), Some(&CpuIfState::default()));
    old.sysreg_write(1, SysReg::IccPmrEl1, 0xf0).unwrap();
    old.sysreg_write(1, SysReg::IccIgrpen1El1, 1).unwrap();
    assert_eq!(
        ack(&mut old, 1),
        3,
        "the vSGI is still pending in the restored vPE"
    );
}

#[test]
fn level_spis_come_back_until_the_line_drops() {
    let mut vm = vm("v3@6.8");
    vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
    // SPI 40: level (ICFGR2 bit 17 = 0), routed to vCPU 2, enabled.
    vm.guest_write(Frame::Dist, 0, 0xC08, 32, 0).unwrap();
    vm.guest_write(Frame::Dist, 0, 0x6000 + 8 * 40, 64, 2)
        .unwrap();
    vm.guest_write(Frame::Dist, 0, 0x104, 32, 1 << 8).unwrap();
    assert!(vm.irq_line(40, true, None).ok());
    assert_eq!(ack(&mut vm, 2), 40);
    vm.sysreg_write(2, SysReg::IccEoir1El1, 40).unwrap();
    assert_eq!(ack(&mut vm, 2), 40, "still high");
    vm.sysreg_write(2, SysReg::IccEoir1El1, 40).unwrap();
    vm.irq_line(40, false, None);
    assert_eq!(ack(&mut vm, 2), 1023);
    assert_eq!(
        vm.irq_line(40, false, None).rule().unwrap().id,
        "kvm.irq_line.no_change"
    );
    assert_eq!(vm.irq_line(2, true, None).errno, Some(Errno::EINVAL));
    assert_eq!(vm.irq_line(999, true, None).errno, Some(Errno::EINVAL));
}
