package main

import (
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// relocate implements RelocateVM_Task with a real vCenter's checks, moving files on a datastore change.
func (l *Launcher) relocate(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, req *types.RelocateVM_Task) types.BaseMethodFault {
	spec := req.Spec
	srcHost := ctx.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
	dstHost := srcHost
	if spec.Host != nil {
		h, ok := ctx.Map.Get(*spec.Host).(*simulator.HostSystem)
		if !ok {
			return &types.ManagedObjectNotFound{Obj: *spec.Host}
		}
		dstHost = h
	}
	var pool mo.Entity
	if spec.Pool != nil {
		p, ok := ctx.Map.Get(*spec.Pool).(mo.Entity)
		if !ok || (spec.Pool.Type != "ResourcePool" && spec.Pool.Type != "VirtualApp") {
			return &types.ManagedObjectNotFound{Obj: *spec.Pool}
		}
		pool = p
	}
	if spec.Folder != nil {
		if _, ok := ctx.Map.Get(*spec.Folder).(*simulator.Folder); !ok {
			return &types.ManagedObjectNotFound{Obj: *spec.Folder}
		}
	}
	dsByRef := func(ref types.ManagedObjectReference) (*simulator.Datastore, types.BaseMethodFault) {
		ds, ok := ctx.Map.Get(ref).(*simulator.Datastore)
		if !ok {
			return nil, &types.ManagedObjectNotFound{Obj: ref}
		}
		if !containsRef(dstHost.Datastore, ref) {
			return nil, &types.InvalidArgument{InvalidProperty: "spec.datastore"}
		}
		return ds, nil
	}
	var homeDS *simulator.Datastore
	if spec.Datastore != nil {
		ds, f := dsByRef(*spec.Datastore)
		if f != nil {
			return f
		}
		homeDS = ds
	}
	vs.mu.RLock()
	diskTarget := make([]string, len(vs.disks))
	for i, d := range vs.disks {
		diskTarget[i] = d.top().DS
		if homeDS != nil {
			diskTarget[i] = homeDS.Name
		}
	}
	vs.mu.RUnlock()
	disks := diskKeys(vm)
	for _, loc := range spec.Disk {
		ds, f := dsByRef(loc.Datastore)
		if f != nil {
			return f
		}
		idx := -1
		for i, key := range disks {
			if key == loc.DiskId {
				idx = i
			}
		}
		if idx < 0 || idx >= len(diskTarget) {
			return &types.InvalidArgument{InvalidProperty: "spec.disk.diskId"}
		}
		diskTarget[idx] = ds.Name
	}
	hostChange := dstHost.Self != srcHost.Self
	running := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	if hostChange && running {
		if !srcHost.Capability.VmotionSupported || !dstHost.Capability.VmotionSupported {
			failed := dstHost
			if !srcHost.Capability.VmotionSupported {
				failed = srcHost
			}
			return &types.VMotionNotSupported{VMotionInterfaceIssue: types.VMotionInterfaceIssue{AtSourceHost: failed == srcHost, FailedHost: failed.Name, FailedHostEntity: &failed.Self}}
		}
		if !l.licensed("vmotion", srcHost.Name, dstHost.Name) {
			return &types.VMotionNotLicensed{VMotionInterfaceIssue: types.VMotionInterfaceIssue{AtSourceHost: false, FailedHost: dstHost.Name, FailedHostEntity: &dstHost.Self}}
		}
	}
	homeTarget := vs.vmx.DS
	if homeDS != nil {
		homeTarget = homeDS.Name
	}
	storageChange := homeTarget != vs.vmx.DS
	vs.mu.RLock()
	for i, d := range vs.disks {
		for _, p := range d.chain {
			if p.DS != diskTarget[i] {
				storageChange = true
			}
		}
	}
	vs.mu.RUnlock()
	if storageChange && running {
		if !dstHost.Capability.StorageVMotionSupported {
			return &types.NotSupported{}
		}
		if !l.licensed("storagevmotion", dstHost.Name) {
			return &types.LicenseRestricted{}
		}
	}
	if storageChange {
		if f := l.moveFiles(vs, homeTarget, diskTarget); f != nil {
			return f
		}
		if f := l.applyDiskBackings(vs, spec.Disk, disks); f != nil {
			return f
		}
	}
	if hostChange {
		ctx.AutoUpdate(srcHost, func() { srcHost.Vm = removeRef(srcHost.Vm, vm.Self) })
		ctx.AutoUpdate(dstHost, func() { dstHost.Vm = append(dstHost.Vm, vm.Self) })
		ctx.AutoUpdate(vm, func() {
			vm.Runtime.Host = &dstHost.Self
			vm.Summary.Runtime.Host = &dstHost.Self
		})
		vs.mu.Lock()
		vs.host = dstHost.Name
		vs.mu.Unlock()
	}
	if storageChange || hostChange {
		// vCenter moved the VM itself: the host records the new location, nothing is asked
		vs.mu.Lock()
		loc := l.locationUUID(vs.host, vs.vmx)
		_ = l.rewriteVMX(vs, func(x *VMX) { x.Set("uuid.location", loc) })
		vs.mu.Unlock()
	}
	if pool != nil && vm.ResourcePool != nil && *vm.ResourcePool != pool.Reference() {
		if old, ok := ctx.Map.Get(*vm.ResourcePool).(*simulator.ResourcePool); ok {
			ctx.AutoUpdate(old, func() { old.Vm = removeRef(old.Vm, vm.Self) })
		}
		if np, ok := pool.(*simulator.ResourcePool); ok {
			ctx.AutoUpdate(np, func() { np.Vm = append(np.Vm, vm.Self) })
		}
		ref := pool.Reference()
		ctx.AutoUpdate(vm, func() { vm.ResourcePool = &ref })
	}
	l.syncVM(ctx, vs)
	go l.saveJournal()
	go l.refreshAllSpace()
	return nil
}

func diskKeys(vm *simulator.VirtualMachine) []int32 {
	var keys []int32
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			keys = append(keys, disk.Key)
		}
	}
	return keys
}

// moveFiles moves the home folder to homeDS and each disk chain to its target datastore,
// then rewrites descriptors and the .vmx. The guest writer is paused for the duration.
func (l *Launcher) moveFiles(vs *vmState, homeDS string, diskDS []string) types.BaseMethodFault {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	oldHome := vs.home()
	newHome := dsPath{homeDS, oldHome.Path}
	if newHome != oldHome && fileExists(l.mustLocal(newHome.Join(path.Base(vs.vmx.Path)))) {
		return &types.FileAlreadyExists{FileFault: types.FileFault{File: newHome.String()}}
	}
	moved := map[dsPath]dsPath{}
	move := func(from, to dsPath) error {
		if from == to {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(l.mustLocal(to)), 0o755); err != nil {
			return err
		}
		if from.DS != to.DS {
			// another datastore: the bytes are copied at the source's read and target's write rate
			if err := l.copyFilePaced(l.mustLocal(from), l.mustLocal(to), from.DS, to.DS); err != nil {
				return err
			}
			return os.Remove(l.mustLocal(from))
		}
		return moveFile(l.mustLocal(from), l.mustLocal(to))
	}
	// disks first (their files may live in the home folder)
	for i, d := range vs.disks {
		for j, p := range d.chain {
			ext, _, err := l.extentOf(p)
			if err != nil {
				return &types.FileNotFound{FileFault: types.FileFault{File: p.String()}}
			}
			target := dsPath{diskDS[i], p.Path}
			if p.DS == oldHome.DS && path.Dir(p.Path) == oldHome.Path && diskDS[i] != homeDS {
				target = dsPath{diskDS[i], path.Join(path.Base(oldHome.Path), path.Base(p.Path))}
			}
			if err := move(p, target); err != nil {
				return &types.FileFault{File: err.Error()}
			}
			if err := move(p.Dir().Join(filepath.Base(ext)), target.Dir().Join(filepath.Base(ext))); err != nil {
				return &types.FileFault{File: err.Error()}
			}
			moved[p] = target
			d.chain[j] = target
		}
	}
	// rest of the home folder
	if newHome != oldHome {
		entries, _ := os.ReadDir(l.mustLocal(oldHome))
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if err := move(oldHome.Join(e.Name()), newHome.Join(e.Name())); err != nil {
				return &types.FileFault{File: err.Error()}
			}
		}
		_ = os.Remove(l.mustLocal(oldHome))
		vs.vmx = dsPath{homeDS, vs.vmx.Path}
	}
	// parent hints follow the new locations
	for _, d := range vs.disks {
		for j := 1; j < len(d.chain); j++ {
			local := l.mustLocal(d.chain[j])
			desc, err := readDescriptor(local)
			if err != nil {
				continue
			}
			desc.ParentHint = vmxDiskRef(d.chain[j].Dir(), d.chain[j-1])
			_ = writeFileAtomic(local, []byte(desc.String()))
		}
	}
	if err := l.rewriteVMX(vs, nil); err != nil {
		return &types.FileFault{File: err.Error()}
	}
	return nil
}

func moveFile(from, to string) error {
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Remove(from)
}
