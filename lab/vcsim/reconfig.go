package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// addedDisk is a disk that a ReconfigVM_Task created, kept until the task's outcome is known.
type addedDisk struct {
	disk      *diskState
	desc, ext string // local files
}

// prepareDiskAdds creates the files of every new virtual disk a ReconfigVM_Task adds (operation
// add, fileOperation create, on the VM's SCSI controller), as a host does before it attaches the
// disk: a descriptor and a flat extent of the capacity asked, named `<vm>_<n>.vmdk` in the VM's
// folder on the datastore the backing names (or the VM's home datastore), zero-filled (a hole in
// the lab, whatever the provisioning: a new disk reads as zeros), the `.vmx` gaining
// `scsi0:N.present/deviceType/fileName`. The spec is rewritten to attach the existing file (no
// fileOperation), with the key a host gives (2000 + unit), so the stock reconfiguration only adds
// the device. The guest writer writes into the new disk from then on (it is a disk of the guest).
func (l *Launcher) prepareDiskAdds(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, req *types.ReconfigVM_Task) ([]addedDisk, types.BaseMethodFault) {
	var added []addedDisk
	var ctrlKey int32 = -1
	ctx.WithLock(vm, func() {
		for _, dev := range vm.Config.Hardware.Device {
			if c, ok := dev.(types.BaseVirtualSCSIController); ok && c.GetVirtualSCSIController().BusNumber == 0 {
				ctrlKey = c.GetVirtualSCSIController().Key
			}
		}
	})
	fail := func(f types.BaseMethodFault) ([]addedDisk, types.BaseMethodFault) {
		l.undoDiskAdds(vs, added)
		return nil, f
	}
	for i, change := range req.Spec.DeviceChange {
		dspec := change.GetVirtualDeviceConfigSpec()
		disk, ok := dspec.Device.(*types.VirtualDisk)
		if !ok || dspec.Operation != types.VirtualDeviceConfigSpecOperationAdd || dspec.FileOperation != types.VirtualDeviceConfigSpecFileOperationCreate {
			continue
		}
		invalid := &types.InvalidDeviceSpec{InvalidVmConfig: types.InvalidVmConfig{Property: "deviceChange"}, DeviceIndex: int32(i)}
		backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok || disk.UnitNumber == nil || *disk.UnitNumber == 7 || *disk.UnitNumber > 15 || (disk.ControllerKey != ctrlKey && ctrlKey >= 0) {
			return fail(invalid)
		}
		capacity := disk.CapacityInBytes
		if capacity == 0 {
			capacity = disk.CapacityInKB * 1024
		}
		if capacity <= 0 || capacity%sectorSize != 0 {
			return fail(invalid)
		}
		unit := *disk.UnitNumber
		vs.mu.Lock()
		taken := false
		for _, d := range vs.disks {
			taken = taken || d.unit == unit
		}
		vs.mu.Unlock()
		if taken {
			return fail(invalid)
		}
		// The datastore of the backing's file name ("[ds]" or "[ds] folder/name.vmdk"), else home.
		home := vs.home()
		dir := home
		var p dsPath
		if parsed, ok := parseDSPath(backing.FileName); ok && parsed.DS != "" {
			dir = dsPath{parsed.DS, home.Path}
			if parsed.Path != "" {
				p = parsed
			}
		}
		if _, ok := l.local(dir); !ok {
			return fail(&types.NotFound{})
		}
		if p.Path == "" {
			for n := 1; ; n++ {
				p = dir.Join(diskFileName(vs.name, n))
				if !fileExists(l.mustLocal(p)) {
					break
				}
			}
		}
		local := l.mustLocal(p)
		if fileExists(local) {
			return fail(&types.FileAlreadyExists{FileFault: types.FileFault{File: p.String()}})
		}
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			return fail(&types.CannotCreateFile{FileFault: types.FileFault{File: p.String()}})
		}
		vs.mu.Lock()
		index := len(vs.disks)
		level := vs.level()
		vs.mu.Unlock()
		desc := flatDescriptor(extentName(filepath.Base(p.Path), false), capacity, mix(vs.seed, 0xadd), index)
		if backing.ThinProvisioned != nil && *backing.ThinProvisioned {
			desc.setDDB("thinProvisioned", "1")
		}
		ext := filepath.Join(filepath.Dir(local), desc.Extent)
		a := addedDisk{desc: local, ext: ext, disk: &diskState{unit: unit, chain: []dsPath{p}, capacity: capacity, base: level}}
		if err := writeFlatExtent(ext, capacity, "sparse", 0, 0); err != nil {
			return fail(&types.CannotCreateFile{FileFault: types.FileFault{File: p.String()}})
		}
		if err := os.WriteFile(local, []byte(desc.String()), 0o644); err != nil {
			_ = os.Remove(ext)
			return fail(&types.CannotCreateFile{FileFault: types.FileFault{File: p.String()}})
		}
		added = append(added, a)
		vs.mu.Lock()
		vs.disks = append(vs.disks, a.disk)
		err := l.rewriteVMX(vs, func(x *VMX) {
			x.Set(fmt.Sprintf("scsi0:%d.present", unit), "TRUE")
			x.Set(fmt.Sprintf("scsi0:%d.deviceType", unit), "scsi-hardDisk")
		})
		vs.mu.Unlock()
		if err != nil {
			return fail(&types.FileFault{File: vs.vmx.String()})
		}
		backing.FileName = p.String()
		dspec.FileOperation = ""
		disk.Key = 2000 + unit
		disk.CapacityInBytes, disk.CapacityInKB = capacity, capacity/1024
	}
	return added, nil
}

// undoDiskAdds removes the files and .vmx lines of disks whose reconfiguration failed.
func (l *Launcher) undoDiskAdds(vs *vmState, added []addedDisk) {
	if len(added) == 0 {
		return
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	for _, a := range added {
		_ = os.Remove(a.desc)
		_ = os.Remove(a.ext)
		keep := vs.disks[:0]
		for _, d := range vs.disks {
			if d != a.disk {
				keep = append(keep, d)
			}
		}
		vs.disks = keep
	}
	_ = l.rewriteVMX(vs, func(x *VMX) {
		for _, a := range added {
			for _, k := range []string{"present", "deviceType", "fileName"} {
				x.Delete(fmt.Sprintf("scsi0:%d.%s", a.disk.unit, k))
			}
		}
	})
}

// level is the snapshot level of the VM's current state (the number of deltas above the oldest
// base); vs.mu must be held.
func (vs *vmState) level() int {
	level := 0
	for _, d := range vs.disks {
		level = max(level, d.base+len(d.chain)-1)
	}
	return level
}
