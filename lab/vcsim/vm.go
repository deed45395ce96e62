package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func (l *Launcher) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+l.spec.Name+": "+format+"\n", args...)
}

// extentOf returns the local extent file of a descriptor and whether it is a delta.
func (l *Launcher) extentOf(desc dsPath) (string, bool, error) {
	local, ok := l.local(desc)
	if !ok {
		return "", false, fmt.Errorf("unknown datastore %s", desc.DS)
	}
	d, err := readDescriptor(local)
	if err != nil {
		return "", false, err
	}
	return filepath.Join(filepath.Dir(local), d.Extent), d.IsDelta(), nil
}

// readChain follows parentFileNameHint from top down to the base; returns base first.
func (l *Launcher) readChain(top dsPath) ([]dsPath, int64, error) {
	var chain []dsPath
	cur := top
	for range 64 {
		local, ok := l.local(cur)
		if !ok {
			return nil, 0, fmt.Errorf("unknown datastore in %s", cur)
		}
		d, err := readDescriptor(local)
		if err != nil {
			return nil, 0, err
		}
		chain = append([]dsPath{cur}, chain...)
		if !d.IsDelta() {
			return chain, d.Sectors * sectorSize, nil
		}
		cur = resolveRef(cur.Dir(), d.ParentHint)
	}
	return nil, 0, fmt.Errorf("disk chain of %s too long", top)
}

type vmxInfo struct {
	name           string
	memory         int64
	cpus           int32
	guestOS        string
	disks          []*diskState
	vmState        string // checkpoint.vmState
	nvram          string
	seed           uint64
	rate           int64
	hasVC          bool
	noTools        bool // quickmig.tools = "none"
	ignoreShutdown bool // quickmig.ignoreShutdown = "TRUE"
	template       bool // quickmig.template = "TRUE": registered as a template
	// sharedBus is scsi0.sharedBus: "", "none", "virtual" or "physical", as the controller's SharedBus.
	sharedBus string
	// nics are the present ethernetN adapters, in order: the port group each is on (ethernetN.networkName)
	// and ethernetN.startConnected (FALSE leaves it disconnected at power-on).
	nics []vmxNIC
}

// vmxNIC is an ethernetN adapter of a .vmx.
type vmxNIC struct {
	network        string
	startConnected bool
}

func (l *Launcher) parseVMXInfo(vmx dsPath) (*vmxInfo, types.BaseMethodFault) {
	local, ok := l.local(vmx)
	if !ok {
		return nil, &types.InvalidDatastorePath{DatastorePath: vmx.String()}
	}
	x, err := readVMX(local)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &types.FileNotFound{FileFault: types.FileFault{File: vmx.String()}}
		}
		return nil, &types.InvalidVmConfig{Property: "vmx"}
	}
	info := &vmxInfo{name: x.Get("displayName"), guestOS: x.Get("guestOS"), vmState: x.Get("checkpoint.vmState"), nvram: x.Get("nvram")}
	info.memory, _ = strconv.ParseInt(x.Get("memSize"), 10, 64)
	n, _ := strconv.Atoi(x.Get("numvcpus"))
	info.cpus = int32(max(n, 1))
	if info.memory <= 0 {
		info.memory = 1024
	}
	info.seed, _ = strconv.ParseUint(x.Get("quickmig.seed"), 10, 64)
	if x.Get("quickmig.seed") == "" {
		info.seed = hashString(x.Get("uuid.bios"))
	}
	info.rate, _ = strconv.ParseInt(x.Get("quickmig.guestWriteBytesPerSec"), 10, 64)
	info.sharedBus = x.Get("scsi0.sharedBus")
	info.noTools = x.Get("quickmig.tools") == "none"
	info.ignoreShutdown = strings.EqualFold(x.Get("quickmig.ignoreShutdown"), "TRUE")
	info.template = strings.EqualFold(x.Get("quickmig.template"), "TRUE")
	for i := range 10 {
		pre := fmt.Sprintf("ethernet%d.", i)
		if !strings.EqualFold(x.Get(pre+"present"), "TRUE") {
			continue
		}
		network := x.Get(pre + "networkName")
		if network == "" {
			network = "VM Network"
		}
		info.nics = append(info.nics, vmxNIC{network: network, startConnected: !strings.EqualFold(x.Get(pre+"startConnected"), "FALSE")})
	}
	for _, e := range x.entries {
		rest, ok := strings.CutPrefix(strings.ToLower(e.k), "scsi0:")
		if !ok || !strings.HasSuffix(rest, ".filename") {
			continue
		}
		unit, err := strconv.Atoi(strings.TrimSuffix(rest, ".filename"))
		if err != nil || strings.EqualFold(x.Get(fmt.Sprintf("scsi0:%d.present", unit)), "FALSE") {
			continue
		}
		top := resolveRef(vmx.Dir(), e.v)
		chain, capacity, err := l.readChain(top)
		if err != nil {
			l.logf("register %s: disk scsi0:%d: %v", vmx, unit, err)
			return nil, &types.FileNotFound{FileFault: types.FileFault{File: top.String()}}
		}
		info.disks = append(info.disks, &diskState{unit: int32(unit), chain: chain, capacity: capacity})
	}
	sort.Slice(info.disks, func(i, j int) bool { return info.disks[i].unit < info.disks[j].unit })
	return info, nil
}

// waitTask waits for a simulator task and returns its fault.
func waitTask(ctx *simulator.Context, ref types.ManagedObjectReference) (types.AnyType, types.BaseMethodFault) {
	t, ok := ctx.Map.Get(ref).(*simulator.Task)
	if !ok {
		return nil, &types.ManagedObjectNotFound{Obj: ref}
	}
	t.Wait()
	if t.Info.Error != nil {
		return nil, t.Info.Error.Fault
	}
	return t.Info.Result, nil
}

// runStock waits for the task a stock simulator method returned.
func runStock(ctx *simulator.Context, body soap.HasFault) (types.AnyType, types.BaseMethodFault) {
	if f := body.Fault(); f != nil {
		if mf, ok := f.Detail.Fault.(types.BaseMethodFault); ok {
			return nil, mf
		}
		return nil, &types.SystemError{Reason: f.String}
	}
	res := reflect.ValueOf(body).Elem().FieldByName("Res")
	if !res.IsValid() || res.IsNil() {
		return nil, nil
	}
	rv := res.Elem().FieldByName("Returnval")
	ref, ok := rv.Interface().(types.ManagedObjectReference)
	if !ok || ref.Type != "Task" {
		return nil, nil
	}
	return waitTask(ctx, ref)
}

// registerVM registers a .vmx the way a real host does: it reads the file.
func (l *Launcher) registerVM(ctx *simulator.Context, folder *simulator.Folder, vmx dsPath, name string,
	pool types.ManagedObjectReference, host *types.ManagedObjectReference) (*vmState, types.BaseMethodFault) {
	if vs := l.vmByVMX(vmx.String()); vs != nil {
		return nil, &types.AlreadyExists{Name: vmx.String()}
	}
	info, fault := l.parseVMXInfo(vmx)
	if fault != nil {
		return nil, fault
	}
	if name == "" {
		name = info.name
	}
	if name == "" {
		name = path.Base(vmx.Dir().Path)
	}
	home := l.mustLocal(vmx.Dir())
	stockName := name
	if _, err := os.Stat(filepath.Join(home, name+".nvram")); err != nil {
		if info.nvram != "" && fileExists(filepath.Join(home, info.nvram)) {
			stockName = strings.TrimSuffix(info.nvram, ".nvram")
		} else {
			_ = writeNVRAM(filepath.Join(home, name+".nvram"), info.seed)
		}
	}
	if !fileExists(filepath.Join(home, "vmware.log")) {
		_ = os.WriteFile(filepath.Join(home, "vmware.log"), []byte(logHeader(name)), 0o644)
	}
	body := folder.RegisterVMTask(ctx, &types.RegisterVM_Task{This: folder.Self, Path: vmx.String(), Name: stockName, Pool: &pool, Host: host})
	res, fault := runStock(ctx, body)
	if fault != nil {
		return nil, fault
	}
	ref := res.(types.ManagedObjectReference)
	vm := ctx.Map.Get(ref).(*simulator.VirtualMachine)

	spec := types.VirtualMachineConfigSpec{MemoryMB: info.memory, NumCPUs: info.cpus, GuestId: info.guestOS}
	sharing := types.VirtualSCSISharingNoSharing
	switch info.sharedBus {
	case "virtual":
		sharing = types.VirtualSCSISharingVirtualSharing
	case "physical":
		sharing = types.VirtualSCSISharingPhysicalSharing
	}
	ctrl := &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
		SharedBus: sharing, ScsiCtlrUnitNumber: 7,
		VirtualController: types.VirtualController{BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: -100}}}}
	spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: ctrl})
	for i, d := range info.disks {
		unit := d.unit
		disk := &types.VirtualDisk{
			VirtualDevice:   types.VirtualDevice{Key: int32(-200 - i), ControllerKey: -100, UnitNumber: &unit, Backing: l.diskBacking(d.chain)},
			CapacityInBytes: d.capacity, CapacityInKB: d.capacity / 1024,
		}
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk})
	}
	for i, n := range info.nics {
		// An adapter on a port group the datacenter lacks is left out (lab difference: a host keeps it,
		// unable to connect it).
		if l.networkByName(n.network) == nil {
			l.logf("register %s: ethernet%d: no network %q; adapter left out", vmx, i, n.network)
			continue
		}
		nic := &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
			VirtualDevice: types.VirtualDevice{Key: int32(-300 - i), Backing: &types.VirtualEthernetCardNetworkBackingInfo{
				VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: n.network}},
				// As a host reads ethernetN.startConnected: the adapter connects at power-on only when TRUE
				// (the default); the simulator applies StartConnected to Connected at each power-on.
				Connectable: &types.VirtualDeviceConnectInfo{StartConnected: n.startConnected, AllowGuestControl: true}},
			AddressType: string(types.VirtualEthernetCardMacTypeGenerated)}}}
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: nic})
	}
	if _, fault := runStock(ctx, (vm.ReconfigVMTask(ctx, &types.ReconfigVM_Task{This: ref, Spec: spec}))); fault != nil {
		l.unregisterStock(ctx, vm)
		return nil, fault
	}

	renameDevices(ctx, vm)

	hostName := ""
	if h, ok := ctx.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem); ok {
		hostName = h.Name
	}
	vs := &vmState{l: l, ref: ref, name: name, vmx: vmx, host: hostName, seed: info.seed, memoryMiB: info.memory, disks: info.disks,
		noTools: info.noTools, ignoreShutdown: info.ignoreShutdown}
	vs.rate.Store(info.rate)
	ctx.AutoUpdate(vm, func() {
		vm.Name = name
		vm.Config.Name = name
		vm.Summary.Config.Name = name
		vm.Config.Uuid = uuidString(mix(info.seed, 11), mix(info.seed, 12))
		vm.Summary.Config.Uuid = vm.Config.Uuid
		vm.Config.Template = info.template
		vm.Summary.Config.Template = info.template
		if info.vmState != "" && fileExists(filepath.Join(home, info.vmState)) {
			vm.Runtime.PowerState = types.VirtualMachinePowerStateSuspended
			vm.Summary.Runtime.PowerState = types.VirtualMachinePowerStateSuspended
		}
	})
	l.mu.Lock()
	l.vms[ref.Value] = vs
	l.mu.Unlock()
	l.syncIdentity(ctx, vm, vs)
	l.setGuest(ctx, vm, vs, guestOff)
	l.syncVM(ctx, vs)
	l.linkNetworks(ctx)
	return vs, nil
}

func (l *Launcher) unregisterStock(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	vm.UnregisterVM(ctx, &types.UnregisterVM{This: vm.Self})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// diskBacking builds a flat backing for the newest file with the parent chain, as a host reports it.
func (l *Launcher) diskBacking(chain []dsPath) *types.VirtualDiskFlatVer2BackingInfo {
	var parent *types.VirtualDiskFlatVer2BackingInfo
	for _, p := range chain {
		b := &types.VirtualDiskFlatVer2BackingInfo{
			VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: p.String()},
			DiskMode:                     string(types.VirtualDiskModePersistent),
			ThinProvisioned:              types.NewBool(false), EagerlyScrub: types.NewBool(false),
			Split: types.NewBool(false), WriteThrough: types.NewBool(false), DigestEnabled: types.NewBool(false),
			Uuid:   uuidString(hashString(p.Path), hashString(p.DS)),
			Parent: parent,
		}
		if ref, ok := l.dsRefs[p.DS]; ok {
			r := ref
			b.Datastore = &r
		}
		if local, ok := l.local(p); ok {
			if d, err := readDescriptor(local); err == nil {
				b.ContentId = fmt.Sprintf("%08x", d.CID)
				// Provisioning as the descriptor records it (thin.go writes it on conversion).
				b.ThinProvisioned = types.NewBool(d.ddb("thinProvisioned") == "1")
				b.EagerlyScrub = types.NewBool(d.ddb("quickmig.eagerlyScrub") == "1")
			}
		}
		parent = b
	}
	return parent
}

// syncVM pushes the launcher's file view of a VM into the simulator object: disk backings,
// file paths, layoutEx, datastores, consolidationNeeded. The caller's ctx must be usable for the VM lock.
func (l *Launcher) syncVM(ctx *simulator.Context, vs *vmState) {
	vm, ok := ctx.Map.Get(vs.ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	vs.mu.RLock()
	disks := make([]diskState, len(vs.disks))
	for i, d := range vs.disks {
		disks[i] = diskState{unit: d.unit, chain: append([]dsPath(nil), d.chain...), capacity: d.capacity, base: d.base}
	}
	snaps := append([]snapRec(nil), vs.snaps...)
	vmx := vs.vmx
	running := vs.running
	vs.mu.RUnlock()
	var locked []dsPath
	if running {
		for _, d := range disks {
			top := d.top()
			locked = append(locked, top)
			if ext, _, err := l.extentOf(top); err == nil {
				locked = append(locked, top.Dir().Join(filepath.Base(ext)))
			}
		}
	}
	vs.locked.Store(&locked)

	// layoutEx names disks by their VirtualDisk device key, as a real host does; the launcher's
	// disks are in device order.
	var diskKeys []int32
	for _, dev := range vm.Config.Hardware.Device {
		if disk, ok := dev.(*types.VirtualDisk); ok {
			diskKeys = append(diskKeys, disk.Key)
		}
	}
	files, diskLayout, snapLayout, dsSet := l.layout(vmx, disks, snaps, diskKeys)
	for _, ds := range l.isoDatastores(vmx) {
		dsSet[ds] = true
	}
	var dsList []types.ManagedObjectReference
	for name := range dsSet {
		if ref, ok := l.dsRefs[name]; ok {
			dsList = append(dsList, ref)
		}
	}
	sort.Slice(dsList, func(i, j int) bool { return dsList[i].Value < dsList[j].Value })
	oldDS := append([]types.ManagedObjectReference(nil), vm.Datastore...)

	need := false
	for _, d := range disks {
		if d.base+len(d.chain)-1 > len(snaps) {
			need = true
		}
	}
	ctx.AutoUpdate(vm, func() {
		devices := make([]types.BaseVirtualDevice, len(vm.Config.Hardware.Device))
		copy(devices, vm.Config.Hardware.Device)
		di := 0
		for i, dev := range devices {
			disk, ok := dev.(*types.VirtualDisk)
			if !ok {
				continue
			}
			if di < len(disks) {
				nd := *disk
				nd.Backing = l.diskBacking(disks[di].chain)
				nd.CapacityInBytes = disks[di].capacity
				nd.CapacityInKB = disks[di].capacity / 1024
				devices[i] = &nd
			}
			di++
		}
		vm.Config.Hardware.Device = devices
		dir := vmx.Dir().String()
		vm.Config.Files.VmPathName = vmx.String()
		vm.Config.Files.SnapshotDirectory = dir
		vm.Config.Files.SuspendDirectory = dir
		vm.Config.Files.LogDirectory = dir
		vm.Summary.Config.VmPathName = vmx.String()
		vm.LayoutEx = &types.VirtualMachineFileLayoutEx{File: files, Disk: diskLayout, Snapshot: snapLayout, Timestamp: time.Now()}
		vm.Datastore = dsList
		vm.Runtime.ConsolidationNeeded = need

		vm.Summary.Runtime.ConsolidationNeeded = need
		var committed int64
		for _, f := range files {
			committed += f.Size
		}
		vm.Summary.Storage = &types.VirtualMachineStorageSummary{Committed: committed, Timestamp: time.Now()}
	})
	// datastore.vm back references
	for _, ref := range oldDS {
		if _, keep := dsSet[l.dsName(ref)]; !keep {
			if ds, ok := ctx.Map.Get(ref).(*simulator.Datastore); ok {
				ctx.AutoUpdate(ds, func() { ds.Vm = removeRef(ds.Vm, vs.ref) })
			}
		}
	}
	for _, ref := range dsList {
		if ds, ok := ctx.Map.Get(ref).(*simulator.Datastore); ok {
			ctx.AutoUpdate(ds, func() {
				if !containsRef(ds.Vm, vs.ref) {
					ds.Vm = append(ds.Vm, vs.ref)
				}
			})
		}
	}
}

func (l *Launcher) dsName(ref types.ManagedObjectReference) string {
	for n, r := range l.dsRefs {
		if r == ref {
			return n
		}
	}
	return ""
}

func removeRef(list []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	out := make([]types.ManagedObjectReference, 0, len(list))
	for _, r := range list {
		if r != ref {
			out = append(out, r)
		}
	}
	return out
}

func containsRef(list []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range list {
		if r == ref {
			return true
		}
	}
	return false
}

// layout lists a VM's real files: everything in its home folder plus the disk chains elsewhere.
func (l *Launcher) layout(vmx dsPath, disks []diskState, snaps []snapRec, diskKeys []int32) ([]types.VirtualMachineFileLayoutExFileInfo, []types.VirtualMachineFileLayoutExDiskLayout, []types.VirtualMachineFileLayoutExSnapshotLayout, map[string]bool) {
	var files []types.VirtualMachineFileLayoutExFileInfo
	keys := map[string]int32{}
	dsSet := map[string]bool{vmx.DS: true}
	add := func(p dsPath) int32 {
		if k, ok := keys[p.String()]; ok {
			return k
		}
		local, _ := l.local(p)
		fi, err := os.Stat(local)
		if err != nil {
			return -1
		}
		typ := fileType(path.Base(p.Path))
		if typ == "" {
			return -1
		}
		k := int32(len(files))
		keys[p.String()] = k
		files = append(files, types.VirtualMachineFileLayoutExFileInfo{
			Key: k, Name: p.String(), Type: typ, Size: fi.Size(), UniqueSize: fi.Size(), Accessible: types.NewBool(true),
		})
		dsSet[p.DS] = true
		return k
	}
	add(vmx)
	if entries, err := os.ReadDir(l.mustLocal(vmx.Dir())); err == nil {
		for _, e := range entries {
			if !e.IsDir() && !strings.HasSuffix(e.Name(), ".qvtmp") && !strings.HasSuffix(e.Name(), ".vmdk") {
				add(vmx.Dir().Join(e.Name()))
			}
		}
	}
	var diskLayout []types.VirtualMachineFileLayoutExDiskLayout
	for i, d := range disks {
		key := int32(2000 + i)
		if i < len(diskKeys) {
			key = diskKeys[i]
		}
		dl := types.VirtualMachineFileLayoutExDiskLayout{Key: key}
		for _, p := range d.chain {
			unit := types.VirtualMachineFileLayoutExDiskUnit{FileKey: []int32{add(p)}}
			if ext, _, err := l.extentOf(p); err == nil {
				unit.FileKey = append(unit.FileKey, add(p.Dir().Join(filepath.Base(ext))))
			}
			dl.Chain = append(dl.Chain, unit)
		}
		diskLayout = append(diskLayout, dl)
	}
	var snapLayout []types.VirtualMachineFileLayoutExSnapshotLayout
	for _, s := range snaps {
		sl := types.VirtualMachineFileLayoutExSnapshotLayout{Key: s.ref, DataKey: add(vmx.Dir().Join(s.vmsn)), MemoryKey: -1}
		for i, d := range diskLayout {
			// a disk added after this snapshot (base ≥ its level) is not part of it
			if n := s.level - disks[i].base; n > 0 && n <= len(d.Chain) {
				sl.Disk = append(sl.Disk, types.VirtualMachineFileLayoutExDiskLayout{Key: d.Key, Chain: d.Chain[:n]})
			}
		}
		snapLayout = append(snapLayout, sl)
	}
	return files, diskLayout, snapLayout, dsSet
}

func fileType(name string) string {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	switch ext {
	case ".vmx":
		return string(types.VirtualMachineFileLayoutExFileTypeConfig)
	case ".vmdk":
		if strings.HasSuffix(base, "-flat") || strings.HasSuffix(base, "-delta") {
			return string(types.VirtualMachineFileLayoutExFileTypeDiskExtent)
		}
		return string(types.VirtualMachineFileLayoutExFileTypeDiskDescriptor)
	case ".nvram":
		return string(types.VirtualMachineFileLayoutExFileTypeNvram)
	case ".log":
		return string(types.VirtualMachineFileLayoutExFileTypeLog)
	case ".vmsn":
		return string(types.VirtualMachineFileLayoutExFileTypeSnapshotData)
	case ".vmsd":
		return string(types.VirtualMachineFileLayoutExFileTypeSnapshotList)
	case ".vmss":
		return string(types.VirtualMachineFileLayoutExFileTypeSuspend)
	case ".vmxf":
		return string(types.VirtualMachineFileLayoutExFileTypeExtendedConfig)
	case ".vswp":
		return string(types.VirtualMachineFileLayoutExFileTypeSwap)
	}
	return ""
}

// renameDevices gives the SCSI controller, disks and NICs the keys and labels a real host reports:
// "SCSI controller N" key 1000+N, "Hard disk N" key 2000 + 16·bus + unit, "Network adapter N"
// key 4000+N-1 (vSphere API VirtualDevice.key; the labels are those of the vSphere Client).
func renameDevices(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	ctx.AutoUpdate(vm, func() {
		devices := vm.Config.Hardware.Device
		newKey := map[int32]int32{}
		bus := map[int32]int32{}
		for _, d := range devices {
			if c, ok := d.(types.BaseVirtualSCSIController); ok {
				sc := c.GetVirtualSCSIController()
				newKey[sc.Key] = 1000 + sc.BusNumber
				bus[sc.Key] = sc.BusNumber
			}
		}
		disks, nics := 0, 0
		for _, d := range devices {
			v := d.GetVirtualDevice()
			switch d.(type) {
			case *types.VirtualDisk:
				disks++
				unit := int32(0)
				if v.UnitNumber != nil {
					unit = *v.UnitNumber
				}
				newKey[v.Key] = 2000 + 16*bus[v.ControllerKey] + unit
			case types.BaseVirtualEthernetCard:
				nics++
				newKey[v.Key] = 4000 + int32(nics-1)
			}
		}
		disks, nics = 0, 0
		for _, d := range devices {
			v := d.GetVirtualDevice()
			if k, ok := newKey[v.Key]; ok {
				v.Key = k
			}
			if k, ok := newKey[v.ControllerKey]; ok {
				v.ControllerKey = k
			}
			label, summary := "", ""
			switch x := d.(type) {
			case types.BaseVirtualSCSIController:
				sc := x.GetVirtualSCSIController()
				for i, k := range sc.Device {
					if nk, ok := newKey[k]; ok {
						sc.Device[i] = nk
					}
				}
				label, summary = fmt.Sprintf("SCSI controller %d", sc.BusNumber), "VMware paravirtual SCSI"
				if v.ControllerKey == 0 {
					v.ControllerKey = 100 // on the PCI bus, as a host reports it
				}
			case *types.VirtualDisk:
				disks++
				label, summary = fmt.Sprintf("Hard disk %d", disks), fmt.Sprintf("%s KB", groupThousands(x.CapacityInKB))
			case types.BaseVirtualEthernetCard:
				nics++
				label, summary = fmt.Sprintf("Network adapter %d", nics), "VM Network"
				if b, ok := v.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
					summary = b.DeviceName
				}
			}
			if label != "" {
				v.DeviceInfo = &types.Description{Label: label, Summary: summary}
			}
		}
	})
}

// groupThousands writes 4194304 as "4,194,304", as the vSphere Client's device summaries do.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
