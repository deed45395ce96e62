package main

import (
	"fmt"
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

func (l *Launcher) setHeartbeat(ctx *simulator.Context, vm *simulator.VirtualMachine, green bool) {
	ctx.AutoUpdate(vm, func() {
		if green && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			return
		}
		status, tools, toolsStatus := types.ManagedEntityStatusGray, string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning), types.VirtualMachineToolsStatusToolsNotRunning
		if green {
			status, tools, toolsStatus = types.ManagedEntityStatusGreen, string(types.VirtualMachineToolsRunningStatusGuestToolsRunning), types.VirtualMachineToolsStatusToolsOk
		}
		vm.GuestHeartbeatStatus = status
		vm.Summary.QuickStats.GuestHeartbeatStatus = status
		if vm.Guest == nil {
			vm.Guest = &types.GuestInfo{}
		}
		vm.Guest.ToolsRunningStatus = tools
		vm.Guest.ToolsStatus = toolsStatus
		vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
		if vm.Summary.Guest != nil {
			vm.Summary.Guest.ToolsRunningStatus = tools
			vm.Summary.Guest.ToolsStatus = toolsStatus
		}
	})
}

// powerOn powers a VM on (or resumes it), consuming the .vmss, starting the guest writer and heartbeat.
func (l *Launcher) powerOn(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState) types.BaseMethodFault {
	wasSuspended := vm.Runtime.PowerState == types.VirtualMachinePowerStateSuspended
	if _, f := runStock(ctx, vm.PowerOnVMTask(ctx, &types.PowerOnVM_Task{This: vm.Self})); f != nil {
		return f
	}
	if wasSuspended {
		l.dropSuspendState(vs)
	}
	var req []types.VirtualMachineFeatureRequirement
	if h, ok := ctx.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem); ok && h.Config != nil {
		for _, f := range h.Config.FeatureCapability {
			req = append(req, types.VirtualMachineFeatureRequirement{Key: f.Key, FeatureName: f.FeatureName, Value: "Bool:Min:" + f.Value})
		}
	}
	ctx.AutoUpdate(vm, func() { vm.Runtime.FeatureRequirement = req })
	l.setHeartbeat(ctx, vm, false)
	vs.startRunning()
	delay := time.Duration(l.spec.HeartbeatDelaySec * float64(time.Second))
	vs.mu.Lock()
	vs.hbTimer = time.AfterFunc(delay, func() {
		if vs.isRunning() {
			l.setHeartbeat(l.bgCtx(), vm, true)
		}
	})
	vs.mu.Unlock()
	l.syncVM(ctx, vs)
	go l.saveJournal()
	return nil
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

func (l *Launcher) powerOff(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState) types.BaseMethodFault {
	wasSuspended := vm.Runtime.PowerState == types.VirtualMachinePowerStateSuspended
	if _, f := runStock(ctx, vm.PowerOffVMTask(ctx, &types.PowerOffVM_Task{This: vm.Self})); f != nil {
		return f
	}
	vs.stopRunning()
	if wasSuspended {
		l.dropSuspendState(vs)
	}
	l.setHeartbeat(ctx, vm, false)
	l.syncVM(ctx, vs)
	go l.saveJournal()
	return nil
}

// suspend stops the guest, writes <name>-<hex>.vmss and records it in the .vmx.
func (l *Launcher) suspend(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState) types.BaseMethodFault {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStateSuspended, ExistingState: vm.Runtime.PowerState}
	}
	vs.stopRunning()
	vs.mu.Lock()
	name := fmt.Sprintf("%s-%08x.vmss", vs.name, uint32(mix(vs.seed, vs.counter, 0x55)))
	size := (vs.memoryMiB << 20) / l.spec.SuspendScale
	err := writeFlatExtent(filepath.Join(l.mustLocal(vs.home()), name), size, "pattern", mix(vs.seed, vs.counter), 0x55)
	if err == nil {
		err = l.rewriteVMX(vs, func(x *VMX) { x.Set("checkpoint.vmState", name) })
	}
	vs.mu.Unlock()
	if err != nil {
		return &types.CannotCreateFile{FileFault: types.FileFault{File: name}}
	}
	if _, f := runStock(ctx, vm.SuspendVMTask(ctx, &types.SuspendVM_Task{This: vm.Self})); f != nil {
		return f
	}
	l.setHeartbeat(ctx, vm, false)
	l.syncVM(ctx, vs)
	go l.saveJournal()
	return nil
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
		if err := l.mergeLevel(vs, d, level); err != nil {
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
		x.Set(pre+"numDisks", strconv.Itoa(len(vs.disks)))
		for j, d := range vs.disks {
			if s.level-1 < len(d.chain) {
				x.Set(fmt.Sprintf("%sdisk%d.fileName", pre, j), vmxDiskRef(vs.home(), d.chain[s.level-1]))
				x.Set(fmt.Sprintf("%sdisk%d.node", pre, j), fmt.Sprintf("scsi0:%d", d.unit))
			}
		}
	}
	x.Set("snapshot.numSnapshots", strconv.Itoa(len(vs.snaps)))
	_ = writeFileAtomic(file, []byte(x.String()))
}

func (l *Launcher) createSnapshot(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, req *types.CreateSnapshot_Task) (types.AnyType, types.BaseMethodFault) {
	vs.mu.Lock()
	for _, d := range vs.disks {
		if err := l.addDelta(vs, d); err != nil {
			vs.mu.Unlock()
			l.logf("snapshot %s: %v", vs.name, err)
			return nil, &types.CannotCreateFile{FileFault: types.FileFault{File: err.Error()}}
		}
	}
	err := l.rewriteVMX(vs, nil)
	level := 1
	if len(vs.disks) > 0 {
		level = len(vs.disks[0].chain) - 1
	}
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
	_ = os.WriteFile(filepath.Join(l.mustLocal(vs.home()), vmsn), append([]byte("\xd0\xbe\xd0\xbeVMSN"), vmx...), 0o644)
	vs.mu.Lock()
	vs.snaps = append(vs.snaps, snapRec{ref: res.(types.ManagedObjectReference), name: req.Name, vmsn: vmsn, level: level})
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
