//! The source VM a migration prepares, as scenario steps (`source_scenario`,
//! `guest_steps`).

#[allow(unused_imports)]
use super::*;

// ---- the source as a scenario ------------------------------------------------------------------

/// The source VM a [`MigrationSpec::new`] migration starts from, as a scenario that
/// any explorer or `gicx run` can step through: the VM the VMM creates on `from`
/// (2 vCPUs, its NR_IRQS, an ITS where it always has one), `init`, the first `run`,
/// then the guest profile's MMIO accesses one step each. Running it gives the VM
/// [`prepare_source`] makes (a test checks the saved states are equal), so a
/// migration of it has the Matrix cell's verdict.
pub fn source_scenario(from: Host, recipe: &'static Recipe, guest: GuestProfile) -> Scenario {
    source_scenario_with(from, recipe, guest, true)
}

/// [`source_scenario`] without the guest's ITS setup (and guest RAM): the source of
/// the real migrations `gicx-kvm` runs, which save and restore the vGIC device only
/// (their interpreter leaves [`vmm::Op::Its`] out; real ITS migrations are not run yet).
pub fn source_scenario_without_its_setup(
    from: Host,
    recipe: &'static Recipe,
    guest: GuestProfile,
) -> Scenario {
    source_scenario_with(from, recipe, guest, false)
}

pub(crate) fn source_scenario_with(
    from: Host,
    recipe: &'static Recipe,
    guest: GuestProfile,
    its_setup: bool,
) -> Scenario {
    let its = recipe.its == ItsSupport::Always;
    let config = if its_setup {
        crate::guest::vm_config(2, recipe.nr_irqs, its)
    } else {
        VmConfig::new(2, recipe.nr_irqs, its)
    }
    .expect("a recipe's NR_IRQS is a valid VM");
    let mut steps = vec![
        scenario::Step::Init(scenario::LifecycleStep {
            note: Some(format!(
                "{} creates the vGIC and initialises it",
                recipe.name
            )),
            ..Default::default()
        }),
        scenario::Step::Run(scenario::LifecycleStep {
            note: Some("the first KVM_RUN: the guest boots".into()),
            ..Default::default()
        }),
    ];
    steps.extend(guest_steps(guest, from, &config));
    Scenario {
        name: Some(format!(
            "{} guest on {}, as {} creates it",
            guest,
            from.compact(),
            recipe.name
        )),
        description: Some(format!("Guest profile {guest}: {}", guest.summary())),
        note: None,
        host: from,
        vm: config,
        steps,
    }
}

/// What [`GuestProfile::boot`] does on `host`, as scenario steps (the same accesses in
/// the same order; `guest.rs` documents where each comes from).
pub fn guest_steps(guest: GuestProfile, host: Host, config: &VmConfig) -> Vec<scenario::Step> {
    use crate::host::vcpu_mpidr;
    const D: Frame = Frame::Dist;
    const R: Frame = Frame::Redist;
    const DEF_PRI: u64 = 0xa0a0_a0a0;
    let v4_1_aware = match guest {
        GuestProfile::Idle => return Vec::new(),
        GuestProfile::Linux => true,
        GuestProfile::Legacy => false,
    };
    let (nr, vcpus) = (config.nr_irqs, config.vcpus);
    let last = vcpus - 1;
    let mut out = Vec::new();
    let access =
        |frame: Frame, vcpu: u32, offset: u32, width: u8, value: Option<u64>| scenario::RegStep {
            offset: Some(scenario::Num(offset as u64)),
            frame: (frame == R).then_some(R),
            vcpu: (vcpu != 0).then_some(vcpu),
            width: (width != 32).then_some(width),
            value: value.map(scenario::Num),
            ..Default::default()
        };
    let read = |out: &mut Vec<scenario::Step>, f, cpu, off, width, note: Option<&str>| {
        let mut s = access(f, cpu, off, width, None);
        s.note = note.map(str::to_string);
        out.push(scenario::Step::GuestRead(s));
    };
    let write = |out: &mut Vec<scenario::Step>, f, cpu, off, width, v: u64| {
        out.push(scenario::Step::GuestWrite(access(
            f,
            cpu,
            off,
            width,
            Some(v),
        )));
    };
    read(
        &mut out,
        D,
        0,
        GicdPidr2::OFFSET,
        32,
        Some("gic_validate_dist_version reads GICD_PIDR2"),
    );
    read(
        &mut out,
        D,
        0,
        GicdTyper::OFFSET,
        32,
        Some("gic_init_bases reads GICD_TYPER"),
    );
    read(
        &mut out,
        D,
        0,
        GicdIidr::OFFSET,
        32,
        Some("gic_enable_quirks reads GICD_IIDR"),
    );
    if v4_1_aware {
        read(
            &mut out,
            D,
            0,
            GicdTyper2::OFFSET,
            32,
            Some("gic_init_bases reads GICD_TYPER2 (5.7+): nASSGIcap"),
        );
    }
    write(&mut out, D, 0, GicdCtlr::OFFSET, 32, 0);
    for n in 1..nr / 32 {
        write(&mut out, D, 0, GicdIgroupr::at(n), 32, 0xFFFF_FFFF);
        write(&mut out, D, 0, GicdIcactiver::at(n), 32, 0xFFFF_FFFF);
        write(&mut out, D, 0, GicdIcenabler::at(n), 32, 0xFFFF_FFFF);
    }
    for n in 2..nr / 16 {
        write(&mut out, D, 0, GicdIcfgr::at(n), 32, 0);
    }
    for n in 8..nr / 4 {
        write(&mut out, D, 0, GicdIpriorityr::at(n), 32, DEF_PRI);
    }
    for i in 32..nr {
        write(&mut out, D, 0, GicdIrouter::at(i), 64, vcpu_mpidr(0) as u64);
    }
    let mut ctlr = GicdCtlr::ARE_NS.mask();
    let enable = GicdCtlr::ENABLE_GRP1.mask() | GicdCtlr::ENABLE_GRP0.mask();
    // Linux sets nASSGIreq only where it read nASSGIcap: what this host's TYPER2 reads.
    let nassgicap = v4_1_aware && {
        let mut probe = Vgic::new(host, *config);
        probe.init();
        probe.run();
        probe
            .guest_read(D, 0, GicdTyper2::OFFSET, 32)
            .is_ok_and(|o| GicdTyper2::NASSGICAP.is_set(o.value))
    };
    if nassgicap {
        ctlr |= GicdCtlr::NASSGIREQ.mask();
        let mut s = access(D, 0, GicdCtlr::OFFSET, 32, Some(ctlr));
        s.note = Some("gic_dist_init sets nASSGIreq: GICD_TYPER2.nASSGIcap read 1".into());
        out.push(scenario::Step::GuestWrite(s));
    }
    write(&mut out, D, 0, GicdCtlr::OFFSET, 32, ctlr | enable);
    for cpu in 0..vcpus {
        read(&mut out, R, cpu, GicrTyper::OFFSET, 64, None);
        if v4_1_aware {
            read(&mut out, R, cpu, GicrCtlr::OFFSET, 32, None);
        }
        write(&mut out, R, cpu, GicrIgroupr0::OFFSET, 32, 0xFFFF_FFFF);
        write(&mut out, R, cpu, GicrIcactiver0::OFFSET, 32, 0xFFFF_FFFF);
        write(&mut out, R, cpu, GicrIcenabler0::OFFSET, 32, 0xFFFF_0000);
        write(&mut out, R, cpu, GicrIsenabler0::OFFSET, 32, 0x0000_FFFF);
        for n in 0..8 {
            write(&mut out, R, cpu, GicrIpriorityr::at(n), 32, DEF_PRI);
        }
        write(&mut out, R, cpu, GicrIsenabler0::OFFSET, 32, 1 << 27);
    }
    write(&mut out, D, 0, GicdIcfgr::at(2), 32, (1 << 3) | (1 << 5));
    write(&mut out, D, 0, GicdIpriorityr::OFFSET + 40, 8, 0x80);
    write(
        &mut out,
        D,
        0,
        GicdIrouter::at(34),
        64,
        vcpu_mpidr(last) as u64,
    );
    write(
        &mut out,
        D,
        0,
        GicdIrouter::at(nr - 1),
        64,
        vcpu_mpidr(last) as u64,
    );
    for intid in [33, 34, 40, nr - 1] {
        write(
            &mut out,
            D,
            0,
            GicdIsenabler::at(intid / 32),
            32,
            1 << (intid % 32),
        );
    }
    write(&mut out, D, 0, GicdIspendr::at(1), 32, 1 << 1);
    write(&mut out, D, 0, GicdIsactiver::at(1), 32, 1 << 2);
    write(&mut out, R, last, GicrIspendr0::OFFSET, 32, 1 << 2);
    // The guest's ITS setup needs its RAM (`guest::vm_config`).
    if config.its && !config.memory.is_empty() {
        out.extend(crate::guest::its_steps(vcpus));
    }
    out
}
