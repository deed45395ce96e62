package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// rewriteVMX points scsi0:N.fileName at each disk's newest file and applies mutate.
func (l *Launcher) rewriteVMX(vs *vmState, mutate func(*VMX)) error {
	local := l.mustLocal(vs.vmx)
	x, err := readVMX(local)
	if err != nil {
		return err
	}
	for _, d := range vs.disks {
		x.Set(fmt.Sprintf("scsi0:%d.fileName", d.unit), vmxDiskRef(vs.home(), d.top()))
	}
	if mutate != nil {
		mutate(x)
	}
	return writeFileAtomic(local, []byte(x.String()))
}

// powerState reads a VM's power state under its lock.
func powerState(ctx *simulator.Context, vm *simulator.VirtualMachine) types.VirtualMachinePowerState {
	var p types.VirtualMachinePowerState
	ctx.WithLock(vm, func() { p = vm.Runtime.PowerState })
	return p
}

// powerOn powers a VM on or resumes it. A power task (t != nil) first meets the questions a real
// host asks (see question.go) and reads the .vmss back at the home datastore's read rate; the
// launcher's own start-up (t == nil) restores power states without either. The guest heartbeat
// turns green guest.bootSec after a power-on, guest.resumeSec after a resume.
func (l *Launcher) powerOn(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, t *simulator.Task) types.BaseMethodFault {
	state := powerState(ctx, vm)
	if state == types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: state}
	}
	wasSuspended := state == types.VirtualMachinePowerStateSuspended
	if t != nil {
		if f := l.checkQuestions(ctx, vm, vs, t, "PowerOnVM_Task"); f != nil {
			return f
		}
		if wasSuspended {
			l.readSuspendState(vs)
		}
	}
	if _, f := runStock(ctx, vm.PowerOnVMTask(ctx, &types.PowerOnVM_Task{This: vm.Self})); f != nil {
		return f
	}
	if wasSuspended {
		l.dropSuspendState(vs)
	}
	var req []types.VirtualMachineFeatureRequirement
	ctx.WithLock(vm, func() {
		if h, ok := ctx.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem); ok && h.Config != nil {
			for _, f := range h.Config.FeatureCapability {
				req = append(req, types.VirtualMachineFeatureRequirement{Key: f.Key, FeatureName: f.FeatureName, Value: "Bool:Min:" + f.Value})
			}
		}
	})
	ctx.AutoUpdate(vm, func() { vm.Runtime.FeatureRequirement = req })
	vs.mu.Lock()
	vs.powerGen++
	vs.mu.Unlock()
	l.setGuest(ctx, vm, vs, guestBooting)
	vs.startRunning()
	delay := secs(l.spec.Guest.BootSec)
	if wasSuspended {
		delay = secs(l.spec.Guest.ResumeSec)
	}
	if t == nil {
		// the launcher restoring a VM that was running before: its guest is up (set here, not by
		// a timer, so it never races the registration of the next VM at start-up)
		l.setGuest(ctx, vm, vs, guestRunning)
	} else {
		l.startGuest(vm, vs, delay)
	}
	l.syncVM(ctx, vs)
	go l.saveJournal()
	return nil
}

// readSuspendState reads the .vmss back at the home datastore's read rate, as a resume does.
func (l *Launcher) readSuspendState(vs *vmState) {
	vs.mu.RLock()
	home := vs.home()
	vs.mu.RUnlock()
	x, err := readVMX(l.mustLocal(vs.vmx))
	if err != nil || x.Get("checkpoint.vmState") == "" {
		return
	}
	f, err := os.Open(filepath.Join(l.mustLocal(home), x.Get("checkpoint.vmState")))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(io.Discard, &pacedReader{r: f, ctx: context.Background(), ps: []*pacer{l.rates.dsRead[home.DS]}})
}

// dropSuspendState deletes the .vmss and clears checkpoint.vmState.
func (l *Launcher) dropSuspendState(vs *vmState) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	x, err := readVMX(l.mustLocal(vs.vmx))
	if err != nil {
		return
	}
	if f := x.Get("checkpoint.vmState"); f != "" {
		_ = os.Remove(filepath.Join(l.mustLocal(vs.home()), f))
	}
	_ = l.rewriteVMX(vs, func(x *VMX) { x.Delete("checkpoint.vmState") })
}

// powerOff is a hard power-off: instant; the guest writer stops after its current 4 KiB write.
func (l *Launcher) powerOff(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState) types.BaseMethodFault {
	wasSuspended := powerState(ctx, vm) == types.VirtualMachinePowerStateSuspended
	if _, f := runStock(ctx, vm.PowerOffVMTask(ctx, &types.PowerOffVM_Task{This: vm.Self})); f != nil {
		return f
	}
	vs.mu.Lock()
	vs.powerGen++
	vs.mu.Unlock()
	vs.stopRunning()
	if wasSuspended {
		l.dropSuspendState(vs)
	}
	l.setGuest(ctx, vm, vs, guestOff)
	l.syncVM(ctx, vs)
	go l.saveJournal()
	return nil
}

// suspend stops the guest and writes <name>-<hex>.vmss (memory / suspendScale bytes) at the home
// datastore's write rate (unpaced during the launcher's own start-up, paced = false).
func (l *Launcher) suspend(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, paced bool) types.BaseMethodFault {
	if st := powerState(ctx, vm); st != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStateSuspended, ExistingState: st}
	}
	vs.stopRunning()
	vs.mu.Lock()
	vs.powerGen++
	name := fmt.Sprintf("%s-%08x.vmss", vs.name, uint32(mix(vs.seed, vs.counter, 0x55)))
	seed := mix(vs.seed, vs.counter)
	size := (vs.memoryMiB << 20) / l.spec.SuspendScale
	home := vs.home()
	vs.mu.Unlock()
	var ps []*pacer
	if paced {
		ps = append(ps, l.rates.dsWrite[home.DS])
	}
	// written without vs.mu: the guest is stopped and nothing else touches a new .vmss, and a
	// minutes-long write must not stall readers of the VM's state
	err := writeStateFile(filepath.Join(l.mustLocal(home), name), size, seed, ps...)
	if err == nil {
		vs.mu.Lock()
		err = l.rewriteVMX(vs, func(x *VMX) { x.Set("checkpoint.vmState", name) })
		vs.mu.Unlock()
	}
	if err != nil {
		return &types.CannotCreateFile{FileFault: types.FileFault{File: name}}
	}
	if _, f := runStock(ctx, vm.SuspendVMTask(ctx, &types.SuspendVM_Task{This: vm.Self})); f != nil {
		return f
	}
	l.setGuest(ctx, vm, vs, guestOff)
	l.syncVM(ctx, vs)
	go l.saveJournal()
	return nil
}

// writeStateFile writes size deterministic bytes (a stand-in for the guest's memory) through the pacers.
func writeStateFile(file string, size int64, seed uint64, ps ...*pacer) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(&pacedWriter{w: f, ctx: context.Background(), ps: ps}, 1<<20)
	blk := make([]byte, blockSize)
	for b := int64(0); b*blockSize < size; b++ {
		n := min(int64(blockSize), size-b*blockSize)
		fillPRNG(blk, mix(seed, 0x55, uint64(b)))
		if _, err := w.Write(blk[:n]); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// --- snapshots and consolidation -------------------------------------------------

// addDelta creates a new delta on top of a disk, in the VM home folder; vs.mu must be held.
func (l *Launcher) addDelta(vs *vmState, d *diskState) error {
	top := d.top()
	topDesc, err := readDescriptor(l.mustLocal(top))
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(path.Base(d.chain[0].Path), ".vmdk")
	var p dsPath
	for n := 1; ; n++ {
		p = vs.home().Join(fmt.Sprintf("%s-%06d.vmdk", base, n))
		if !fileExists(l.mustLocal(p)) {
			break
		}
	}
	name := path.Base(p.Path)
	desc := &Descriptor{
		CID: uint32(mix(vs.seed, uint64(len(d.chain)), uint64(time.Now().UnixNano()))), ParentCID: topDesc.CID,
		CreateType: "vmfsSparse", ParentHint: vmxDiskRef(vs.home(), top),
		Sectors: d.capacity / sectorSize, ExtentType: "VMFSSPARSE", Extent: extentName(name, true),
		DDB: []kv{{"longContentID", fmt.Sprintf("%016x", mix(vs.seed, uint64(len(d.chain))))}},
	}
	local := l.mustLocal(p)
	if err := createDelta(filepath.Join(filepath.Dir(local), desc.Extent), d.capacity); err != nil {
		return err
	}
	if err := writeFileAtomic(local, []byte(desc.String())); err != nil {
		return err
	}
	d.chain = append(d.chain, p)
	return nil
}

// mergeLevel merges chain[level] into chain[level-1] on disk and deletes its files; vs.mu must be held.
func (l *Launcher) mergeLevel(vs *vmState, d *diskState, level int) error {
	if level <= 0 || level >= len(d.chain) {
		return nil
	}
	parent, child := d.chain[level-1], d.chain[level]
	pext, _, err := l.extentOf(parent)
	if err != nil {
		return err
	}
	cext, _, err := l.extentOf(child)
	if err != nil {
		return err
	}
	// merging reads the delta and writes its data into the parent: time at the datastores' rates
	if st, err := os.Stat(cext); err == nil {
		paceBytes(st.Size(), l.rates.dsRead[child.DS], l.rates.dsWrite[parent.DS])
	}
	if err := mergeDelta(pext, cext); err != nil {
		return err
	}
	_ = os.Remove(cext)
	_ = os.Remove(l.mustLocal(child))
	d.chain = append(d.chain[:level], d.chain[level+1:]...)
	if level < len(d.chain) {
		next := d.chain[level]
		local := l.mustLocal(next)
		nd, err := readDescriptor(local)
		if err != nil {
			return err
		}
		pd, _ := readDescriptor(l.mustLocal(parent))
		nd.ParentHint = vmxDiskRef(next.Dir(), parent)
		if pd != nil {
			nd.ParentCID = pd.CID
		}
		return writeFileAtomic(local, []byte(nd.String()))
	}
	return nil
}

// removeLevels merges the given delta level (1-based) of every disk into its parent.
func (l *Launcher) removeLevel(vs *vmState, level int) error {
	for _, d := range vs.disks {
		if level <= d.base {
			d.base-- // a level below the disk goes: its own levels move down by one
			continue
		}
		if err := l.mergeLevel(vs, d, level-d.base); err != nil {
			return err
		}
	}
	for i := range vs.snaps {
		if vs.snaps[i].level > level {
			vs.snaps[i].level--
		}
	}
	return nil
}

func (l *Launcher) writeVMSD(vs *vmState) {
	file := filepath.Join(l.mustLocal(vs.home()), vs.name+".vmsd")
	x := &VMX{}
	x.Set(".encoding", "UTF-8")
	if len(vs.snaps) == 0 {
		_ = writeFileAtomic(file, []byte(x.String()))
		return
	}
	x.Set("snapshot.lastUID", strconv.Itoa(len(vs.snaps)))
	x.Set("snapshot.current", strconv.Itoa(len(vs.snaps)))
	for i, s := range vs.snaps {
		pre := fmt.Sprintf("snapshot%d.", i)
		x.Set(pre+"uid", strconv.Itoa(i+1))
		if i > 0 {
			x.Set(pre+"parent", strconv.Itoa(i))
		}
		x.Set(pre+"filename", s.vmsn)
		x.Set(pre+"displayName", s.name)
		j := 0
		for _, d := range vs.disks {
			// a disk added after this snapshot is not part of it
			if i := s.level - 1 - d.base; i >= 0 && i < len(d.chain) {
				x.Set(fmt.Sprintf("%sdisk%d.fileName", pre, j), vmxDiskRef(vs.home(), d.chain[i]))
				x.Set(fmt.Sprintf("%sdisk%d.node", pre, j), fmt.Sprintf("scsi0:%d", d.unit))
				j++
			}
		}
		x.Set(pre+"numDisks", strconv.Itoa(j))
	}
	x.Set("snapshot.numSnapshots", strconv.Itoa(len(vs.snaps)))
	_ = writeFileAtomic(file, []byte(x.String()))
}

func (l *Launcher) createSnapshot(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, req *types.CreateSnapshot_Task) (types.AnyType, types.BaseMethodFault) {
	cbtOn := vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
	keys := diskKeys(vm)
	vs.mu.Lock()
	for _, d := range vs.disks {
		if err := l.addDelta(vs, d); err != nil {
			vs.mu.Unlock()
			l.logf("snapshot %s: %v", vs.name, err)
			return nil, &types.CannotCreateFile{FileFault: types.FileFault{File: err.Error()}}
		}
	}
	marks := l.markSnapshotCBT(cbtOn, keys, vs)
	err := l.rewriteVMX(vs, nil)
	level := max(1, vs.level())
	vmx, _ := os.ReadFile(l.mustLocal(vs.vmx))
	vs.mu.Unlock()
	if err != nil {
		return nil, &types.FileFault{File: vs.vmx.String()}
	}
	vmsn := ""
	for i := 1; ; i++ {
		vmsn = fmt.Sprintf("%s-Snapshot%d.vmsn", vm.Name, i)
		if !fileExists(filepath.Join(l.mustLocal(vs.home()), vmsn)) {
			break
		}
	}
	res, f := runStock(ctx, vm.CreateSnapshotTask(ctx, req))
	if f != nil {
		return nil, f
	}
	l.noteSnapshotCBT(vm, res.(types.ManagedObjectReference))
	setSnapshotChangeIDs(ctx, res.(types.ManagedObjectReference), marks)
	_ = os.WriteFile(filepath.Join(l.mustLocal(vs.home()), vmsn), append([]byte("\xd0\xbe\xd0\xbeVMSN"), vmx...), 0o644)
	vs.mu.Lock()
	vs.snaps = append(vs.snaps, snapRec{ref: res.(types.ManagedObjectReference), name: req.Name, vmsn: vmsn, level: level, cbt: marks})
	l.writeVMSD(vs)
	vs.mu.Unlock()
	l.syncVM(ctx, vs)
	return res, nil
}

func (l *Launcher) removeSnapshot(ctx *simulator.Context, snap *simulator.VirtualMachineSnapshot, req *types.RemoveSnapshot_Task) types.BaseMethodFault {
	vs := l.vmByRef(snap.Vm.Value)
	vm := ctx.Map.Get(snap.Vm).(*simulator.VirtualMachine)
	vs.mu.Lock()
	idx := -1
	for i, s := range vs.snaps {
		if s.ref == snap.Self {
			idx = i
		}
	}
	var drop []snapRec
	if idx >= 0 {
		drop = append(drop, vs.snaps[idx])
		if req.RemoveChildren {
			drop = append(drop, vs.snaps[idx+1:]...)
		}
	}
	for i := len(drop) - 1; i >= 0; i-- {
		if err := l.removeLevel(vs, drop[i].level); err != nil {
			vs.mu.Unlock()
			return &types.FileFault{File: err.Error()}
		}
	}
	keep := vs.snaps[:0]
	for _, s := range vs.snaps {
		dropped := false
		for _, d := range drop {
			dropped = dropped || d.ref == s.ref
		}
		if !dropped {
			keep = append(keep, s)
		} else {
			_ = os.Remove(filepath.Join(l.mustLocal(vs.home()), s.vmsn))
		}
	}
	vs.snaps = keep
	_ = l.rewriteVMX(vs, nil)
	l.writeVMSD(vs)
	vs.mu.Unlock()
	l.syncVM(ctx, vs) // layout must not reference the removed snapshot files any more
	if _, f := runStock(ctx, snap.RemoveSnapshotTask(ctx, req)); f != nil {
		return f
	}
	l.syncVM(ctx, vs)
	_ = vm
	return nil
}

func (l *Launcher) removeAllSnapshots(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, req *types.RemoveAllSnapshots_Task) types.BaseMethodFault {
	vs.mu.Lock()
	for _, d := range vs.disks {
		for len(d.chain) > 1 {
			if err := l.mergeLevel(vs, d, 1); err != nil {
				vs.mu.Unlock()
				return &types.FileFault{File: err.Error()}
			}
		}
	}
	for _, s := range vs.snaps {
		_ = os.Remove(filepath.Join(l.mustLocal(vs.home()), s.vmsn))
	}
	vs.snaps = nil
	_ = l.rewriteVMX(vs, nil)
	l.writeVMSD(vs)
	vs.mu.Unlock()
	l.syncVM(ctx, vs)
	if vm.Snapshot != nil {
		if _, f := runStock(ctx, vm.RemoveAllSnapshotsTask(ctx, req)); f != nil {
			return f
		}
	}
	l.syncVM(ctx, vs)
	return nil
}

// consolidate merges the deltas no snapshot owns (the lowest levels) into the base.
func (l *Launcher) consolidate(ctx *simulator.Context, vs *vmState) types.BaseMethodFault {
	vs.mu.Lock()
	for _, d := range vs.disks {
		extra := len(d.chain) - 1 - len(vs.snaps)
		for range max(extra, 0) {
			if err := l.mergeLevel(vs, d, 1); err != nil {
				vs.mu.Unlock()
				return &types.FileFault{File: err.Error()}
			}
		}
	}
	for i := range vs.snaps {
		vs.snaps[i].level = i + 1
	}
	_ = l.rewriteVMX(vs, nil)
	vs.mu.Unlock()
	l.syncVM(ctx, vs)
	return nil
}
